package search

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
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
// single queries (one at a time), the indexing rate and, for Bleve, the
// heap and disk the index takes.
//
//	go test ./sinks/search/ -run '^$' -bench Search -benchtime 20x
func BenchmarkSearch(b *testing.B) {
	listings := generate(benchItems)
	b.Run("bleve", func(b *testing.B) {
		dir := b.TempDir()
		before := heapInUse()
		s, err := Open(context.Background(), config.SearchStore{Driver: "bleve", Index: "items"}, dir)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchStore(b, s.(adapter), listings)
		b.ReportMetric(float64(heapInUse()-before)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(dirSize(filepath.Join(dir, "search")))/(1<<20), "disk-MiB")
	})
	b.Run("elasticsearch", func(b *testing.B) {
		url := realserver.Addr(b, realserver.Elasticsearch)
		s, err := Open(context.Background(), config.SearchStore{Driver: "elasticsearch", URLs: []string{url}, Index: realserver.ScratchIndex(b, url)}, "", Replicas(0))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchStore(b, s.(adapter), listings)
	})
}

func benchStore(b *testing.B, s adapter, listings []topics.Listing) {
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
	b.ReportMetric(float64(len(listings))/took.Seconds(), "indexed/s")

	queries := benchQueries()
	for _, q := range queries { // warm caches, and check each query runs
		if _, err := s.Search(ctx, q); err != nil {
			b.Fatalf("%+v: %v", q, err)
		}
	}
	var lat []time.Duration
	byQuery := make([][]time.Duration, len(queries))
	b.ResetTimer()
	for range b.N {
		for i, q := range queries {
			t := time.Now()
			if _, err := s.Search(ctx, q); err != nil {
				b.Fatal(err)
			}
			d := time.Since(t)
			lat = append(lat, d)
			byQuery[i] = append(byQuery[i], d)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	var lines []string
	for i, q := range queries {
		slices.Sort(byQuery[i])
		lines = append(lines, fmt.Sprintf("%7.2f %7.2f  %s", ms(percentile(byQuery[i], 50)), ms(percentile(byQuery[i], 99)), describe(q)))
	}
	// To stderr: a benchmark's log is cut after a few lines.
	fmt.Fprintf(os.Stderr, "%s: indexed %d listings in %s; p50 p99 ms by query:\n%s\n", b.Name(), len(listings), took.Round(time.Millisecond), strings.Join(lines, "\n"))
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

// generate returns n listings from a fixed seed: titles of brand,
// adjective, noun and model; descriptions of 8 to 16 words; prices from
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
		"stainless", "soft", "warm", "kids", "family", "outdoor", "indoor", "water", "resistant", "premium", "materials"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]topics.Listing, n)
	for i := range out {
		c := cats[r.IntN(len(cats))]
		title := fmt.Sprintf("%s %s %s %s %s%d", brands[r.IntN(len(brands))], adjs[r.IntN(len(adjs))], adjs[r.IntN(len(adjs))],
			c.nouns[r.IntN(len(c.nouns))], string(rune('A'+r.IntN(26))), r.IntN(1000))
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
			SupplierID: fmt.Sprintf("sup-%d", r.IntN(50)), Title: title, Description: strings.Join(desc, " "),
			Category: c.name, Brand: strings.Fields(title)[0],
			// 1 to 2980 in major units, even on a log scale.
			PriceCents: int64(100 * math.Exp(r.Float64()*8)), Currency: "USD", OnHand: onHand,
			CreatedAt: created, UpdatedAt: created,
		}
	}
	return out
}
