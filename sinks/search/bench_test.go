package search

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/topics"
)

// benchItems is the catalog size of the API's latency target.
const benchItems = 100_000

// BenchmarkSearch indexes benchItems generated listings, then runs a mixed
// query set through Store.Search and reports the latency percentiles of
// single queries (one at a time), and prints the indexing rate, each
// query's percentiles and, for Bleve, the heap and disk the index takes.
//
//	go test ./sinks/search/ -run '^$' -bench Search -benchtime 20x
func BenchmarkSearch(b *testing.B) {
	listings := generate(benchItems)
	// Each engine is indexed once, and closed when the benchmark ends: a
	// sub-benchmark body runs again for every b.N the framework tries.
	parent := b
	var bl, es adapter
	b.Run("bleve", func(b *testing.B) {
		if bl == nil {
			dir, err := os.MkdirTemp("", "search-bench-")
			if err != nil {
				b.Fatal(err)
			}
			s, err := Open(context.Background(), config.SearchStore{Driver: "bleve", Index: "items"}, dir)
			if err != nil {
				b.Fatal(err)
			}
			indexAll(b, s.(adapter), listings)
			// Open again: what a restart costs, and the heap of an
			// index at rest (the table, Bleve's caches).
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			s = nil
			before, start := heapInUse(), time.Now()
			if s, err = Open(context.Background(), config.SearchStore{Driver: "bleve", Index: "items"}, dir); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			bl = s.(adapter)
			heap, disk := int64(heapInUse())-int64(before), dirSize(filepath.Join(dir, "search"))
			fmt.Fprintf(os.Stderr, "bleve: reopened in %s; heap %.1f MiB; index on disk %.1f MiB\n", took.Round(time.Millisecond), float64(heap)/(1<<20), float64(disk)/(1<<20))
			parent.Cleanup(func() { bl.Close(); os.RemoveAll(dir) })
		}
		measure(b, bl)
	})
	b.Run("elasticsearch", func(b *testing.B) {
		if es == nil {
			url := realserver.Addr(b, realserver.Elasticsearch)
			s, err := Open(context.Background(), config.SearchStore{Driver: "elasticsearch", URLs: []string{url}, Index: realserver.ScratchIndex(parent, url)}, "", Replicas(0))
			if err != nil {
				b.Fatal(err)
			}
			es = s.(adapter)
			indexAll(b, es, listings)
			parent.Cleanup(func() { es.Close() })
		}
		measure(b, es)
	})
}

// indexAll writes listings in bulks of 5,000, as the sink would, and says
// how fast.
func indexAll(b *testing.B, s adapter, listings []topics.Listing) {
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for part := range slices.Chunk(listings, 5000) {
		if _, err := s.Index(ctx, part); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.refresh(ctx); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	fmt.Fprintf(os.Stderr, "%s: indexed %d listings in %s (%.0f/s)\n", b.Name(), len(listings), took.Round(time.Millisecond), float64(len(listings))/took.Seconds())
}

// measure runs the query mix b.N times, one query at a time, and reports
// the percentiles of its latencies.
func measure(b *testing.B, s adapter) {
	ctx := context.Background()
	queries := benchQueries()
	// Warm up: caches, Bleve's segment maps (built in the background on
	// first use), and a check that each query runs.
	for range 3 {
		for _, q := range queries {
			if _, err := s.Search(ctx, q); err != nil {
				b.Fatalf("%+v: %v", q, err)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Wall time, and the CPU time of the calling thread: the machine
	// runs other servers, and Bleve searches on the calling goroutine.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var wall, cpu []time.Duration
	byQuery := make([][2][]time.Duration, len(queries))
	b.ResetTimer()
	for range b.N {
		for i, q := range queries {
			t, c := time.Now(), threadCPU()
			if _, err := s.Search(ctx, q); err != nil {
				b.Fatal(err)
			}
			w, c := time.Since(t), threadCPU()-c
			wall, cpu = append(wall, w), append(cpu, c)
			byQuery[i][0], byQuery[i][1] = append(byQuery[i][0], w), append(byQuery[i][1], c)
		}
	}
	b.StopTimer()
	slices.Sort(wall)
	slices.Sort(cpu)
	b.ReportMetric(ms(percentile(wall, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(wall, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(cpu, 50)), "cpu-p50-ms")
	b.ReportMetric(ms(percentile(cpu, 99)), "cpu-p99-ms")
	lines := []string{"   wall p50    p99 |  cpu p50    p99 | query"}
	for i, q := range queries {
		w, c := byQuery[i][0], byQuery[i][1]
		slices.Sort(w)
		slices.Sort(c)
		lines = append(lines, fmt.Sprintf("%11.2f %6.2f | %8.2f %6.2f | %s", ms(percentile(w, 50)), ms(percentile(w, 99)), ms(percentile(c, 50)), ms(percentile(c, 99)), describe(q)))
	}
	// To stderr: a benchmark's log is cut after a few lines.
	fmt.Fprintf(os.Stderr, "%s, %d runs of the mix, ms by query:\n%s\n", b.Name(), b.N, strings.Join(lines, "\n"))
}

// describe shows the parts of q that are set.
func describe(q Query) string {
	var parts []string
	for _, p := range []struct{ name, v string }{{"text", q.Text}, {"category", q.Category}, {"brand", q.Brand}, {"sort", q.Sort}} {
		if p.v != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", p.name, p.v))
		}
	}
	if q.MinPriceCents != nil || q.MaxPriceCents != nil {
		parts = append(parts, "price-range")
	}
	if q.InStock != nil {
		parts = append(parts, fmt.Sprintf("in_stock=%v", *q.InStock))
	}
	if len(parts) == 0 {
		return "(everything in stock)"
	}
	return strings.Join(parts, " ")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC() // and what finalizers freed
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// benchQueries is the mixed set: text, typos, prefixes, filters, facets
// and every sort, as a search page asks them (page 1, 20 hits).
func benchQueries() []Query {
	qs := []Query{
		{},
		{Sort: SortPrice},
		{Category: "Electronics"},
		{Category: "Home", Sort: SortPriceDesc},
		{Brand: "Sony", MinPriceCents: ptr[int64](10000), MaxPriceCents: ptr[int64](50000)},
		{InStock: ptr(false), Sort: SortNewest},
		{Text: "wireless"},
		{Text: "sony headphones"},
		{Text: "wireless noise cancelling headphones"},
		{Text: "hedphones"},     // typo
		{Text: "stainles stel"}, // typos
		{Text: "sony hea"},      // prefix
		{Text: "b"},             // a one-letter prefix: every word in b
		{Text: "pro", Sort: SortPrice},
		{Text: "speaker", Category: "Electronics", Sort: SortNewest},
		{Text: "cotton shirt", MaxPriceCents: ptr[int64](5000)},
		{Text: "compact portable", Brand: "Anker", InStock: ptr(false)},
		{Text: "zzzzqqqq"},
	}
	for i := range qs {
		qs[i].Page, qs[i].Size = 1, DefaultSize
	}
	return qs
}

// generate returns n listings from a fixed seed: titles of brand, up to
// three adjectives, noun and model; descriptions of 8 to 16 words, some
// of them title words; prices from
// 1 to 3000 in major units, spread over every facet bucket; one in ten
// out of stock.
func generate(n int) []topics.Listing {
	r := rand.New(rand.NewPCG(1, 2))
	cats := []struct {
		name  string
		nouns []string
	}{
		{"Electronics", []string{"Headphones", "Speaker", "Television", "Charger", "Cable", "Keyboard", "Mouse", "Monitor", "Camera", "Earbuds", "Router", "Tablet"}},
		{"Home", []string{"Blender", "Kettle", "Toaster", "Skillet", "Vacuum", "Lamp", "Pillow", "Blanket", "Knife", "Mixer"}},
		{"Books", []string{"Novel", "Cookbook", "Guide", "Handbook", "Atlas", "Biography", "Anthology"}},
		{"Sports", []string{"Shoes", "Mat", "Bike", "Racket", "Ball", "Bottle", "Watch", "Jacket"}},
		{"Clothing", []string{"Shirt", "Jeans", "Dress", "Sweater", "Socks", "Hat", "Scarf"}},
		{"Toys", []string{"Bricks", "Puzzle", "Doll", "Car", "Robot", "Game"}},
	}
	brands := []string{"Sony", "Samsung", "Anker", "Logi", "Bose", "LG", "Philips", "Braun", "OXO", "Lodge", "Dyson", "Nike",
		"Adidas", "Lego", "Mattel", "Hasbro", "Penguin", "Vintage", "Garmin", "Apple", "Acme", "Northwind", "Contoso", "Fabrikam"}
	adjs := []string{"Wireless", "Portable", "Compact", "Pro", "Ultra", "Classic", "Smart", "Stainless", "Steel", "Cotton",
		"Noise", "Cancelling", "Premium", "Mini", "Max", "Lite", "Deluxe", "Organic", "Bluetooth", "Ergonomic"}
	words := []string{"durable", "lightweight", "design", "everyday", "use", "quality", "battery", "lasts", "hours", "easy",
		"clean", "perfect", "gift", "home", "travel", "office", "comfortable", "fit", "sound", "fast", "charging", "steel",
		"stainless", "soft", "warm", "kids", "family", "outdoor", "indoor", "water", "resistant", "premium", "materials",
		"wireless", "cotton", "speaker", "headphones", "sony", "compact", "portable", "shirt", "pro"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]topics.Listing, n)
	for i := range out {
		c := cats[r.IntN(len(cats))]
		// Titles of 3 to 6 words, so BM25's length norm ranks them.
		title := []string{brands[r.IntN(len(brands))]}
		for range r.IntN(4) {
			title = append(title, adjs[r.IntN(len(adjs))])
		}
		title = append(title, c.nouns[r.IntN(len(c.nouns))], fmt.Sprintf("%c%d", 'A'+r.IntN(26), r.IntN(1000)))
		desc := make([]string, 8+r.IntN(9))
		for j := range desc {
			desc[j] = words[r.IntN(len(words))]
		}
		var onHand int64
		if r.IntN(10) > 0 {
			onHand = 1 + r.Int64N(100)
		}
		created := base.Add(time.Duration(r.IntN(365*24*3600)) * time.Second)
		out[i] = topics.Listing{
			ItemID: fmt.Sprintf("item-%06d", i), Version: 1, CatalogVersion: 1, InventoryVersion: 1,
			SupplierID: fmt.Sprintf("sup-%d", r.IntN(50)), Title: strings.Join(title, " "), Description: strings.Join(desc, " "),
			Category: c.name, Brand: title[0],
			// 1 to 2980 in major units, even on a log scale.
			PriceCents: int64(100 * math.Exp(r.Float64()*8)), Currency: "USD", OnHand: onHand,
			CreatedAt: created, UpdatedAt: created,
		}
	}
	return out
}

// TestContractAtScale indexes 20,000 generated listings into both engines
// and asks both the benchmark's queries: totals, facets, pages and scores
// must be the same; items whose scores are within 0.01% of each other may
// trade places (Lucene rounds parts of BM25 to float32). It needs the real
// server, so it is a real-<server> subtest like the rest of the contract.
func TestContractAtScale(t *testing.T) {
	t.Run("real-elasticsearch", enginesAgreeAtScale)
}

func enginesAgreeAtScale(t *testing.T) {
	url := realserver.Addr(t, realserver.Elasticsearch)
	if testing.Short() {
		t.Skip("indexes 20,000 listings twice")
	}
	ctx := context.Background()
	listings := generate(20_000)
	es, err := Open(ctx, config.SearchStore{Driver: "elasticsearch", URLs: []string{url}, Index: realserver.ScratchIndex(t, url)}, "", Replicas(0))
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	bl := openT(t, config.SearchStore{Driver: "bleve", Index: "items"}, t.TempDir())
	for _, s := range []adapter{es.(adapter), bl} {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for part := range slices.Chunk(listings, 5000) {
			if _, err := s.Index(ctx, part); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range append(benchQueries(), Query{Text: "b", Page: 1, Size: DefaultSize}, Query{Text: "sony", Page: 3, Size: 50}) {
		want, got := searchT(t, es, q), searchT(t, bl, q)
		if got.Total != want.Total || !reflect.DeepEqual(got.Facets, want.Facets) {
			t.Errorf("%s: bleve total %d facets %+v\nelasticsearch total %d facets %+v", describe(q), got.Total, got.Facets, want.Total, want.Facets)
			continue
		}
		if p, _ := q.plan(); !p.scored() {
			if !slices.Equal(hitIDs(got), hitIDs(want)) {
				t.Errorf("%s: bleve %v\nelasticsearch %v", describe(q), hitIDs(got), hitIDs(want))
			}
			continue
		}
		if !sameRanking(got.Hits, want.Hits) {
			t.Errorf("%s: bleve %v\nelasticsearch %v", describe(q), scored(got.Hits), scored(want.Hits))
		}
	}
}

// sameRanking reports whether two relevance pages hold the same items in
// the same order with the same scores, where items whose scores are
// within 0.01% may trade places.
func sameRanking(a, b []Hit) bool {
	if len(a) != len(b) {
		return false
	}
	same := func(x, y float64) bool { return math.Abs(x-y) <= 1e-4*math.Max(x, y) }
	near := func(hits []Hit, i, j int) bool { return same(hits[i].Score, hits[j].Score) }
	pos := map[string]int{}
	for i, h := range b {
		pos[h.Item.ItemID] = i
	}
	for i, h := range a {
		j, ok := pos[h.Item.ItemID]
		if !ok {
			// The last places of a page may hold different members of a
			// near-tie that continues on the next page.
			if !near(a, i, len(a)-1) {
				return false
			}
			continue
		}
		if i != j && !near(a, i, j) && !near(b, i, j) || !same(h.Score, b[j].Score) {
			return false
		}
	}
	return true
}

func scored(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%s=%.3f", h.Item.ItemID, h.Score))
	}
	return out
}
