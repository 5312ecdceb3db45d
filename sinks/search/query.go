package search

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"

	"github.com/shopstream/shopstream/topics"
)

// Query is one product search. Page and Size have no implicit defaults:
// the caller fills DefaultSize and page 1 for parameters it was not given.
type Query struct {
	// Text is what the user typed. Every word must match the title or the
	// description, allowing typos (DefaultFuzziness); the last word also
	// matches as a prefix ("sony brav" finds "Sony Bravia"). Empty: all
	// listed items.
	Text string
	// Category and Brand, when set, match exactly (case-sensitive), as
	// the facet values give them.
	Category, Brand string
	// MinPriceCents and MaxPriceCents bound price_cents, both inclusive.
	MinPriceCents, MaxPriceCents *int64
	// InStock nil or true finds only items in stock; false finds every
	// listed item, in stock or not.
	InStock *bool
	// Sort is one of the Sort* constants; "" is SortRelevance.
	Sort string
	// Page counts from 1; Size is 1 to MaxSize, and Page*Size at most
	// MaxResultWindow.
	Page, Size int
}

// The sort orders. Every order breaks ties by item_id, so a page is
// always the same page.
const (
	// SortRelevance ranks by score; without Text it is SortNewest.
	SortRelevance = "relevance"
	SortPrice     = "price"  // cheapest first
	SortPriceDesc = "-price" // dearest first
	SortNewest    = "newest" // by created_at, latest first
)

// Limits of a Query.
const (
	DefaultSize = 20
	MaxSize     = 100
	// MaxResultWindow bounds Page*Size: deep pages cost both engines
	// the whole window (Elasticsearch's index.max_result_window).
	MaxResultWindow = 10_000
	// MaxWords bounds the words of Text and of a Suggest prefix: each
	// is a fuzzy query over two fields.
	MaxWords = 10
	// MaxTextLength bounds Text and a Suggest prefix, in characters.
	MaxTextLength = 256
	// FacetSize is how many category and brand values a Result gives:
	// the most frequent, then in byte order.
	FacetSize = 20
	// MaxSuggestions caps Suggest's n.
	MaxSuggestions = 20
)

// QueryError is a query no engine should run: the API answers 400.
type QueryError struct {
	Field  string // the Query field or Suggest argument
	Reason string
}

func (e *QueryError) Error() string {
	return "search: bad query: " + e.Field + ": " + e.Reason
}

// Result is one page of a search.
type Result struct {
	// Total counts every match, not only this page.
	Total  int64
	Hits   []Hit
	Facets Facets
}

// Hit is one listing found.
type Hit struct {
	Item topics.Listing
	// Score is the relevance score when sorting by relevance, else 0.
	// Engines score on different scales: compare only within a Result.
	Score float64
}

// Facets count the matches by value. Every filter of the query applies,
// its own included: with Category set, Category holds that one value.
type Facets struct {
	Category []FacetValue
	Brand    []FacetValue
	// Price has every bucket of PriceBuckets, in order, empty ones too.
	Price []PriceBucket
}

// FacetValue is one value of a field and how many matches have it.
type FacetValue struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// PriceBucket counts the matches with FromCents <= price_cents < ToCents;
// nil means unbounded. Prices of every currency count alike.
type PriceBucket struct {
	Key       string `json:"key"`
	FromCents *int64 `json:"from_cents,omitempty"`
	ToCents   *int64 `json:"to_cents,omitempty"`
	Count     int64  `json:"count"`
}

// PriceBuckets are the price facet's ranges, in major units.
var PriceBuckets = priceBuckets(25, 50, 100, 250, 500, 1000)

func priceBuckets(bounds ...int64) []PriceBucket {
	cents := func(major int64) *int64 { c := major * 100; return &c }
	out := []PriceBucket{{Key: fmt.Sprintf("<%d", bounds[0]), ToCents: cents(bounds[0])}}
	for i := 1; i < len(bounds); i++ {
		out = append(out, PriceBucket{Key: fmt.Sprintf("%d-%d", bounds[i-1], bounds[i]), FromCents: cents(bounds[i-1]), ToCents: cents(bounds[i])})
	}
	return append(out, PriceBucket{Key: fmt.Sprintf(">=%d", bounds[len(bounds)-1]), FromCents: cents(bounds[len(bounds)-1])})
}

// plan is a search in engine-neutral terms; each adapter translates it
// into its own query. Scoring follows Elasticsearch's bool query: a word
// scores the sum of its clauses that match, a search the sum of its words.
type plan struct {
	// words must all match, each in one of fields at least.
	words  []word
	fields []textField
	// filters must all match and do not score.
	filters []filter
	sort    []sortKey
	from    int
	size    int
	facets  bool
}

// scored reports whether the plan sorts by score.
func (p plan) scored() bool { return len(p.sort) > 0 && p.sort[0].field == scoreField }

// word is one analyzed word of the text. In each field it scores BM25 ×
// the field's boost when it is there exactly, plus looseWeight × the
// boost, a constant, when it is there within fuzziness edits or, for a
// prefix word, as a prefix: an exact word outranks a typo, and a title
// match a description match.
type word struct {
	term      string
	fuzziness int
	prefix    bool
}

// loose reports whether the word has a fuzzy or prefix clause.
func (w word) loose() bool { return w.fuzziness > 0 || w.prefix }

type textField struct {
	name  string
	boost float64
}

// looseWeight is the share of a field's boost a fuzzy or prefix match
// scores.
const looseWeight = 0.5

var (
	searchFields  = []textField{{"title", 3}, {"description", 1}}
	suggestFields = searchFields[:1]
)

// filter is an exact value (string or bool) when value is set, else an
// inclusive range of an integer field.
type filter struct {
	field    string
	value    any
	gte, lte *int64
}

// scoreField is the sort key of relevance.
const scoreField = "_score"

type sortKey struct {
	field string // scoreField or a field of itemFields
	desc  bool
}

// Facet and filter fields.
const (
	categoryField = "category"
	brandField    = "brand"
	priceField    = "price_cents"
)

// termFacets are the fields Facets counts values of.
var termFacets = []string{categoryField, brandField}

// textAnalyzer splits text as both engines' text fields do.
var textAnalyzer = func() analysis.Analyzer {
	a := bleveItemsMapping().AnalyzerNamed(bleveText)
	if a == nil {
		panic("search: analyzer " + bleveText + " is not registered")
	}
	return a
}()

// DefaultFuzziness is the number of typos a word of n characters may have:
// Elasticsearch's fuzziness AUTO (0 up to 2 characters, 1 up to 5, else 2).
func DefaultFuzziness(n int) int {
	switch {
	case n <= 2:
		return 0
	case n <= 5:
		return 1
	default:
		return 2
	}
}

// analyze splits text into words, the last one a prefix.
func analyze(field, text string) ([]word, error) {
	if n := utf8.RuneCountInString(text); n > MaxTextLength {
		return nil, &QueryError{Field: field, Reason: fmt.Sprintf("%d characters; at most %d", n, MaxTextLength)}
	}
	tokens := textAnalyzer.Analyze([]byte(text))
	if len(tokens) > MaxWords {
		return nil, &QueryError{Field: field, Reason: fmt.Sprintf("%d words; at most %d", len(tokens), MaxWords)}
	}
	words := make([]word, len(tokens))
	for i, t := range tokens {
		term := string(t.Term)
		words[i] = word{term: term, fuzziness: DefaultFuzziness(utf8.RuneCountInString(term)), prefix: i == len(tokens)-1}
	}
	return words, nil
}

// listedFilter keeps listings the catalog has not described out of every
// search and suggestion.
var listedFilter = filter{field: "listed", value: true}

// plan validates q and translates it.
func (q Query) plan() (plan, error) {
	p := plan{fields: searchFields, filters: []filter{listedFilter}, facets: true}
	var err error
	if p.words, err = analyze("text", q.Text); err != nil {
		return plan{}, err
	}
	if q.InStock == nil || *q.InStock {
		p.filters = append(p.filters, filter{field: "in_stock", value: true})
	}
	if q.Category != "" {
		p.filters = append(p.filters, filter{field: categoryField, value: q.Category})
	}
	if q.Brand != "" {
		p.filters = append(p.filters, filter{field: brandField, value: q.Brand})
	}
	for _, b := range []struct {
		name string
		v    *int64
	}{{"min_price_cents", q.MinPriceCents}, {"max_price_cents", q.MaxPriceCents}} {
		if b.v != nil && *b.v < 0 {
			return plan{}, &QueryError{Field: b.name, Reason: fmt.Sprintf("%d is negative", *b.v)}
		}
	}
	if q.MinPriceCents != nil && q.MaxPriceCents != nil && *q.MinPriceCents > *q.MaxPriceCents {
		return plan{}, &QueryError{Field: "min_price_cents", Reason: fmt.Sprintf("%d is above max_price_cents %d", *q.MinPriceCents, *q.MaxPriceCents)}
	}
	if q.MinPriceCents != nil || q.MaxPriceCents != nil {
		p.filters = append(p.filters, filter{field: priceField, gte: q.MinPriceCents, lte: q.MaxPriceCents})
	}

	byID := sortKey{field: "item_id"}
	switch q.Sort {
	case "", SortRelevance:
		if len(p.words) > 0 {
			p.sort = []sortKey{{field: scoreField, desc: true}, byID}
		} else {
			p.sort = []sortKey{{field: "created_at", desc: true}, byID}
		}
	case SortPrice:
		p.sort = []sortKey{{field: priceField}, byID}
	case SortPriceDesc:
		p.sort = []sortKey{{field: priceField, desc: true}, byID}
	case SortNewest:
		p.sort = []sortKey{{field: "created_at", desc: true}, byID}
	default:
		return plan{}, &QueryError{Field: "sort", Reason: fmt.Sprintf("%q is not one of %s, %s, %s, %s", q.Sort, SortRelevance, SortPrice, SortPriceDesc, SortNewest)}
	}

	switch {
	case q.Size < 1 || q.Size > MaxSize:
		return plan{}, &QueryError{Field: "size", Reason: fmt.Sprintf("%d is not between 1 and %d", q.Size, MaxSize)}
	case q.Page < 1:
		return plan{}, &QueryError{Field: "page", Reason: fmt.Sprintf("%d; pages count from 1", q.Page)}
	case q.Page > MaxResultWindow/q.Size:
		return plan{}, &QueryError{Field: "page", Reason: fmt.Sprintf("page %d of size %d reaches past result %d; narrow the search instead", q.Page, q.Size, MaxResultWindow)}
	}
	p.from, p.size = (q.Page-1)*q.Size, q.Size
	return p, nil
}

// suggestWindow is how many titles Suggest reads per suggestion it
// returns, so that items sharing a title still leave n distinct ones.
const suggestWindow = 5

// suggestPlan validates Suggest's arguments and translates them: the
// words of prefix in titles of listed, in-stock items.
func suggestPlan(prefix string, n int) (plan, error) {
	if n < 1 {
		return plan{}, &QueryError{Field: "n", Reason: fmt.Sprintf("%d; ask for at least one suggestion", n)}
	}
	words, err := analyze("prefix", prefix)
	if err != nil {
		return plan{}, err
	}
	return plan{
		words:   words,
		fields:  suggestFields,
		filters: []filter{listedFilter, {field: "in_stock", value: true}},
		sort:    []sortKey{{field: scoreField, desc: true}, {field: "item_id"}},
		size:    min(n, MaxSuggestions) * suggestWindow,
	}, nil
}

// suggestions returns the first n distinct titles of hits, compared
// case-insensitively.
func suggestions(hits []Hit, n int) []string {
	n = min(n, MaxSuggestions)
	seen := map[string]bool{}
	out := []string{}
	for _, h := range hits {
		k := strings.ToLower(h.Item.Title)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, h.Item.Title)
		if len(out) == n {
			break
		}
	}
	return out
}

// newPriceFacet fills PriceBuckets with the counts by key.
func newPriceFacet(counts map[string]int64) []PriceBucket {
	out := make([]PriceBucket, len(PriceBuckets))
	for i, b := range PriceBuckets {
		b.Count = counts[b.Key]
		out[i] = b
	}
	return out
}

// runner runs a plan on one engine.
type runner func(ctx context.Context, p plan) (Result, error)

// search validates q and runs it.
func search(ctx context.Context, run runner, q Query) (Result, error) {
	p, err := q.plan()
	if err != nil {
		return Result{}, err
	}
	return run(ctx, p)
}

// suggest validates Suggest's arguments and runs them.
func suggest(ctx context.Context, run runner, prefix string, n int) ([]string, error) {
	p, err := suggestPlan(prefix, n)
	if err != nil {
		return nil, err
	}
	if len(p.words) == 0 {
		return []string{}, nil // nothing typed yet
	}
	res, err := run(ctx, p)
	if err != nil {
		return nil, err
	}
	return suggestions(res.Hits, n), nil
}
