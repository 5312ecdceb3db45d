package search

import (
	"context"
	"errors"
	"math"

	"github.com/blevesearch/bleve/v2/mapping"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	bleveq "github.com/blevesearch/bleve/v2/search/query"
	"github.com/blevesearch/bleve/v2/search/searcher"
	index "github.com/blevesearch/bleve_index_api"
)

// bleveMatch is the text of a plan as a Bleve query: every word must match.
func bleveMatch(p plan) bleveq.Query {
	words := make([]bleveq.Query, len(p.words))
	for i, w := range p.words {
		words[i] = bleveWord(w, p.fields)
	}
	return bleveq.NewConjunctionQuery(words)
}

// bleveWord is a word's clauses in every field: the exact term scored by
// BM25, and a constant for a fuzzy or prefix match.
func bleveWord(w word, fields []textField) bleveq.Query {
	var clauses sumQuery
	for _, f := range fields {
		clauses = append(clauses, bm25Query{field: f.name, term: w.term, boost: f.boost})
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
// the query, and a disjunction multiplies the sum of its matching clauses
// by the share of clauses that matched. Both would rank a word found in two
// fields, or a typo, differently from Elasticsearch. The three query types
// below score as Elasticsearch's term, constant_score and bool should do.

// bm25Query is a term in a field scored by BM25 × boost, as an
// Elasticsearch term query.
type bm25Query struct {
	field, term string
	boost       float64
}

func (q bm25Query) Searcher(ctx context.Context, i index.IndexReader, _ mapping.IndexMapping, o blevesearch.SearcherOptions) (blevesearch.Searcher, error) {
	s, err := searcher.NewTermSearcher(ctx, i, q.term, q.field, 1, o)
	if err != nil {
		return nil, err
	}
	// The term's weight is idf²; with the norm 1/idf its query weight is 1
	// and its score idf × k1 × tf / (tf + k1 × length norm), where Lucene
	// has (k1 + 1) for k1.
	if w := s.Weight(); w > 0 {
		s.SetQueryNorm(1 / math.Sqrt(w))
	}
	k1 := blevesearch.BM25_k1
	return &rescored{Searcher: s, score: func(score float64) float64 { return score * (k1 + 1) / k1 * q.boost }}, nil
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
