package search

import (
	"context"
	"errors"
	"math"
	"math/bits"

	"github.com/blevesearch/bleve/v2/mapping"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	bleveq "github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// bleveMatch is the text of a plan as a Bleve query: every word must match.
func bleveMatch(p plan, stats bm25Stats) bleveq.Query {
	words := make([]bleveq.Query, len(p.words))
	for i, w := range p.words {
		words[i] = bleveWord(w, p.fields, stats)
	}
	return bleveq.NewConjunctionQuery(words)
}

// bleveWord is a word's clauses in every field: the exact term scored by
// BM25, and a constant for a fuzzy or prefix match.
func bleveWord(w word, fields []textField, stats bm25Stats) bleveq.Query {
	var clauses sumQuery
	for _, f := range fields {
		clauses = append(clauses, bm25Query{field: f.name, term: w.term, boost: f.boost, stats: stats[f.name]})
		if !w.loose() {
			continue
		}
		var loose []bleveq.Query
		if w.fuzziness > 0 {
			fq := bleveq.NewFuzzyQuery(w.term)
			fq.SetFuzziness(w.fuzziness)
			fq.SetField(f.name)
			loose = append(loose, fq)
		}
		if w.prefix {
			pq := bleveq.NewPrefixQuery(w.term)
			pq.SetField(f.name)
			loose = append(loose, pq)
		}
		clauses = append(clauses, constQuery{q: bleveq.NewDisjunctionQuery(loose), score: f.boost * looseWeight})
	}
	return clauses
}

// Bleve scores like Lucene before version 7: a term's score is multiplied
// by its idf once more and by a query norm that depends on every term of
// the query; its BM25 takes the square root of a term's frequency and
// guesses the average field length from the number of distinct terms; and
// a disjunction multiplies the sum of its matching clauses by the share of
// clauses that matched. Each would rank differently from Elasticsearch.
// The three query types below score as Elasticsearch's term,
// constant_score and bool should do.

// bm25Query is a term in a field scored as Elasticsearch scores a term
// query: Lucene's BM25 (k1 1.2, b 0.75, field lengths rounded as Lucene
// stores them) times k1 + 1 (Elasticsearch's legacy BM25) times boost.
type bm25Query struct {
	field, term string
	boost       float64
	stats       fieldStats
}

func (q bm25Query) Searcher(ctx context.Context, i index.IndexReader, _ mapping.IndexMapping, o blevesearch.SearcherOptions) (blevesearch.Searcher, error) {
	scored := o.Score != "none"
	tfr, err := i.TermFieldReader(ctx, []byte(q.term), q.field, scored, scored, false)
	if err != nil {
		return nil, err
	}
	df, n := float64(tfr.Count()), float64(q.stats.docs)
	return &bm25Searcher{tfr: tfr, q: q, weight: q.boost * (bm25K1 + 1) * math.Log(1+(n-df+0.5)/(df+0.5))}, nil
}

// Lucene's BM25 parameters, Elasticsearch's defaults.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

type bm25Searcher struct {
	tfr    index.TermFieldReader
	q      bm25Query
	weight float64 // boost × (k1 + 1) × idf
	tfd    index.TermFieldDoc
}

func (s *bm25Searcher) Next(ctx *blevesearch.SearchContext) (*blevesearch.DocumentMatch, error) {
	return s.match(ctx)(s.tfr.Next(s.tfd.Reset()))
}

func (s *bm25Searcher) Advance(ctx *blevesearch.SearchContext, id index.IndexInternalID) (*blevesearch.DocumentMatch, error) {
	return s.match(ctx)(s.tfr.Advance(id, s.tfd.Reset()))
}

// match turns a posting into a scored match.
func (s *bm25Searcher) match(ctx *blevesearch.SearchContext) func(*index.TermFieldDoc, error) (*blevesearch.DocumentMatch, error) {
	return func(tfd *index.TermFieldDoc, err error) (*blevesearch.DocumentMatch, error) {
		if err != nil || tfd == nil {
			return nil, err
		}
		d := ctx.DocumentMatchPool.Get()
		d.IndexInternalID = index.NewIndexInternalIDFrom(d.IndexInternalID, tfd.ID)
		if tfd.Norm > 0 {
			// Bleve's norm is 1/√length.
			length := luceneLength(int(math.Round(1 / (tfd.Norm * tfd.Norm))))
			tf := float64(tfd.Freq)
			d.Score = s.weight * tf / (tf + bm25K1*(1-bm25B+bm25B*float64(length)/s.q.stats.avgLen))
		}
		return d, nil
	}
}

func (s *bm25Searcher) Close() error               { return s.tfr.Close() }
func (s *bm25Searcher) Weight() float64            { return 1 }
func (s *bm25Searcher) SetQueryNorm(float64)       {}
func (s *bm25Searcher) Count() uint64              { return s.tfr.Count() }
func (s *bm25Searcher) Min() int                   { return 0 }
func (s *bm25Searcher) Size() int                  { return s.tfr.Size() }
func (s *bm25Searcher) DocumentMatchPoolSize() int { return 1 }

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

// constQuery scores every match of q with score, as an Elasticsearch
// constant_score query.
type constQuery struct {
	q     bleveq.Query
	score float64
}

func (q constQuery) Searcher(ctx context.Context, i index.IndexReader, m mapping.IndexMapping, o blevesearch.SearcherOptions) (blevesearch.Searcher, error) {
	// Unscored, Bleve merges the postings of a prefix's or a typo's many
	// terms into one bitmap instead of walking a heap of term searchers.
	o.Score = "none"
	s, err := q.q.Searcher(ctx, i, m, o)
	if err != nil {
		return nil, err
	}
	return &rescored{Searcher: s, score: func(float64) float64 { return q.score }}, nil
}

// rescored is a searcher whose matches score score(the child's score),
// whatever query norm its parents set.
type rescored struct {
	blevesearch.Searcher
	score func(float64) float64
}

func (r *rescored) Next(ctx *blevesearch.SearchContext) (*blevesearch.DocumentMatch, error) {
	return r.apply(r.Searcher.Next(ctx))
}

func (r *rescored) Advance(ctx *blevesearch.SearchContext, id index.IndexInternalID) (*blevesearch.DocumentMatch, error) {
	return r.apply(r.Searcher.Advance(ctx, id))
}

func (r *rescored) SetQueryNorm(float64) {}

func (r *rescored) apply(d *blevesearch.DocumentMatch, err error) (*blevesearch.DocumentMatch, error) {
	if d != nil {
		d.Score = r.score(d.Score)
	}
	return d, err
}

// sumQuery matches what any clause matches and scores the sum of the
// clauses that match, as an Elasticsearch bool query's should clauses.
type sumQuery []bleveq.Query

func (q sumQuery) Searcher(ctx context.Context, i index.IndexReader, m mapping.IndexMapping, o blevesearch.SearcherOptions) (blevesearch.Searcher, error) {
	s := &sumSearcher{}
	for _, c := range q {
		cs, err := c.Searcher(ctx, i, m, o)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.children = append(s.children, cs)
	}
	s.curr = make([]*blevesearch.DocumentMatch, len(s.children))
	return s, nil
}

// sumSearcher walks its children in document order together.
type sumSearcher struct {
	children []blevesearch.Searcher
	// curr is each child's current match; once started, nil means the
	// child is exhausted.
	curr    []*blevesearch.DocumentMatch
	started bool
	low     index.IndexInternalID
}

func (s *sumSearcher) Next(ctx *blevesearch.SearchContext) (*blevesearch.DocumentMatch, error) {
	if !s.started {
		s.started = true
		for i, c := range s.children {
			d, err := c.Next(ctx)
			if err != nil {
				return nil, err
			}
			s.curr[i] = d
		}
	}
	return s.emit(ctx)
}

func (s *sumSearcher) Advance(ctx *blevesearch.SearchContext, id index.IndexInternalID) (*blevesearch.DocumentMatch, error) {
	for i, c := range s.children {
		d := s.curr[i]
		if s.started && (d == nil || d.IndexInternalID.Compare(id) >= 0) {
			continue // exhausted, or there already
		}
		ctx.DocumentMatchPool.Put(d)
		d, err := c.Advance(ctx, id)
		if err != nil {
			return nil, err
		}
		s.curr[i] = d
	}
	s.started = true
	return s.emit(ctx)
}

// emit returns the lowest document a child is on, scored with the sum of
// the children on it, and moves those children on.
func (s *sumSearcher) emit(ctx *blevesearch.SearchContext) (*blevesearch.DocumentMatch, error) {
	var low *blevesearch.DocumentMatch
	for _, d := range s.curr {
		if d != nil && (low == nil || d.IndexInternalID.Compare(low.IndexInternalID) < 0) {
			low = d
		}
	}
	if low == nil {
		return nil, nil
	}
	// A copy: the pool reuses the ID of a match put back.
	s.low = append(s.low[:0], low.IndexInternalID...)
	var rv *blevesearch.DocumentMatch
	var sum float64
	for i, d := range s.curr {
		if d == nil || !d.IndexInternalID.Equals(s.low) {
			continue
		}
		sum += d.Score
		if rv == nil {
			rv = d
		} else {
			rv.FieldTermLocations = blevesearch.MergeFieldTermLocations(rv.FieldTermLocations, []*blevesearch.DocumentMatch{d})
			ctx.DocumentMatchPool.Put(d)
		}
		next, err := s.children[i].Next(ctx)
		if err != nil {
			return nil, err
		}
		s.curr[i] = next
	}
	rv.Score = sum
	return rv, nil
}

func (s *sumSearcher) Close() error {
	var errs []error
	for _, c := range s.children {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func (s *sumSearcher) Weight() float64 {
	var w float64
	for _, c := range s.children {
		w += c.Weight()
	}
	return w
}

func (s *sumSearcher) SetQueryNorm(n float64) {
	for _, c := range s.children {
		c.SetQueryNorm(n)
	}
}

func (s *sumSearcher) Count() uint64 {
	var n uint64
	for _, c := range s.children {
		n += c.Count()
	}
	return n
}

func (s *sumSearcher) Min() int { return 0 }

func (s *sumSearcher) Size() int {
	n := 0
	for _, c := range s.children {
		n += c.Size()
	}
	return n
}

func (s *sumSearcher) DocumentMatchPoolSize() int {
	n := len(s.children)
	for _, c := range s.children {
		n += c.DocumentMatchPoolSize()
	}
	return n
}

// eachMatch hands every match of q to the table, by row when the segment's
// map knows it, and none to Bleve's collector, which would sort them and
// read their doc values.
type eachMatch struct {
	q    bleveq.Query
	rows *segmentRows
	m    *matches
}

func (q eachMatch) Searcher(ctx context.Context, i index.IndexReader, m mapping.IndexMapping, o blevesearch.SearcherOptions) (blevesearch.Searcher, error) {
	s, err := q.q.Searcher(ctx, i, m, o)
	if err != nil {
		return nil, err
	}
	return &eachMatchSearcher{Searcher: s, ctx: ctx, r: i, row: q.rows.resolver(i), m: q.m}, nil
}

type eachMatchSearcher struct {
	blevesearch.Searcher
	ctx context.Context
	r   index.IndexReader
	row func(index.IndexInternalID) int
	m   *matches
}

// Next drains the child and reports no match.
func (s *eachMatchSearcher) Next(sctx *blevesearch.SearchContext) (*blevesearch.DocumentMatch, error) {
	for n := 1; ; n++ {
		if n%1024 == 0 && s.ctx.Err() != nil {
			return nil, s.ctx.Err() // the collector checks only between matches it gets
		}
		d, err := s.Searcher.Next(sctx)
		if err != nil || d == nil {
			return nil, err
		}
		if i := s.row(d.IndexInternalID); i != noRow {
			s.m.row(i, d.Score)
		} else if id, err := s.r.ExternalID(d.IndexInternalID); err == nil {
			s.m.id(id, d.Score)
		} else {
			return nil, err
		}
		sctx.DocumentMatchPool.Put(d)
	}
}

// Advance is Next: nothing advances past a searcher that reports nothing.
func (s *eachMatchSearcher) Advance(sctx *blevesearch.SearchContext, _ index.IndexInternalID) (*blevesearch.DocumentMatch, error) {
	return s.Next(sctx)
}
