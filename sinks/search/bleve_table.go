package search

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// table holds, for every listing in a Bleve index, what filters, sorts and
// facets read, in memory. Bleve reads those from doc values one document
// at a time: about 20 ms per field per 100,000 matches on the 2-core
// machine, so the landing page (every item in stock, newest first, three
// facets) took a second. A pass over the table takes a few milliseconds.
// Bleve matches and scores text, and stores the documents.
type table struct {
	mu   sync.RWMutex
	rows []row
	at   map[string]int // item id -> index in rows
	// values are the category and brand values, which rows hold by their
	// index here: few values, many rows, and facets count in a slice.
	values  []string
	valueAt map[string]int32
}

// row is one listing as filters, sorts and facets see it.
type row struct {
	id       string
	version  int64
	category int32 // index in table.values
	brand    int32
	price    int64
	bucket   uint8 // index in PriceBuckets
	created  int64 // Unix nanoseconds, if hasCreated
	// hasCreated is false for a listing the catalog has not described.
	hasCreated bool
	inStock    bool
	listed     bool
}

func newTable() *table {
	// Value 0 is "": no category or brand.
	return &table{at: map[string]int{}, values: []string{""}, valueAt: map[string]int32{"": 0}}
}

// rowFrom builds the row of a document: as document() makes it, or as
// Bleve's doc values give it back (numbers as float64). The caller holds
// the write lock.
func (t *table) rowFrom(id string, doc map[string]any) row {
	r := row{id: id, version: toInt64(doc["version"]), category: t.value(doc[categoryField]), brand: t.value(doc[brandField]),
		price: toInt64(doc[priceField]), inStock: doc["in_stock"] == true, listed: doc["listed"] == true}
	r.bucket = uint8(priceBucket(r.price))
	if s, ok := doc["created_at"].(string); ok {
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			r.created, r.hasCreated = ts.UnixNano(), true
		}
	}
	return r
}

// value is the index of a keyword value in t.values, added if new.
func (t *table) value(v any) int32 {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case bool:
		// Bleve decodes a one-letter doc value T or F as a boolean,
		// whatever the field.
		s = map[bool]string{true: "T", false: "F"}[v]
	}
	if i, ok := t.valueAt[s]; ok {
		return i
	}
	t.valueAt[s] = int32(len(t.values))
	t.values = append(t.values, s)
	return int32(len(t.values) - 1)
}

func toInt64(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return 0
}

// put adds or replaces the rows of documents, by item id.
func (t *table) put(docs map[string]map[string]any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, doc := range docs {
		r := t.rowFrom(id, doc)
		if i, ok := t.at[r.id]; ok {
			t.rows[i] = r
			continue
		}
		t.at[r.id] = len(t.rows)
		t.rows = append(t.rows, r)
	}
}

// versions returns the version of each of ids the table holds.
func (t *table) versions(ids []string) map[string]int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	held := make(map[string]int64, len(ids))
	for _, id := range ids {
		if i, ok := t.at[id]; ok {
			held[id] = t.rows[i].version
		}
	}
	return held
}

// candidate is a row that matched the text, with its score.
type candidate struct {
	r     *row
	score float64
}

// page is a plan's answer from the table: the item ids of the page in
// order, with their scores.
type page struct {
	ids    []string
	scores []float64
	total  int64
	facets Facets
}

// query answers p from the rows that match: every row when p has no
// words, else those text reports (by item id, with the score). text runs
// under the table's read lock.
func (t *table) query(p plan, text func(match func(id string, score float64)) error) (page, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	keep := make([]func(*row) bool, len(p.filters))
	for i, f := range p.filters {
		keep[i] = t.test(f)
	}
	top := topN{n: p.from + p.size, cmp: p.compare}
	var pg page
	var cats, brands []int64
	prices := make([]int64, len(PriceBuckets)) // by row.bucket
	if p.facets {
		cats, brands = make([]int64, len(t.values)), make([]int64, len(t.values))
	}
	visit := func(r *row, score float64) {
		for _, k := range keep {
			if !k(r) {
				return
			}
		}
		pg.total++
		top.push(candidate{r, score})
		if p.facets {
			cats[r.category]++
			brands[r.brand]++
			prices[r.bucket]++
		}
	}

	if len(p.words) == 0 {
		for i := range t.rows {
			visit(&t.rows[i], 0)
		}
	} else {
		err := text(func(id string, score float64) {
			if i, ok := t.at[id]; ok {
				visit(&t.rows[i], score)
			}
		})
		if err != nil {
			return page{}, err
		}
	}
	for _, c := range top.sorted()[min(p.from, len(top.h)):] {
		pg.ids = append(pg.ids, c.r.id)
		pg.scores = append(pg.scores, c.score)
	}
	if p.facets {
		byKey := map[string]int64{}
		for i, b := range PriceBuckets {
			byKey[b.Key] = prices[i]
		}
		pg.facets = Facets{Category: t.topValues(cats), Brand: t.topValues(brands), Price: newPriceFacet(byKey)}
	}
	return pg, nil
}

// test compiles a filter for the rows. The caller holds the read lock.
func (t *table) test(f filter) func(*row) bool {
	switch f.field {
	case "listed":
		want := f.value.(bool)
		return func(r *row) bool { return r.listed == want }
	case "in_stock":
		want := f.value.(bool)
		return func(r *row) bool { return r.inStock == want }
	case categoryField, brandField:
		want, ok := t.valueAt[f.value.(string)]
		if !ok {
			return func(*row) bool { return false }
		}
		if f.field == categoryField {
			return func(r *row) bool { return r.category == want }
		}
		return func(r *row) bool { return r.brand == want }
	case priceField:
		lo, hi := f.gte, f.lte
		return func(r *row) bool { return (lo == nil || r.price >= *lo) && (hi == nil || r.price <= *hi) }
	}
	panic("search: no filter on " + f.field) // plans filter the fields above only
}

// compare orders candidates as p sorts them. A row without created_at
// comes last either way, as Elasticsearch's missing: _last.
func (p plan) compare(a, b candidate) int {
	for _, k := range p.sort {
		var c int
		switch k.field {
		case scoreField:
			c = cmp.Compare(a.score, b.score)
		case priceField:
			c = cmp.Compare(a.r.price, b.r.price)
		case "created_at":
			if !a.r.hasCreated || !b.r.hasCreated {
				if c := boolCompare(!a.r.hasCreated, !b.r.hasCreated); c != 0 {
					return c // missing last
				}
				continue
			}
			c = cmp.Compare(a.r.created, b.r.created)
		case "item_id":
			c = strings.Compare(a.r.id, b.r.id)
		default:
			panic("search: no sort by " + k.field)
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// boolCompare orders false before true.
func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// topN keeps the first n candidates in cmp order: a heap whose root is the
// last of them, so a page costs n log n, not a sort of every match.
type topN struct {
	n   int
	cmp func(a, b candidate) int
	h   []candidate
}

func (t *topN) push(c candidate) {
	switch {
	case len(t.h) < t.n:
		t.h = append(t.h, c)
		t.up(len(t.h) - 1)
	case t.n > 0 && t.cmp(c, t.h[0]) < 0:
		t.h[0] = c
		t.down(0)
	}
}

// later reports whether h[i] sorts after h[j]: the heap's order.
func (t *topN) later(i, j int) bool { return t.cmp(t.h[i], t.h[j]) > 0 }

func (t *topN) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !t.later(i, parent) {
			return
		}
		t.h[i], t.h[parent] = t.h[parent], t.h[i]
		i = parent
	}
}

func (t *topN) down(i int) {
	for {
		first := i
		for _, child := range []int{2*i + 1, 2*i + 2} {
			if child < len(t.h) && t.later(child, first) {
				first = child
			}
		}
		if first == i {
			return
		}
		t.h[i], t.h[first] = t.h[first], t.h[i]
		i = first
	}
}

func (t *topN) sorted() []candidate {
	slices.SortFunc(t.h, t.cmp)
	return t.h
}

// topValues are the FacetSize most frequent values of counts (by value
// index; "" left out), ties in byte order, as Elasticsearch's terms
// aggregation orders them.
func (t *table) topValues(counts []int64) []FacetValue {
	vals := []FacetValue{}
	for i, n := range counts[1:] {
		if n > 0 {
			vals = append(vals, FacetValue{Value: t.values[i+1], Count: n})
		}
	}
	slices.SortFunc(vals, func(a, b FacetValue) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
	})
	return vals[:min(len(vals), FacetSize)]
}

// priceBucket is the index of the PriceBuckets range holding cents.
func priceBucket(cents int64) int {
	for i, b := range PriceBuckets {
		if b.ToCents == nil || cents < *b.ToCents {
			return i
		}
	}
	panic("search: the last price bucket has no upper bound")
}
