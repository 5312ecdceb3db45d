package search

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopstream/shopstream/topics"
)

// catalogRows is the contract suite's catalog: every category and brand
// more than once, every price bucket, a boundary price on each side of
// 25.00, out-of-stock items, an item without a brand and one the catalog
// has not described yet (no title). Descriptions stay under 24 words, the
// length up to which Lucene stores a field's length exactly.
var catalogRows = []struct {
	id, title, description, category, brand string
	price, onHand                           int64
}{
	{"e01", `Sony Bravia 55" 4K TV`, "Smart television with Google TV and Dolby Vision", "Electronics", "Sony", 89999, 5},
	{"e02", "Sony Bravia 65 OLED", "OLED television, the best picture Sony makes", "Electronics", "Sony", 179999, 2},
	{"e03", "Samsung Crystal 50 4K TV", "Smart TV with Tizen", "Electronics", "Samsung", 44999, 7},
	{"e04", "LG C3 OLED 55", "OLED evo television with webOS", "Electronics", "LG", 129999, 0},
	{"e05", "Sony WH-1000XM5 Wireless Headphones", "Noise cancelling over-ear headphones", "Electronics", "Sony", 34999, 10},
	{"e06", "Bose QuietComfort Headphones", "Wireless noise cancelling headphones that rival Sony", "Electronics", "Bose", 29999, 4},
	{"e07", "Anker USB-C Charging Cable 2 m", "Braided cable for phones and laptops", "Electronics", "Anker", 1299, 50},
	{"e08", "Anker PowerCore 10000", "Portable charger and power bank", "Electronics", "Anker", 2599, 30},
	{"e09", "Logi Wireless Mouse M325", "Compact wireless mouse; the battery lasts two years", "Electronics", "Logi", 1999, 12},
	{"e10", "Logi MX Keys Keyboard", "Wireless illuminated keyboard", "Electronics", "Logi", 9999, 0},
	{"e11", "Samsung Galaxy Buds", "True wireless earbuds", "Electronics", "Samsung", 14999, 8},
	{"e12", "Sony Alpha 7 IV Camera", "Full-frame mirrorless camera body", "Electronics", "Sony", 249999, 1},
	{"e13", "Braun Series 7 Shaver", "Electric shaver, wet and dry", "Health", "Braun", 15999, 6},
	{"e14", "Sonos One Speaker", "Smart speaker for the kitchen", "Electronics", "Sonos", 21999, 6},
	{"b01", "The Go Programming Language", "Donovan and Kernighan", "Books", "Addison-Wesley", 3450, 3},
	{"b02", "Learning Go", "An idiomatic approach to real-world Go programming", "Books", "O'Reilly", 3999, 9},
	{"b03", "Go in Action", "Hands-on Go", "Books", "Manning", 2999, 0},
	{"b04", "The Pragmatic Programmer", "Your journey to mastery", "Books", "Addison-Wesley", 4299, 4},
	{"b05", "Designing Data-Intensive Applications", "The big ideas behind reliable, scalable and maintainable systems", "Books", "O'Reilly", 4599, 11},
	{"b06", "Clean Code", "A handbook of agile software craftsmanship", "Books", "Prentice Hall", 3799, 2},
	{"b07", "Kafka: The Definitive Guide", "Real-time data and stream processing at scale", "Books", "O'Reilly", 4999, 5},
	{"b08", "Elasticsearch in Action", "Search and analytics with Elasticsearch", "Books", "Manning", 5499, 3},
	{"h01", "OXO Good Grips Can Opener", "Smooth turning can opener", "Home & Kitchen", "OXO", 1999, 20},
	{"h02", "Lodge Cast Iron Skillet 12 inch", "Pre-seasoned skillet for stove and oven", "Home & Kitchen", "Lodge", 3499, 15},
	{"h03", "Instant Pot Duo 7-in-1", "Electric pressure cooker, slow cooker and rice cooker", "Home & Kitchen", "Instant Pot", 8999, 9},
	{"h04", "Nespresso Vertuo Coffee Machine", "Coffee and espresso maker", "Home & Kitchen", "Nespresso", 17999, 0},
	{"h05", "KitchenAid Stand Mixer", "Tilt-head stand mixer, 5 quart", "Home & Kitchen", "KitchenAid", 44999, 3},
	{"h06", "OXO Salad Spinner", "Dries salad greens", "Home & Kitchen", "OXO", 2999, 12},
	{"h07", "Dyson V15 Vacuum", "Cordless vacuum cleaner with laser", "Home & Kitchen", "Dyson", 74999, 2},
	{"t01", "Lego Classic Creative Bricks", "484 pieces for creative building", "Toys", "Lego", 3499, 25},
	{"t02", "Lego Technic Race Car", "Build a race car with working steering", "Toys", "Lego", 4999, 0},
	{"t03", "Hot Wheels Track Set", "Stunt track with a car", "Toys", "Mattel", 2499, 14},
	{"t04", "Rubik's Cube", "The original 3x3 puzzle", "Toys", "Spin Master", 999, 40},
	{"t05", "Monopoly Classic", "The property trading board game", "Toys", "Hasbro", 2500, 10},
	{"s01", "Nike Pegasus 40 Running Shoes", "Responsive running shoes for daily training", "Sports", "Nike", 12999, 7},
	{"s02", "Adidas Ultraboost Running Shoes", "Cushioned running shoes", "Sports", "Adidas", 18999, 5},
	{"s03", "Yoga Mat 6 mm", "Non-slip exercise mat", "Sports", "Gaiam", 2999, 0},
	{"s04", "Garmin Forerunner 265", "GPS running smartwatch", "Sports", "Garmin", 44999, 3},
	{"s05", "Wilson Tennis Balls 3 pack", "Championship extra duty balls", "Sports", "Wilson", 499, 60},
	{"s06", "Peloton Bike", "Indoor exercise bike", "Sports", "Peloton", 144500, 1},
	{"g01", "Gift Card", "Digital gift card, no brand", "Gift Cards", "", 5000, 1000},
	{"x01", "", "", "", "", 0, 5}, // stock arrived before the catalog item
}

// catalogBase is the created_at of the oldest listing.
var catalogBase = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// catalog returns the rows as listings at version 1. created_at is spread
// so that newest-first is not the id order.
func catalog() []topics.Listing {
	out := make([]topics.Listing, len(catalogRows))
	for i, r := range catalogRows {
		l := topics.Listing{ItemID: r.id, Version: 1, InventoryVersion: 1, Title: r.title, Description: r.description,
			Category: r.category, Brand: r.brand, PriceCents: r.price, OnHand: r.onHand}
		if r.title != "" {
			created := catalogBase.Add(time.Duration(i*17%len(catalogRows)) * time.Hour)
			l.CatalogVersion, l.SupplierID, l.Currency = 1, "sup-"+r.id[:1], "USD"
			l.CreatedAt, l.UpdatedAt = created, created.Add(90*time.Minute+250*time.Millisecond)
		}
		if r.category == "Electronics" {
			l.Attributes = map[string]string{"warranty": "2 years", "color": []string{"black", "white", "silver"}[i%3]}
		}
		out[i] = l
	}
	return out
}

// model answers a plan from the listings in plain Go, for everything but
// the order of a relevance sort: which listings match, in which order by a
// field sort, the total and the facets.
func model(listings []topics.Listing, p plan) Result {
	var matches []topics.Listing
	for _, l := range listings {
		if modelMatches(l, p) {
			matches = append(matches, l)
		}
	}
	// Field sorts by string keys that order as the values do.
	key := func(l topics.Listing, field string) string {
		switch field {
		case priceField:
			return fmt.Sprintf("%020d", l.PriceCents) // no price is negative
		case "created_at":
			return l.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000000")
		case "item_id":
			return l.ItemID
		}
		panic("model: no sort by " + field)
	}
	slices.SortStableFunc(matches, func(a, b topics.Listing) int {
		for _, k := range p.sort {
			if k.field == scoreField {
				continue // the case gives the order of relevance
			}
			if c := strings.Compare(key(a, k.field), key(b, k.field)); c != 0 && k.desc {
				return -c
			} else if c != 0 {
				return c
			}
		}
		return 0
	})
	res := Result{Total: int64(len(matches))}
	for _, l := range matches[min(p.from, len(matches)):min(p.from+p.size, len(matches))] {
		res.Hits = append(res.Hits, Hit{Item: l})
	}
	if p.facets {
		res.Facets.Category = modelFacet(matches, func(l topics.Listing) string { return l.Category })
		res.Facets.Brand = modelFacet(matches, func(l topics.Listing) string { return l.Brand })
		counts := map[string]int64{}
		for _, l := range matches {
			for _, b := range PriceBuckets {
				if (b.FromCents == nil || l.PriceCents >= *b.FromCents) && (b.ToCents == nil || l.PriceCents < *b.ToCents) {
					counts[b.Key]++
				}
			}
		}
		res.Facets.Price = newPriceFacet(counts)
	}
	return res
}

func modelMatches(l topics.Listing, p plan) bool {
	doc := document(l)
	for _, f := range p.filters {
		switch {
		case f.value != nil && doc[f.field] != f.value:
			return false
		case f.value == nil && (f.gte != nil && l.PriceCents < *f.gte || f.lte != nil && l.PriceCents > *f.lte):
			return false
		}
	}
	for _, w := range p.words {
		found := false
		for _, f := range p.fields {
			text, _ := doc[f.name].(string)
			for _, t := range textAnalyzer.Analyze([]byte(text)) {
				term := string(t.Term)
				if term == w.term || levenshtein(term, w.term) <= w.fuzziness || w.prefix && strings.HasPrefix(term, w.term) {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func modelFacet(matches []topics.Listing, value func(topics.Listing) string) []FacetValue {
	counts := map[string]int64{}
	for _, l := range matches {
		if v := value(l); v != "" {
			counts[v]++
		}
	}
	out := []FacetValue{}
	for v, n := range counts {
		out = append(out, FacetValue{Value: v, Count: n})
	}
	slices.SortFunc(out, func(a, b FacetValue) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
	})
	return out[:min(len(out), FacetSize)]
}

// levenshtein counts the insertions, deletions and substitutions of
// characters that turn a into b; a transposition is two. One row of the
// distance table, updated in place.
func levenshtein(a, b string) int {
	y := []rune(b)
	row := make([]int, len(y)+1)
	for j := range row {
		row[j] = j
	}
	for _, rx := range a {
		diag := row[0]
		row[0]++
		for j, ry := range y {
			sub := diag
			if rx != ry {
				sub++
			}
			diag, row[j+1] = row[j+1], min(row[j+1]+1, row[j]+1, sub)
		}
	}
	return row[len(y)]
}
