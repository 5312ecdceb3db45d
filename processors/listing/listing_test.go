package listing_test

import (
	"testing"
	"time"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/listing"
	"github.com/shopstream/shopstream/topics"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func item(version, price int64) topics.CatalogItemChanged {
	return topics.CatalogItemChanged{ItemID: "i-1", Version: version, SupplierID: "s-1", Title: "TV",
		Category: "electronics", PriceCents: price, Currency: "USD"}
}

func stock(version, onHand int64) topics.InventoryItemChanged {
	return topics.InventoryItemChanged{ItemID: "i-1", Version: version, Warehouses: map[string]int64{"w": onHand}, OnHand: onHand}
}

// Changes from both inputs applied in sequence to one item's listing; each
// row is either a catalog or an inventory change.
func TestApply(t *testing.T) {
	steps := []struct {
		name   string
		cat    *topics.CatalogItemChanged
		inv    *topics.InventoryItemChanged
		offset int64
		at     time.Duration // event time after t0
		want   processors.Outcome
		// The listing afterwards.
		version, catalogVersion, inventoryVersion, onHand, price int64
		title                                                    string
	}{
		{name: "stock before its item: a listing without a title", inv: ptr(stock(1, 5)), offset: 1, at: 2,
			want: processors.Change, version: 1, inventoryVersion: 1, onHand: 5},
		{name: "the item arrives", cat: ptr(item(1, 100)), offset: 1, at: 1,
			want: processors.Change, version: 2, catalogVersion: 1, inventoryVersion: 1, onHand: 5, price: 100, title: "TV"},
		{name: "an older stock version changes nothing", inv: ptr(stock(1, 9)), offset: 2, at: 3,
			want: processors.Skip, version: 2, catalogVersion: 1, inventoryVersion: 1, onHand: 5, price: 100, title: "TV"},
		{name: "a newer stock version", inv: ptr(stock(3, 0)), offset: 3, at: 4,
			want: processors.Change, version: 3, catalogVersion: 1, inventoryVersion: 3, onHand: 0, price: 100, title: "TV"},
		{name: "a stock version it skipped over stays skipped", inv: ptr(stock(2, 7)), offset: 4, at: 3,
			want: processors.Skip, version: 3, catalogVersion: 1, inventoryVersion: 3, onHand: 0, price: 100, title: "TV"},
		{name: "the last emitting record read again re-emits", inv: ptr(stock(3, 0)), offset: 3, at: 4,
			want: processors.Reemit, version: 3, catalogVersion: 1, inventoryVersion: 3, onHand: 0, price: 100, title: "TV"},
		{name: "a catalog change keeps the stock", cat: ptr(item(2, 90)), offset: 2, at: 3,
			want: processors.Change, version: 4, catalogVersion: 2, inventoryVersion: 3, onHand: 0, price: 90, title: "TV"},
		{name: "the same catalog version again changes nothing", cat: ptr(item(2, 80)), offset: 5, at: 5,
			want: processors.Skip, version: 4, catalogVersion: 2, inventoryVersion: 3, onHand: 0, price: 90, title: "TV"},
	}
	var st listing.State
	for i, s := range steps {
		in := processors.In{ID: "e", Key: "i-1", At: t0.Add(s.at * time.Minute), Pos: processors.Position{Offset: s.offset}}
		var (
			next listing.State
			v    processors.Verdict
		)
		if s.cat != nil {
			in.Pos.Topic = topics.CatalogChanges
			next, v = listing.ApplyCatalog(st, in, *s.cat)
		} else {
			in.Pos.Topic = topics.InventoryChanges
			next, v = listing.ApplyInventory(st, in, *s.inv)
		}
		l := next.Listing
		if v.Outcome != s.want || l.Version != s.version || l.CatalogVersion != s.catalogVersion ||
			l.InventoryVersion != s.inventoryVersion || l.OnHand != s.onHand || l.PriceCents != s.price || l.Title != s.title {
			t.Fatalf("step %d (%s): outcome %v, listing %+v", i, s.name, v.Outcome, l)
		}
		if v.Outcome == processors.Change || v.Outcome == processors.Reemit {
			if out := v.Out.(topics.Listing); out.Version != l.Version || out.ItemID != "i-1" {
				t.Fatalf("step %d (%s): emitted %+v", i, s.name, out)
			}
		}
		st = next
	}
	// Created when the item arrived; updated at the latest event time seen,
	// though the last change's event time was earlier.
	if !st.CreatedAt.Equal(t0.Add(time.Minute)) || !st.UpdatedAt.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("created %v updated %v", st.CreatedAt, st.UpdatedAt)
	}
}

func TestApplyRefusesAnotherKey(t *testing.T) {
	in := processors.In{Key: "i-2"}
	if _, v := listing.ApplyCatalog(listing.State{}, in, item(1, 1)); v.Outcome != processors.Reject {
		t.Errorf("catalog change under another key: %v", v.Outcome)
	}
	if _, v := listing.ApplyInventory(listing.State{}, in, stock(1, 1)); v.Outcome != processors.Reject {
		t.Errorf("inventory change under another key: %v", v.Outcome)
	}
}

func ptr[T any](v T) *T { return &v }
