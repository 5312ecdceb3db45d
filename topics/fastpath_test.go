package topics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// FuzzCanonicalMatchesGeneral: whenever the fast path accepts bytes, the
// general JSON path reads the same envelope from them.
func FuzzCanonicalMatchesGeneral(f *testing.F) {
	ev, _ := New(TypeCartCleared, "user-1", CartCleared{UserID: "user-1"}, At(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
	b, _ := Encode(ev)
	f.Add(b)
	f.Add([]byte(`{"id":"a","type":"t","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"k","data":{}}`))
	f.Add([]byte(`{"id":"a","type":"t","version":01,"occurred_at":"2026-01-01T00:00:00+02:00","key":"k","data":{"x":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeCanonical(b)
		if !ok {
			return
		}
		var slow Envelope
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted %q, general path refused: %v", b, err)
		}
		if fast.ID != slow.ID || fast.Type != slow.Type || fast.Version != slow.Version || fast.Key != slow.Key ||
			!fast.OccurredAt.Equal(slow.OccurredAt) || !bytes.Equal(fast.Data, slow.Data) {
			t.Fatalf("paths disagree on %q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}

func TestEncodeTakesTheFastPath(t *testing.T) {
	ev, _ := New(TypeCartCleared, "user-1", CartCleared{UserID: "user-1"})
	b, _ := Encode(ev)
	if _, ok := decodeCanonical(b); !ok {
		t.Fatalf("own encoding %s misses the fast path", b)
	}
}

// FuzzAppendJSONMatchesEncodingJSON: the hand-written encoders write what
// encoding/json writes, for any strings (escapes, HTML, invalid UTF-8),
// numbers, maps (nil, empty, several keys) and times.
func FuzzAppendJSONMatchesEncodingJSON(f *testing.F) {
	f.Add("item-1", "Sony <Bravia> & \"more\"", "line\nbreak\u2028", "caf\xe9", int64(3), int64(-7), int64(1_700_000_000_123_456_789), 2)
	f.Add("", "", "", "", int64(0), int64(0), int64(0), 0)
	f.Add("\x00\x1f\\", "日本", "a", "b", int64(-1<<63), int64(1<<63-1), int64(-62135596800_000_000_0), 1)
	f.Fuzz(func(t *testing.T, s1, s2, s3, s4 string, n1, n2, nanos int64, keys int) {
		var m map[string]string
		var w map[string]int64
		if keys >= 0 {
			m, w = map[string]string{}, map[string]int64{}
			for i, k := range []string{s1, s2, s3, s4}[:min(keys, 4)] {
				m[k], w[k] = []string{s4, s3, s2, s1}[i], n1+int64(i)
			}
		}
		at := time.Unix(0, nanos).In(time.FixedZone("z", int(n2%86400)))
		check := func(v interface {
			AppendJSON([]byte) ([]byte, error)
		}) {
			t.Helper()
			want, wantErr := json.Marshal(v)
			got, err := v.AppendJSON([]byte("prefix"))
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%#v: error %v, encoding/json's %v", v, err, wantErr)
			}
			if err == nil && string(got) != "prefix"+string(want) {
				t.Fatalf("%#v:\nhand %s\njson %s", v, got[len("prefix"):], want)
			}
		}
		check(CatalogItemChanged{ItemID: s1, Version: n1, SupplierID: s2, Title: s3, Description: s4, Category: s1,
			Brand: s2, PriceCents: n2, Currency: s3, Attributes: m})
		check(InventoryItemChanged{ItemID: s1, Version: n1, Warehouses: w, OnHand: n2, Delta: n1 - n2})
		check(Listing{ItemID: s1, Version: n1, CatalogVersion: n2, InventoryVersion: n1, SupplierID: s2, Title: s3,
			Description: s4, Category: s4, Brand: s3, PriceCents: n2, Currency: s2, Attributes: m, OnHand: n1,
			CreatedAt: at, UpdatedAt: at.Add(time.Duration(n1))})
	})
}

// FuzzDecodeAsMatchesDecode: DecodeAs gives what Decode gives, event or
// error, for any bytes.
func FuzzDecodeAsMatchesDecode(f *testing.F) {
	at := At(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	for _, ev := range []Event{
		must(New(TypeSupplierStockLevel, "i-1", SupplierStockLevel{SupplierID: "s-1", ItemID: "i-1", WarehouseID: "w-1", OnHand: -3}, at)),
		must(New(TypeSupplierItemUpserted, "i-1", SupplierItemUpserted{SupplierID: "s-1", ItemID: "i-1", Title: "TV <55\">", Description: "big",
			Category: "tv", Brand: "Sony", PriceCents: 99900, Currency: "USD", Attributes: map[string]string{"a": "1", "b": "é"}}, at)),
		must(New(TypeSupplierItemUpserted, "i-1", SupplierItemUpserted{ItemID: "i-1"}, at)),
		must(New(TypeCartCleared, "u-1", CartCleared{UserID: "u-1"}, at)),
	} {
		b, _ := Encode(ev)
		f.Add(b)
	}
	f.Add([]byte(`{"id":"a","type":"supplier.stock.level","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"k","data":{"supplier_id":"s","item_id":"i","warehouse_id":"w","on_hand":01}}`))
	f.Add([]byte(`{"id":"a","type":"supplier.stock.level","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"k","data":{"supplier_id":"s","item_id":"i","warehouse_id":"w","on_hand":9223372036854775808}}`))
	f.Add([]byte(`{"id":"a","type":"supplier.item.upserted","version":2,"occurred_at":"2026-01-01T00:00:00Z","key":"k","data":{"supplier_id":"s","item_id":"i","title":"t","category":"c","price_cents":1,"currency":"USD","attributes":{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := Decode(b)
		for name, got := range map[string]func() (Event, error){
			"stock": func() (Event, error) { return DecodeAs[SupplierStockLevel](b) },
			"item":  func() (Event, error) { return DecodeAs[SupplierItemUpserted](b) },
		} {
			ev, err := got()
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(ev, want) {
				t.Fatalf("DecodeAs %s of %q:\n%#v, %v\nDecode:\n%#v, %v", name, b, ev, err, want, wantErr)
			}
		}
	})
}

// The supplier records Encode writes take DecodeAs's fast path.
func TestSupplierRecordsTakeTheFastPath(t *testing.T) {
	stock := must(New(TypeSupplierStockLevel, "i-1", SupplierStockLevel{SupplierID: "s-1", ItemID: "i-1", WarehouseID: "w-1", OnHand: 7}))
	item := must(New(TypeSupplierItemUpserted, "i-1", SupplierItemUpserted{SupplierID: "s-1", ItemID: "i-1", Title: "TV", Description: "d",
		Category: "tv", Brand: "b", PriceCents: 5, Currency: "USD", Attributes: map[string]string{"x": "y", "z": ""}}))
	if _, ok := decodeFast[SupplierStockLevel](must(Encode(stock))); !ok {
		t.Error("a stock level misses the fast path")
	}
	if _, ok := decodeFast[SupplierItemUpserted](must(Encode(item))); !ok {
		t.Error("an item upsert misses the fast path")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
