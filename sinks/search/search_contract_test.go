package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/topics"
)

// searchCase is one search both engines must answer alike.
type searchCase struct {
	name string
	q    Query
	// order is the expected order of a relevance sort; nil for field
	// sorts, whose order the model gives.
	order []string
	// scores, when set, are the expected scores of the hits in order:
	// Elasticsearch's, which Bleve computes the same way.
	scores []float64
}

func ptr[T any](v T) *T { return &v }

// all is a query for the whole first page of anything the catalog holds.
func all(q Query) Query {
	q.Page, q.Size = 1, MaxSize
	return q
}

var searchCases = []searchCase{
	{name: "everything-listed-in-stock-newest-first", q: all(Query{})},
	{name: "newest", q: all(Query{Sort: SortNewest})},
	{name: "price", q: all(Query{Sort: SortPrice})},
	{name: "price-descending", q: all(Query{Sort: SortPriceDesc})},
	{name: "out-of-stock-too", q: all(Query{InStock: ptr(false), Sort: SortPrice})},
	{name: "in-stock-explicitly", q: all(Query{InStock: ptr(true), Sort: SortPrice})},
	{name: "category", q: all(Query{Category: "Electronics", Sort: SortPriceDesc})},
	{name: "category-is-case-sensitive", q: all(Query{Category: "electronics"})},
	{name: "category-with-a-space-and-ampersand", q: all(Query{Category: "Home & Kitchen", InStock: ptr(false)})},
	{name: "brand", q: all(Query{Brand: "Sony", Sort: SortPrice})},
	{name: "category-and-brand", q: all(Query{Category: "Books", Brand: "O'Reilly", Sort: SortNewest})},
	// 2499 and 2500 sit on either side of the 25.00 bucket bound.
	{name: "price-range-inclusive", q: all(Query{MinPriceCents: ptr[int64](2499), MaxPriceCents: ptr[int64](5000), Sort: SortPrice})},
	{name: "price-at-least", q: all(Query{MinPriceCents: ptr[int64](100000), InStock: ptr(false), Sort: SortPrice})},
	{name: "price-at-most", q: all(Query{MaxPriceCents: ptr[int64](2500), Sort: SortPriceDesc})},
	{name: "price-exact", q: all(Query{MinPriceCents: ptr[int64](44999), MaxPriceCents: ptr[int64](44999)})},
	{name: "text-sorted-by-price", q: all(Query{Text: "wireless", Sort: SortPrice})},
	{name: "text-newest", q: all(Query{Text: "running", Sort: SortNewest})},
	{name: "nothing-matches", q: all(Query{Text: "zzxqv"}), order: []string{}},

	// Relevance. A title match outranks a description match (title^3);
	// among titles, the shorter one wins (BM25 length norm); the item id
	// breaks exact ties.
	{name: "title-over-description", q: all(Query{Text: "sony"}),
		order:  []string{"e02", "e01", "e05", "e12", "e06"},
		scores: []float64{11.0156, 7.4196, 7.4196, 7.4196, 2.9703}},
	// A typo matches by a constant score: Sony titles tie (item id
	// order), the title-and-description one first, the description-only
	// one last.
	{name: "typo", q: all(Query{Text: "sonny"}),
		order: []string{"e02", "e01", "e05", "e12", "e06"}},
	{name: "last-word-prefix", q: all(Query{Text: "bra"}),
		order: []string{"e01", "e02", "e13", "e07", "g01"}},
	{name: "prefix-completes-the-last-word", q: all(Query{Text: "sony brav"}),
		order: []string{"e02", "e01"}},
	{name: "every-word-must-match", q: all(Query{Text: "wireless headphones"}),
		order: []string{"e05", "e06"}},
	{name: "words-across-title-and-description", q: all(Query{Text: "go programming"}),
		order: []string{"b01", "b02"}},
	{name: "exact-description-over-title-prefix", q: all(Query{Text: "kitchen"}),
		order: []string{"e14", "h05"}},
	{name: "running-shoes", q: all(Query{Text: "running shoes"}),
		order: []string{"s02", "s01"}},
	{name: "no-stop-words", q: all(Query{Text: "the"}),
		order: []string{"b04", "b01", "b07", "t04", "e14", "t05", "e02", "e09", "b05"}},
	{name: "text-with-filters", q: all(Query{Text: "oled", InStock: ptr(false), MinPriceCents: ptr[int64](100000)}),
		order: []string{"e04", "e02"}},
	// Both words in the title and the description beat both in a longer
	// title.
	{name: "smart-tv", q: all(Query{Text: "smart tv"}), order: []string{"e03", "e01"}},
	// Equal scores (same field lengths) fall back to the item id.
	{name: "ties-in-item-id-order", q: all(Query{Text: "wireless", InStock: ptr(false)}),
		order: []string{"e09", "e05", "e10", "e11", "e06"}},
	{name: "and", q: all(Query{Text: "and"}),
		order: []string{"b01", "b08", "e08", "e13", "e07", "h02", "b07", "e01", "h03", "b05", "b02"}},
	// b03 (short title, short description) and b02 (shorter title, long
	// description) score within 0.1% of each other, alike on both
	// engines.
	{name: "near-tie", q: all(Query{Text: "go", InStock: ptr(false)}),
		order: []string{"b03", "b02", "b01", "h01", "e01"}},
	// Two typos in a long word; one in a short one.
	{name: "two-typos", q: all(Query{Text: "televison"}), order: []string{"e01", "e02"}},
	{name: "one-typo", q: all(Query{Text: "camra"}), order: []string{"e12"}},
	// An exact word in a description (BM25 2.9 + 0.5) outranks typos in
	// a title and a description (1.5 + 0.5): card, can.
	{name: "description-word-over-title-typo", q: all(Query{Text: "car", InStock: ptr(false)}),
		order:  []string{"t02", "t03", "g01", "h01", "e05"},
		scores: []float64{14.2350, 3.3654, 2, 2, 0.5}},
	{name: "prefix-in-both-fields", q: all(Query{Text: "noise cancel"}), order: []string{"e05", "e06"}},
	// A one-letter last word: prefix only, no typo allowed.
	{name: "one-letter", q: all(Query{Text: "c"}),
		order: []string{"e07", "b06", "e12", "g01", "h01", "t01", "e03", "h02", "t04", "t05", "e05", "e06", "e08", "e09", "h03", "h07", "s02", "s05", "t03"}},
	{name: "hyphenated-words", q: all(Query{Text: "usb-c cable"}), order: []string{"e07"}},
	// Three times cooker in the description: BM25 counts each.
	{name: "repeated-word", q: all(Query{Text: "electric cooker"}), order: []string{"h03"}, scores: []float64{8.0043}},
	{name: "case-and-punctuation-fold", q: all(Query{Text: "LOGI, Wireless!", InStock: ptr(false)}),
		order: []string{"e09", "e10"}},
}

// runSearchContract runs the search half of the contract on fresh indices
// of b's engine.
func runSearchContract(t *testing.T, b backend) {
	ctx := context.Background()
	listings := catalog()

	t.Run("catalog", func(t *testing.T) {
		s := freshStore(t, b)
		// Three batches, the last one first: the order of writes must not
		// matter.
		for _, part := range [][]topics.Listing{listings[30:], listings[:15], listings[15:30]} {
			indexT(t, s, part, IndexStats{Indexed: len(part)})
		}
		for _, l := range listings {
			got, ok, err := s.Get(ctx, l.ItemID)
			if err != nil || !ok || !reflect.DeepEqual(got, l) {
				t.Errorf("get %s: %v %v\n got %+v\nwant %+v", l.ItemID, ok, err, got, l)
			}
		}
		if _, ok, err := s.Get(ctx, "nope"); ok || err != nil {
			t.Errorf("get of an item never indexed: %v, %v", ok, err)
		}

		for _, c := range searchCases {
			t.Run(c.name, func(t *testing.T) { checkSearch(t, s, listings, c) })
		}

		t.Run("paging", func(t *testing.T) {
			for _, q := range []Query{{Sort: SortNewest}, {Sort: SortPrice, InStock: ptr(false)}, {Text: "sony"}} {
				whole := searchT(t, s, all(q))
				var pages []string
				for page := 1; ; page++ {
					q.Page, q.Size = page, 4
					res := searchT(t, s, q)
					if res.Total != whole.Total {
						t.Fatalf("%+v: total %d, on the whole %d", q, res.Total, whole.Total)
					}
					if len(res.Hits) == 0 {
						break
					}
					pages = append(pages, hitIDs(res)...)
				}
				if want := hitIDs(whole); !slices.Equal(pages, want) {
					t.Errorf("%+v: pages of 4 give\n%v\nthe whole\n%v", q, pages, want)
				}
			}
		})

		t.Run("suggest", func(t *testing.T) {
			for _, c := range []struct {
				prefix string
				n      int
				want   []string
			}{
				{"sony b", 5, []string{"Sony Bravia 65 OLED", `Sony Bravia 55" 4K TV`}},
				// A prefix and a typo score alike: ties, in item id order.
				{"son", 10, []string{`Sony Bravia 55" 4K TV`, "Sony Bravia 65 OLED", "Sony WH-1000XM5 Wireless Headphones", "Sony Alpha 7 IV Camera", "Sonos One Speaker"}},
				{"son", 2, []string{`Sony Bravia 55" 4K TV`, "Sony Bravia 65 OLED"}},
				{"runn", 10, []string{"Nike Pegasus 40 Running Shoes", "Adidas Ultraboost Running Shoes"}},
				// Only in the description; or only out of stock; or not listed.
				{"kernighan", 10, []string{}},
				{"keyboard", 10, []string{}},
				{"   ", 10, []string{}},
			} {
				got, err := s.Suggest(ctx, c.prefix, c.n)
				if err != nil || !slices.Equal(got, c.want) {
					t.Errorf("suggest %q %d: %q, %v; want %q", c.prefix, c.n, got, err, c.want)
				}
			}
			got, err := s.Suggest(ctx, "s", 1000)
			if err != nil || len(got) > MaxSuggestions {
				t.Errorf("suggest n=1000: %d, %v; want at most %d", len(got), err, MaxSuggestions)
			}
		})

		t.Run("bad-queries-are-rejected", func(t *testing.T) {
			for _, c := range []struct {
				q     Query
				field string
			}{
				{Query{Page: 1}, "size"},
				{Query{Page: 1, Size: -1}, "size"},
				{Query{Page: 1, Size: MaxSize + 1}, "size"},
				{Query{Size: 10}, "page"},
				{Query{Page: -2, Size: 10}, "page"},
				{Query{Page: MaxResultWindow/10 + 1, Size: 10}, "page"},
				{Query{Page: 1, Size: 10, Sort: "cheapest"}, "sort"},
				{Query{Page: 1, Size: 10, MinPriceCents: ptr[int64](5000), MaxPriceCents: ptr[int64](4999)}, "min_price_cents"},
				{Query{Page: 1, Size: 10, MinPriceCents: ptr[int64](-1)}, "min_price_cents"},
				{Query{Page: 1, Size: 10, MaxPriceCents: ptr[int64](-1)}, "max_price_cents"},
				{Query{Page: 1, Size: 10, Text: strings.Repeat("a ", MaxWords+1)}, "text"},
				{Query{Page: 1, Size: 10, Text: strings.Repeat("x", MaxTextLength+1)}, "text"},
			} {
				_, err := s.Search(ctx, c.q)
				var qe *QueryError
				if !errors.As(err, &qe) || qe.Field != c.field {
					t.Errorf("%+v: got %v, want a *QueryError on %s", c.q, err, c.field)
				}
			}
			if _, err := s.Search(ctx, Query{Page: MaxResultWindow / 10, Size: 10}); err != nil {
				t.Errorf("the last page of the result window: %v", err)
			}
			var qe *QueryError
			if _, err := s.Suggest(ctx, "so", 0); !errors.As(err, &qe) || qe.Field != "n" {
				t.Errorf("suggest n=0: %v", err)
			}
		})
	})

	t.Run("versions-never-regress", func(t *testing.T) {
		s := freshStore(t, b)
		v := func(n int64) topics.Listing {
			l := listings[0]
			l.Version, l.Title = n, fmt.Sprintf("Sony Bravia v%d", n)
			return l
		}
		indexT(t, s, []topics.Listing{v(2)}, IndexStats{Indexed: 1})
		indexT(t, s, []topics.Listing{v(1)}, IndexStats{Stale: 1})
		getVersion(t, s, "e01", 2)
		// A replay of what is there already changes nothing.
		indexT(t, s, []topics.Listing{v(2)}, IndexStats{Stale: 1})
		getVersion(t, s, "e01", 2)
		// Within one batch: the later, older listing is stale; two newer
		// ones are both written, the last one stays.
		indexT(t, s, []topics.Listing{v(4), v(3)}, IndexStats{Indexed: 1, Stale: 1})
		getVersion(t, s, "e01", 4)
		indexT(t, s, []topics.Listing{v(5), v(6), listings[1]}, IndexStats{Indexed: 3})
		getVersion(t, s, "e01", 6)
		// A listing no retry can index is rejected; the rest is written.
		bad := []topics.Listing{{Version: 3}, v(7), {ItemID: "z1", Version: 0}}
		indexT(t, s, bad, IndexStats{Indexed: 1, Rejected: []Rejection{
			{Position: 0, Reason: "listing has no item_id"},
			{Position: 2, ItemID: "z1", Reason: "listing z1 has version 0; versions start at 1"},
		}})
		getVersion(t, s, "e01", 7)
		if ids := hitIDs(searchT(t, s, all(Query{Text: "v7"}))); !slices.Equal(ids, []string{"e01"}) {
			t.Errorf("search finds %v, want the latest version", ids)
		}
		if ids := hitIDs(searchT(t, s, all(Query{Text: "v6"}))); len(ids) != 0 {
			t.Errorf("search finds %v by an old title", ids)
		}
	})

	t.Run("stock-and-listing", func(t *testing.T) {
		s := freshStore(t, b)
		l := topics.Listing{ItemID: "r1", Version: 1, InventoryVersion: 1, OnHand: 3}
		find := func(q Query) []string { return hitIDs(searchT(t, s, all(q))) }
		indexT(t, s, []topics.Listing{l}, IndexStats{Indexed: 1})
		if ids := find(Query{InStock: ptr(false)}); len(ids) != 0 {
			t.Errorf("a listing without a catalog item shows: %v", ids)
		}
		if _, ok, err := s.Get(ctx, "r1"); !ok || err != nil {
			t.Errorf("get the unlisted listing: %v, %v", ok, err)
		}
		l.Version, l.CatalogVersion, l.Title, l.Category, l.PriceCents = 2, 1, "Zyxel Router", "Electronics", 7999
		indexT(t, s, []topics.Listing{l}, IndexStats{Indexed: 1})
		if ids := find(Query{Text: "zyxel"}); !slices.Equal(ids, []string{"r1"}) {
			t.Errorf("listed: %v", ids)
		}
		l.Version, l.InventoryVersion, l.OnHand = 3, 2, 0
		indexT(t, s, []topics.Listing{l}, IndexStats{Indexed: 1})
		if ids := find(Query{Text: "zyxel"}); len(ids) != 0 {
			t.Errorf("out of stock, still in the default results: %v", ids)
		}
		if got, _ := s.Suggest(ctx, "zyx", 5); len(got) != 0 {
			t.Errorf("out of stock, still suggested: %v", got)
		}
		res := searchT(t, s, all(Query{Text: "zyxel", InStock: ptr(false)}))
		if ids := hitIDs(res); !slices.Equal(ids, []string{"r1"}) || res.Facets.Category[0] != (FacetValue{"Electronics", 1}) {
			t.Errorf("with the stock filter off: %v %+v", ids, res.Facets)
		}
		l.Version, l.InventoryVersion, l.OnHand = 4, 3, 8
		indexT(t, s, []topics.Listing{l}, IndexStats{Indexed: 1})
		if ids := find(Query{Text: "zyxel"}); !slices.Equal(ids, []string{"r1"}) {
			t.Errorf("restocked, not back: %v", ids)
		}
	})

	t.Run("sink", func(t *testing.T) { runSinkContract(t, b) })
}

func freshStore(t *testing.T, b backend) adapter {
	t.Helper()
	cfg, dir := b.fresh(t)
	a := openT(t, cfg, dir)
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a
}

// indexT indexes listings, checks the stats and makes them searchable.
func indexT(t *testing.T, s adapter, listings []topics.Listing, want IndexStats) {
	t.Helper()
	got, err := s.Index(context.Background(), listings)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("index stats %+v, want %+v", got, want)
	}
	if err := s.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func getVersion(t *testing.T, s Store, id string, want int64) {
	t.Helper()
	l, ok, err := s.Get(context.Background(), id)
	if err != nil || !ok || l.Version != want {
		t.Errorf("get %s: version %d (%v, %v), want %d", id, l.Version, ok, err, want)
	}
}

func searchT(t *testing.T, s Store, q Query) Result {
	t.Helper()
	res, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	return res
}

func hitIDs(res Result) []string {
	ids := []string{}
	for _, h := range res.Hits {
		ids = append(ids, h.Item.ItemID)
	}
	return ids
}

// checkSearch compares an engine's answer with the model's and, for a
// relevance sort, with the expected order.
func checkSearch(t *testing.T, s Store, listings []topics.Listing, c searchCase) {
	p, err := c.q.plan()
	if err != nil {
		t.Fatal(err)
	}
	want := model(listings, p)
	got := searchT(t, s, c.q)
	if got.Total != want.Total {
		t.Errorf("total %d, want %d", got.Total, want.Total)
	}
	if !reflect.DeepEqual(got.Facets, want.Facets) {
		t.Errorf("facets\n got %+v\nwant %+v", got.Facets, want.Facets)
	}
	byID := map[string]topics.Listing{}
	for _, l := range listings {
		byID[l.ItemID] = l
	}
	for _, h := range got.Hits {
		if !reflect.DeepEqual(h.Item, byID[h.Item.ItemID]) {
			t.Errorf("hit %s is not the listing indexed:\n got %+v\nwant %+v", h.Item.ItemID, h.Item, byID[h.Item.ItemID])
		}
	}
	ids, wantIDs := hitIDs(got), hitIDs(want)
	if !p.scored() {
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("hits\n got %v\nwant %v", ids, wantIDs)
		}
		return
	}
	var scores []string
	for _, h := range got.Hits {
		scores = append(scores, fmt.Sprintf("%s=%.4f", h.Item.ItemID, h.Score))
	}
	if sorted := slices.Sorted(slices.Values(ids)); !slices.Equal(sorted, wantIDs) {
		t.Errorf("hits %v, want the set %v", ids, wantIDs)
	}
	if !slices.Equal(ids, c.order) {
		t.Errorf("order %v, want %v (scores %s)", ids, c.order, strings.Join(scores, " "))
	}
	for i, want := range c.scores {
		if i >= len(got.Hits) || math.Abs(got.Hits[i].Score-want) > 1e-4 {
			t.Errorf("scores %s, want %v", strings.Join(scores, " "), c.scores)
			break
		}
	}
}
