package search

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/bits"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	lev "github.com/blevesearch/vellum/levenshtein"
)

// Bleve's queries score like Lucene before version 7 (idf squared, a query
// norm, BM25 guessing field lengths, disjunctions scaled by the share of
// clauses that matched), and walk their matches one document at a time
// through a searcher per clause: two thirds of a search that matches a
// tenth of the catalog. matchText reads Bleve's postings itself instead,
// segment by segment, with bitmaps:
//
//   - a word's documents are the union of the postings of its term and of
//     its fuzzy and prefix expansions, in every field;
//   - the text's documents are the intersection of its words';
//   - each scores the sum over words, in order, of the sum over fields, in
//     order, of the term's BM25 if the field has it plus looseWeight × the
//     field's boost if the field has any expansion: Elasticsearch's bool
//     query of term and constant_score clauses (see plan and word).
//
// The expansions are the terms Bleve's own fuzzy and prefix queries
// expand to.

// Lucene's BM25 parameters, Elasticsearch's defaults.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// clause is one word in one field.
type clause struct {
	field string
	term  []byte
	// fuzzy matches the terms within the word's fuzziness, nil for none;
	// prefix is the word if its prefixes count, else nil.
	fuzzy  segment.Automaton
	prefix []byte
	// weight is boost × (k1 + 1) × idf of the term, looseScore what an
	// expansion match adds, avgLen the field's average length in words.
	weight, looseScore, avgLen float64
}

// Levenshtein automata for fuzziness 1 and 2, transpositions counting as
// one edit: what Bleve's fuzzy query builds.
var levBuilders = sync.OnceValues(func() ([2]*lev.LevenshteinAutomatonBuilder, error) {
	var b [2]*lev.LevenshteinAutomatonBuilder
	for i := range b {
		var err error
		if b[i], err = lev.NewLevenshteinAutomatonBuilder(uint8(i+1), true); err != nil {
			return b, err
		}
	}
	return b, nil
})

// textClauses are the clauses of p's words, each word's in field order.
// The idf counts the term's live documents in every segment.
func textClauses(is *scorch.IndexSnapshot, p plan, stats bm25Stats) ([][]clause, error) {
	words := make([][]clause, len(p.words))
	for i, w := range p.words {
		var fuzzy segment.Automaton
		if w.fuzziness > 0 {
			lb, err := levBuilders()
			if err != nil {
				return nil, err
			}
			if fuzzy, err = lb[w.fuzziness-1].BuildDfa(w.term, uint8(w.fuzziness)); err != nil {
				return nil, fmt.Errorf("fuzzy automaton of %q: %w", w.term, err)
			}
		}
		for _, f := range p.fields {
			c := clause{field: f.name, term: []byte(w.term), fuzzy: fuzzy, looseScore: f.boost * looseWeight, avgLen: stats[f.name].avgLen}
			if w.prefix {
				c.prefix = c.term
			}
			df, err := docFreq(is, f.name, c.term)
			if err != nil {
				return nil, err
			}
			n := float64(stats[f.name].docs)
			c.weight = f.boost * (bm25K1 + 1) * math.Log(1+(n-df+0.5)/(df+0.5))
			words[i] = append(words[i], c)
		}
	}
	return words, nil
}

// docFreq counts the live documents that have term in field.
func docFreq(is *scorch.IndexSnapshot, field string, term []byte) (float64, error) {
	var n uint64
	for _, ss := range is.Segments() {
		pl, err := postings(ss, field, term)
		if err != nil {
			return 0, err
		}
		if pl != nil {
			n += pl.Count()
		}
	}
	return float64(n), nil
}

// postings is the live postings of term in field in one segment, nil if
// the segment has no such field.
func postings(ss *scorch.SegmentSnapshot, field string, term []byte) (segment.PostingsList, error) {
	dict, err := ss.Segment().Dictionary(field)
	if err != nil || dict == nil {
		return nil, err
	}
	return dict.PostingsList(term, ss.Deleted(), nil)
}

// loose returns the documents of one segment whose field has a term the
// clause's automaton accepts or its prefix starts.
func (c clause) loose(ss *scorch.SegmentSnapshot) (*roaring.Bitmap, error) {
	bm := roaring.New()
	dict, err := ss.Segment().Dictionary(c.field)
	if err != nil || dict == nil {
		return bm, err
	}
	add := func(it segment.DictionaryIterator) error {
		for {
			e, err := it.Next()
			if err != nil || e == nil {
				return err
			}
			pl, err := dict.PostingsList([]byte(e.Term), ss.Deleted(), nil)
			if err != nil {
				return err
			}
			addPostings(bm, pl)
		}
	}
	if c.fuzzy != nil {
		if err := add(dict.AutomatonIterator(c.fuzzy, nil, nil)); err != nil {
			return nil, err
		}
	}
	if c.prefix != nil {
		if err := add(dict.AutomatonIterator(nil, c.prefix, prefixEnd(c.prefix))); err != nil {
			return nil, err
		}
	}
	return bm, nil
}

// prefixEnd is the first key after every key prefix starts, nil if none.
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// scoreScratch holds a segment's per-document scores between searches.
var scoreScratch = sync.Pool{New: func() any { return new([]float64) }}

// matchText hands m every listing that matches p's words, with its score.
func (b *bleveIndex) matchText(ctx context.Context, p plan, m *matches) error {
	ix, err := b.idx.Advanced()
	if err != nil {
		return err
	}
	r, err := ix.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	is, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return fmt.Errorf("a %T is not a scorch index snapshot", r)
	}
	words, err := textClauses(is, p, m.stats)
	if err != nil {
		return err
	}
	return matchSegments(ctx, is, words, b.rows.maps(is.Segments()), m)
}

// matchSegments hands m every document of the snapshot that matches all
// of words, with its score, a segment at a time. rows gives each segment's
// map from document numbers to table rows, nil where there is none yet.
func matchSegments(ctx context.Context, is *scorch.IndexSnapshot, words [][]clause, rows [][]int32, m *matches) error {
	total, word := scoreScratch.Get().(*[]float64), scoreScratch.Get().(*[]float64)
	defer scoreScratch.Put(total)
	defer scoreScratch.Put(word)
	for si, ss := range is.Segments() {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(ss.Segment().Count())
		*total, *word = grow(*total, n), grow(*word, n)
		found, err := matchSegment(ss, words, *total, *word)
		if err != nil {
			return err
		}
		it := found.Iterator()
		for k := 0; it.HasNext(); k++ {
			if k%4096 == 4095 && ctx.Err() != nil {
				return ctx.Err()
			}
			num := it.Next()
			if rows[si] != nil && rows[si][num] != noRow {
				m.row(int(rows[si][num]), (*total)[num])
				continue
			}
			id, err := ss.Segment().DocID(uint64(num))
			if err != nil {
				return err
			}
			m.id(string(id), (*total)[num])
		}
	}
	return nil
}

// matchSegment returns the documents of one segment that match every word,
// their scores in total. It finds them with bitmaps first, then scores
// only them. word is scratch for one word's scores; both come zeroed and
// have a slot per document.
func matchSegment(ss *scorch.SegmentSnapshot, words [][]clause, total, word []float64) (*roaring.Bitmap, error) {
	// A clause's postings in the segment.
	type clausePostings struct {
		exact segment.PostingsIterator // with frequencies and norms
		loose *roaring.Bitmap
	}
	found, seen := roaring.New(), make([][]clausePostings, len(words))
	for wi, clauses := range words {
		matched := roaring.New()
		for _, c := range clauses {
			var p clausePostings
			var err error
			if p.exact, err = c.exact(ss, matched); err != nil {
				return nil, err
			}
			if c.fuzzy != nil || c.prefix != nil {
				if p.loose, err = c.loose(ss); err != nil {
					return nil, err
				}
				matched.Or(p.loose)
			}
			seen[wi] = append(seen[wi], p)
		}
		if wi == 0 {
			found = matched
		} else {
			found.And(matched)
		}
		if found.IsEmpty() {
			return found, nil
		}
	}
	n := found.GetCardinality()
	for wi, clauses := range words {
		spilled := false // word has scores outside found
		for ci, c := range clauses {
			p := seen[wi][ci]
			if p.exact != nil {
				all, err := c.scoreExact(p.exact, found, n, word)
				if err != nil {
					return nil, err
				}
				spilled = spilled || all
			}
			if p.loose != nil {
				p.loose.And(found)
				for it := p.loose.Iterator(); it.HasNext(); {
					word[it.Next()] += c.looseScore
				}
			}
		}
		for it := found.Iterator(); it.HasNext(); {
			num := it.Next()
			total[num] += word[num]
			word[num] = 0
		}
		if spilled {
			clear(word)
		}
	}
	return found, nil
}

// exact adds the documents of one segment whose field has the term to
// matched and returns an iterator over their postings, nil if none.
func (c clause) exact(ss *scorch.SegmentSnapshot, matched *roaring.Bitmap) (segment.PostingsIterator, error) {
	pl, err := postings(ss, c.field, c.term)
	if err != nil || pl == nil {
		return nil, err
	}
	it := pl.Iterator(true, true, false, nil)
	if addBitmap(matched, it) {
		return it, nil
	}
	addPostings(matched, pl) // another kind of segment: iterate twice
	return pl.Iterator(true, true, false, nil), nil
}

// scoreExact adds the term's BM25 to word for the documents of found (n
// of them) that have it: advancing to each when they are few among the
// postings; else for every posting, reporting true.
func (c clause) scoreExact(it segment.PostingsIterator, found *roaring.Bitmap, n uint64, word []float64) (all bool, err error) {
	if o, ok := it.(segment.OptimizablePostingsIterator); ok && o.ActualBitmap() != nil && n*8 < o.ActualBitmap().GetCardinality() {
		for f := found.Iterator(); f.HasNext(); {
			num := uint64(f.Next())
			p, err := it.Advance(num)
			if err != nil || p == nil {
				return false, err
			}
			if p.Number() == num {
				word[num] += c.bm25(p)
			}
		}
		return false, nil
	}
	for {
		p, err := it.Next()
		if err != nil || p == nil {
			return true, err
		}
		word[p.Number()] += c.bm25(p)
	}
}

// bm25 is the term's score in one document as Elasticsearch scores a term
// query: Lucene's BM25 of the frequency and the field length as Lucene
// stores it, times k1 + 1 (Elasticsearch's legacy BM25) times the boost.
// Bleve's norm is 1/√length.
func (c clause) bm25(p segment.Posting) float64 {
	norm := p.Norm()
	if norm <= 0 {
		return 0
	}
	length := luceneLength(int(math.Round(1 / (norm * norm))))
	tf := float64(p.Frequency())
	return c.weight * tf / (tf + bm25K1*(1-bm25B+bm25B*float64(length)/c.avgLen))
}

// addPostings adds the documents of pl to bm.
func addPostings(bm *roaring.Bitmap, pl segment.PostingsList) {
	if pl == nil {
		return
	}
	it := pl.Iterator(false, false, false, nil)
	if addBitmap(bm, it) {
		return
	}
	for p, err := it.Next(); err == nil && p != nil; p, err = it.Next() {
		bm.Add(uint32(p.Number()))
	}
}

// addBitmap adds the documents it will give to bm and reports true if the
// segment keeps them as a bitmap, leaving it to be iterated; else false,
// and bm unchanged.
func addBitmap(bm *roaring.Bitmap, it segment.PostingsIterator) bool {
	o, ok := it.(segment.OptimizablePostingsIterator)
	if !ok {
		return false
	}
	if num, ok := o.DocNum1Hit(); ok {
		bm.Add(uint32(num))
	} else if actual := o.ActualBitmap(); actual != nil {
		bm.Or(actual)
	}
	return true
}

// grow returns s with n zeroed slots.
func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// luceneLength is a field length as Lucene keeps it, in one byte: exact
// below 24, else with its four most significant bits (SmallFloat's
// intToByte4, then byte4ToInt).
func luceneLength(n int) int {
	const free = 24 // values stored as themselves
	if n < free {
		return n
	}
	v := n - free
	shift := bits.Len(uint(v)) - 4
	if shift < 0 {
		return n
	}
	return free + (v>>shift)<<shift
}
