package processors_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/processors/inventory"
	"github.com/shopstream/shopstream/processors/listing"
	"github.com/shopstream/shopstream/topics"
)

// The table codecs write each value by hand; what they write must be what
// encoding/json writes, and decode back to the value.
func TestTableCodecsWriteWhatEncodingJSONWrites(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.FixedZone("x", 5400))
	odd := "Sony <Bravia> & \"4K\"\n\u2028café" // every kind of escape (invalid UTF-8: topics fuzzes it)
	pos := processors.Position{Topic: "supplier.stock", Partition: 2, Offset: 41}
	applied := processors.Applied{IDs: []string{"e1", odd}, Emitted: pos}
	item := topics.CatalogItemChanged{ItemID: "i-1", Version: 3, SupplierID: "s-1", Title: odd, Description: "d",
		Category: "tv", Brand: "Sony", PriceCents: 99900, Currency: "USD", Attributes: map[string]string{"size": "55", odd: odd}}
	listed := topics.Listing{ItemID: "i-1", Version: 4, CatalogVersion: 3, InventoryVersion: 1, SupplierID: "s-1",
		Title: odd, Category: "tv", PriceCents: 99900, Currency: "USD", OnHand: 7, CreatedAt: at, UpdatedAt: at.Add(time.Hour)}
	cases := []struct {
		name  string
		codec goka.Codec
		value any
	}{
		{"empty item", catalog.Codec{}, catalog.Item{}},
		{"item", catalog.Codec{}, catalog.Item{CatalogItemChanged: item, CreatedAt: at, UpdatedAt: at, Applied: applied}},
		{"empty stock", inventory.Codec{}, inventory.Stock{}},
		{"stock", inventory.Codec{}, inventory.Stock{ItemID: "i-1", OnHand: 9, Version: 2, Delta: -1, UpdatedAt: at, Applied: applied,
			Warehouses: map[string]inventory.Level{"w-2": {OnHand: 4, SupplierID: "s-1"}, "w-1": {OnHand: 5, SupplierID: odd}}}},
		{"empty listing", listing.Codec{}, listing.State{}},
		{"listing", listing.Codec{}, listing.State{Listing: listed, Emitted: pos}},
	}
	for _, c := range cases {
		got, err := c.codec.Encode(c.value)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want, _ := json.Marshal(c.value)
		if string(got) != string(want) {
			t.Errorf("%s:\nwrote         %s\nencoding/json %s", c.name, got, want)
		}
		back, err := c.codec.Decode(got)
		if err != nil {
			t.Fatalf("%s: decode: %v", c.name, err)
		}
		if again, _ := c.codec.Encode(back); string(again) != string(got) {
			t.Errorf("%s: changed in a round trip:\n%s\n%s", c.name, got, again)
		}
	}
}

// An output is written by hand when its data can, as encoding/json would;
// either way it decodes to the event emitted.
func TestOutputsDecodeToTheEventEmitted(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, data := range []any{
		topics.InventoryItemChanged{ItemID: "i-1", Version: 2, Warehouses: map[string]int64{"w-1": 3}, OnHand: 3, Delta: 3},
		topics.CatalogItemChanged{ItemID: "i-1", Version: 1, SupplierID: "s-1", Title: "<TV>", Category: "tv", PriceCents: 5, Currency: "USD"},
		topics.CartCleared{UserID: "u-1"}, // no hand encoder
	} {
		typ := map[reflect.Type]string{
			reflect.TypeFor[topics.InventoryItemChanged](): topics.TypeInventoryItemChanged,
			reflect.TypeFor[topics.CatalogItemChanged]():   topics.TypeCatalogItemChanged,
			reflect.TypeFor[topics.CartCleared]():          topics.TypeCartCleared,
		}[reflect.TypeOf(data)]
		ev, err := topics.New(typ, "k", data, topics.At(at))
		if err != nil {
			t.Fatal(err)
		}
		codec := processors.Output{Topic: "out", Type: typ}.Edge().Codec()
		b, err := codec.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := topics.Encode(ev); string(b) != string(want) {
			t.Errorf("%s:\nwrote        %s\ntopics.Encode %s", typ, b, want)
		}
		back, err := codec.Decode(b)
		if err != nil || !reflect.DeepEqual(back, ev) {
			t.Errorf("%s: decoded %#v, %v; want %#v", typ, back, err, ev)
		}
	}
}
