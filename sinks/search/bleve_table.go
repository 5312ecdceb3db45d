package search

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2/index/scorch"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
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
	// words and docs count, per text field of searchFields, the words of
	// every row and the rows with any: Elasticsearch's sumTotalTermFreq
	// and docCount, which BM25 needs and Bleve does not keep.
	words, docs [2]int64
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
	// lengths are the words in each field of searchFields.
	lengths [2]int32
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
	if s, ok := doc[bleveLengthsField].(string); ok {
		fmt.Sscan(s, &r.lengths[0], &r.lengths[1])
	}
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

// idDoc is a document and its item id.
type idDoc struct {
	id  string
	doc map[string]any
}

// put adds or replaces the rows of documents.
func (t *table) put(docs []idDoc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range docs {
		r := t.rowFrom(d.id, d.doc)
		t.count(r, 1)
		if i, ok := t.at[r.id]; ok {
			t.count(t.rows[i], -1)
			t.rows[i] = r
			continue
		}
		t.at[r.id] = len(t.rows)
		t.rows = append(t.rows, r)
	}
}

// count adds (sign 1) or takes away (-1) the words of a row.
func (t *table) count(r row, sign int64) {
	for f, n := range r.lengths {
		t.words[f] += sign * int64(n)
		if n > 0 {
			t.docs[f] += sign
		}
	}
}

// textLengths is the value of bleveLengthsField for a document: the words
// of each field of searchFields, as the index counts them.
func textLengths(doc map[string]any) string {
	var n [2]int
	for f, tf := range searchFields {
		text, _ := doc[tf.name].(string)
		n[f] = len(textAnalyzer.Analyze([]byte(text)))
	}
	return fmt.Sprintf("%d %d", n[0], n[1])
}

// bm25Stats are the index statistics of BM25 by text field name.
type bm25Stats map[string]fieldStats

type fieldStats struct {
	docs   int64   // documents with the field
	avgLen float64 // words per such document
}

// stats returns the statistics of the text fields. The caller holds the
// read lock.
func (t *table) stats() bm25Stats {
	st := bm25Stats{}
	for f, tf := range searchFields {
		fs := fieldStats{docs: t.docs[f]}
		if fs.docs > 0 {
			fs.avgLen = float64(t.words[f]) / float64(fs.docs)
		}
		st[tf.name] = fs
	}
	return st
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

// matches takes the matches of a text search, by row or by item id.
type matches struct {
	t     *table
	stats bm25Stats // what BM25 scores by
	visit func(r *row, score float64)
}

func (m *matches) row(i int, score float64) { m.visit(&m.t.rows[i], score) }

func (m *matches) id(id string, score float64) {
	if i, ok := m.t.at[id]; ok {
		m.row(i, score)
	}
}

// query answers p from the rows that match: every row when p has no
// words, else those text hands to its matches. text runs under the
// table's read lock.
func (t *table) query(p plan, text func(*matches) error) (page, error) {
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
		if err := text(&matches{t: t, stats: t.stats(), visit: visit}); err != nil {
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

// segmentRows maps the document numbers of Bleve's segments to table
// rows. Matching a word yields document numbers; turning one into an item
// id reads the document's stored id, and the id into a row a map: two
// thirds of the cost of a word that matches a quarter of the catalog. A
// segment never changes once written, and rows keep their place, so each
// segment's map is built once, in the background, and dropped with the
// segment; until it is there, matches take the long way.
type segmentRows struct {
	t    *table
	mu   sync.Mutex
	segs map[segment.Segment][]int32 // nil while being built
}

// noRow marks a document number whose row the map does not know.
const noRow = -1

// resolver returns, for a reader of the index, the function from a match
// to its row index, or noRow when only the long way knows.
func (sr *segmentRows) resolver(r index.IndexReader) func(index.IndexInternalID) int {
	is, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return func(index.IndexInternalID) int { return noRow }
	}
	segs := is.Segments()
	offsets := make([]uint64, len(segs)) // global document number of each segment's first
	maps := make([][]int32, len(segs))
	live := map[segment.Segment]bool{}
	var next uint64
	sr.mu.Lock()
	for i, s := range segs {
		offsets[i], next = next, next+s.Segment().Count()
		seg := s.Segment()
		live[seg] = true
		m, known := sr.segs[seg]
		maps[i] = m
		if !known {
			sr.segs[seg] = nil
			seg.AddRef() // the build outlives this reader
			go sr.build(seg)
		}
	}
	for seg := range sr.segs {
		if !live[seg] {
			delete(sr.segs, seg) // merged away; a build in flight stores nothing
		}
	}
	sr.mu.Unlock()
	return func(id index.IndexInternalID) int {
		num := id.Value()
		i := sort.Search(len(offsets), func(i int) bool { return offsets[i] > num }) - 1
		if i < 0 || maps[i] == nil {
			return noRow
		}
		return int(maps[i][num-offsets[i]])
	}
}

func (sr *segmentRows) build(seg segment.Segment) {
	defer seg.DecRef()
	rows := make([]int32, seg.Count())
	ids := make([]string, 0, 1024)
	// The read lock a chunk at a time: a writer waiting on it would hold
	// up every search behind it.
	for from := 0; from < len(rows); from += cap(ids) {
		ids = ids[:0]
		for num := from; num < min(from+cap(ids), len(rows)); num++ {
			id, _ := seg.DocID(uint64(num)) // nil: no row, the long way
			ids = append(ids, string(id))
		}
		sr.t.mu.RLock()
		for k, id := range ids {
			rows[from+k] = noRow
			if i, ok := sr.t.at[id]; ok {
				rows[from+k] = int32(i)
			}
		}
		sr.t.mu.RUnlock()
	}
	sr.mu.Lock()
	if m, ok := sr.segs[seg]; ok && m == nil {
		sr.segs[seg] = rows
	}
	sr.mu.Unlock()
}
