package search

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"

	"github.com/shopstream/shopstream/topics"
)

// table holds, for every listing in a Bleve index, what filters, sorts and
// facets read, in memory. Bleve reads those from doc values one document
// at a time: about 20 ms per field per 100,000 matches on the 2-core
// machine, so the landing page (every item in stock, newest first, three
// facets) took a second. A pass over the table takes a few milliseconds.
// Bleve matches and scores text, and stores the documents.
type table struct {
	mu sync.RWMutex
	// rows and info hold each listing, at the same index.
	rows []row
	info []rowInfo
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

// row is one listing as filters, sorts and facets see it, packed: a text
// search visits the rows of its matches in no order, thousands of them,
// and reading a row from memory was most of a visit.
type row struct {
	price    int64
	created  int64 // Unix nanoseconds, if hasCreated
	category int32 // index in table.values
	brand    int32
	bucket   uint8 // index in PriceBuckets
	// hasCreated is false for a listing the catalog has not described.
	hasCreated bool
	inStock    bool
	listed     bool
}

// rowInfo is the rest of a listing's row, which writes, ties and pages
// read.
type rowInfo struct {
	id      string
	version int64
	// lengths are the words in each field of searchFields.
	lengths [2]int32
}

func newTable() *table {
	// Value 0 is "": no category or brand.
	return &table{at: map[string]int{}, values: []string{""}, valueAt: map[string]int32{"": 0}}
}

// rowFrom builds the row of a document: as document() makes it, or as
// Bleve's doc values give it back (numbers as float64, version and
// created_at only in bleveRowField but in older indexes). The caller holds
// the write lock.
func (t *table) rowFrom(id string, doc map[string]any) (row, rowInfo) {
	r := row{category: t.value(doc[categoryField]), brand: t.value(doc[brandField]),
		price: toInt64(doc[priceField]), inStock: doc["in_stock"] == true, listed: doc["listed"] == true}
	r.bucket = uint8(priceBucket(r.price))
	info := rowInfo{id: id, version: toInt64(doc["version"])}
	if s, ok := doc["created_at"].(string); ok {
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			r.created, r.hasCreated = ts.UnixNano(), true
		}
	}
	s, _ := doc[bleveRowField].(string)
	for i, f := range strings.Fields(s) {
		n, _ := strconv.ParseInt(f, 10, 64)
		switch {
		case i < len(info.lengths):
			info.lengths[i] = int32(n)
		case i == 2 && doc["version"] == nil:
			info.version = n
		case i == 3 && !r.hasCreated:
			r.created, r.hasCreated = n, true
		}
	}
	return r, info
}

// value is the index of a keyword value in t.values, added if new.
func (t *table) value(v any) int32 {
	s, _ := v.(string)
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
		r, info := t.rowFrom(d.id, d.doc)
		t.count(info, 1)
		if i, ok := t.at[d.id]; ok {
			t.count(t.info[i], -1)
			t.rows[i], t.info[i] = r, info
			continue
		}
		t.at[d.id] = len(t.rows)
		t.rows, t.info = append(t.rows, r), append(t.info, info)
	}
}

// count adds (sign 1) or takes away (-1) the words of a row.
func (t *table) count(r rowInfo, sign int64) {
	for f, n := range r.lengths {
		t.words[f] += sign * int64(n)
		if n > 0 {
			t.docs[f] += sign
		}
	}
}

// rowValue is the value of bleveRowField for the document of l: the words
// of each field of searchFields, as the index counts them, l's version
// and, if it has one, its created_at in Unix nanoseconds.
func rowValue(doc map[string]any, l topics.Listing) string {
	var b []byte
	for _, tf := range searchFields {
		text, _ := doc[tf.name].(string)
		b = strconv.AppendInt(b, int64(len(textAnalyzer.Analyze([]byte(text)))), 10)
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, l.Version, 10)
	if _, ok := doc["created_at"]; ok {
		b = strconv.AppendInt(append(b, ' '), l.CreatedAt.UnixNano(), 10)
	}
	return string(b)
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
			held[id] = t.info[i].version
		}
	}
	return held
}

// candidate is a row that matched, by its index, with its score.
type candidate struct {
	i     int
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
	visit func(i int, score float64)
}

func (m *matches) row(i int, score float64) { m.visit(i, score) }

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
	top := topN{n: p.from + p.size, cmp: func(a, b candidate) int { return t.compare(p, a, b) }}
	var pg page
	var cats, brands []int64
	prices := make([]int64, len(PriceBuckets)) // by row.bucket
	if p.facets {
		cats, brands = make([]int64, len(t.values)), make([]int64, len(t.values))
	}
	visit := func(i int, score float64) {
		r := &t.rows[i]
		for _, k := range keep {
			if !k(r) {
				return
			}
		}
		pg.total++
		top.push(candidate{i, score})
		if p.facets {
			cats[r.category]++
			brands[r.brand]++
			prices[r.bucket]++
		}
	}

	if len(p.words) == 0 {
		for i := range t.rows {
			visit(i, 0)
		}
	} else {
		if err := text(&matches{t: t, stats: t.stats(), visit: visit}); err != nil {
			return page{}, err
		}
	}
	for _, c := range top.sorted()[min(p.from, len(top.h)):] {
		pg.ids = append(pg.ids, t.info[c.i].id)
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
// comes last either way, as Elasticsearch's missing: _last. The caller
// holds the read lock.
func (t *table) compare(p plan, ca, cb candidate) int {
	a, b := &t.rows[ca.i], &t.rows[cb.i]
	for _, k := range p.sort {
		var c int
		switch k.field {
		case scoreField:
			c = cmp.Compare(ca.score, cb.score)
		case priceField:
			c = cmp.Compare(a.price, b.price)
		case "created_at":
			if !a.hasCreated || !b.hasCreated {
				if c := boolCompare(!a.hasCreated, !b.hasCreated); c != 0 {
					return c // missing last
				}
				continue
			}
			c = cmp.Compare(a.created, b.created)
		case "item_id":
			c = strings.Compare(t.info[ca.i].id, t.info[cb.i].id)
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

// maps returns each segment's map, nil for one not built yet, and starts
// building the missing ones.
func (sr *segmentRows) maps(segs []*scorch.SegmentSnapshot) [][]int32 {
	out := make([][]int32, len(segs))
	live := map[segment.Segment]bool{}
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for i, s := range segs {
		seg := s.Segment()
		live[seg] = true
		m, known := sr.segs[seg]
		out[i] = m
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
	return out
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
