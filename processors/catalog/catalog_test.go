package catalog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/topics"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func upsert(supplier string, price int64, attrs map[string]string) topics.SupplierItemUpserted {
	return topics.SupplierItemUpserted{SupplierID: supplier, ItemID: "i-1", Title: "TV", Category: "electronics",
		PriceCents: price, Currency: "USD", Attributes: attrs}
}

// The rules applied in sequence to one item, each step against the state
// the previous ones left.
func TestApply(t *testing.T) {
	steps := []struct {
		name     string
		id       string
		offset   int64
		key      string // defaults to the item id
		up       topics.SupplierItemUpserted
		want     processors.Outcome
		version  int64
		reason   string
		recorded bool // the id is in the applied ring afterwards
	}{
		{name: "first upsert creates version 1", id: "e1", offset: 1, up: upsert("s-1", 100, nil),
			want: processors.Change, version: 1, recorded: true},
		{name: "a change bumps the version", id: "e2", offset: 2, up: upsert("s-1", 90, map[string]string{"size": "m"}),
			want: processors.Change, version: 2, recorded: true},
		{name: "an applied id changes nothing", id: "e1", offset: 3, up: upsert("s-1", 70, nil),
			want: processors.Skip, version: 2, recorded: true},
		{name: "an equal upsert records its id only", id: "e3", offset: 4, up: upsert("s-1", 90, map[string]string{"size": "m"}),
			want: processors.Store, version: 2, recorded: true},
		{name: "the last emitting record read again re-emits", id: "e2", offset: 2, up: upsert("s-1", 90, map[string]string{"size": "m"}),
			want: processors.Reemit, version: 2, recorded: true},
		{name: "another supplier's upsert is refused", id: "e4", offset: 5, up: upsert("s-2", 50, nil),
			want: processors.Reject, version: 2, reason: "item i-1 belongs to supplier s-1"},
		{name: "an invalid upsert is refused", id: "e5", offset: 6, up: upsert("s-1", 0, nil),
			want: processors.Reject, version: 2, reason: "invalid supplier.item.upserted: price_cents: 0 must be greater than 0"},
		{name: "an upsert under another key is refused", id: "e6", offset: 7, key: "i-2", up: upsert("s-1", 80, nil),
			want: processors.Reject, version: 2, reason: `record key "i-2" is not the item_id "i-1"`},
		{name: "dropping the attributes is a change", id: "e7", offset: 8, up: upsert("s-1", 80, nil),
			want: processors.Change, version: 3, recorded: true},
		{name: "empty attributes equal none", id: "e8", offset: 9, up: upsert("s-1", 80, map[string]string{}),
			want: processors.Store, version: 3, recorded: true},
	}
	var item catalog.Item
	for i, s := range steps {
		key := s.key
		if key == "" {
			key = s.up.ItemID
		}
		in := processors.In{ID: s.id, Key: key, At: t0.Add(time.Duration(i) * time.Minute),
			Pos: processors.Position{Topic: topics.SupplierItems, Offset: s.offset}}
		next, v := catalog.Apply(item, in, s.up)
		if v.Outcome != s.want || next.Version != s.version || !strings.Contains(v.Reason, s.reason) {
			t.Fatalf("step %d (%s): outcome %v version %d reason %q; want %v %d %q", i, s.name, v.Outcome, next.Version, v.Reason, s.want, s.version, s.reason)
		}
		if next.Applied.Has(s.id) != s.recorded {
			t.Fatalf("step %d (%s): id recorded %v, want %v", i, s.name, !s.recorded, s.recorded)
		}
		switch v.Outcome {
		case processors.Change, processors.Reemit:
			if out := v.Out.(topics.CatalogItemChanged); out.Version != s.version || out.PriceCents != next.PriceCents {
				t.Fatalf("step %d (%s): emitted %+v, item %+v", i, s.name, out, next.CatalogItemChanged)
			}
		case processors.Reject, processors.Skip:
			if next.Version != item.Version || len(next.Applied.IDs) != len(item.Applied.IDs) {
				t.Fatalf("step %d (%s): a refused or applied record changed the state", i, s.name)
			}
		}
		item = next
	}
	if !item.CreatedAt.Equal(t0) || !item.UpdatedAt.Equal(t0.Add(8*time.Minute)) {
		t.Errorf("created %v updated %v: want the first upsert's and the last change's event times", item.CreatedAt, item.UpdatedAt)
	}
}
