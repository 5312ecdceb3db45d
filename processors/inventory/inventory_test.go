package inventory_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/inventory"
	"github.com/shopstream/shopstream/topics"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func level(supplier, warehouse string, onHand int64) topics.SupplierStockLevel {
	return topics.SupplierStockLevel{SupplierID: supplier, ItemID: "i-1", WarehouseID: warehouse, OnHand: onHand}
}

// The rules applied in sequence to one item, each step against the stock
// the previous ones left.
func TestApply(t *testing.T) {
	steps := []struct {
		name    string
		id      string
		offset  int64
		lvl     topics.SupplierStockLevel
		want    processors.Outcome
		version int64
		onHand  int64
		delta   int64 // of the emitted change
		levels  map[string]int64
		reason  string
	}{
		{name: "first level", id: "e1", offset: 1, lvl: level("s-1", "w-1", 5),
			want: processors.Change, version: 1, onHand: 5, delta: 5, levels: map[string]int64{"w-1": 5}},
		{name: "a second warehouse adds up", id: "e2", offset: 2, lvl: level("s-1", "w-2", 3),
			want: processors.Change, version: 2, onHand: 8, delta: 3, levels: map[string]int64{"w-1": 5, "w-2": 3}},
		{name: "a level replaces, it does not add", id: "e3", offset: 3, lvl: level("s-1", "w-1", 2),
			want: processors.Change, version: 3, onHand: 5, delta: -3, levels: map[string]int64{"w-1": 2, "w-2": 3}},
		{name: "a redelivered event changes nothing", id: "e2", offset: 4, lvl: level("s-1", "w-2", 3),
			want: processors.Skip, version: 3, onHand: 5},
		{name: "a redelivered earlier event does not roll back", id: "e1", offset: 5, lvl: level("s-1", "w-1", 5),
			want: processors.Skip, version: 3, onHand: 5},
		{name: "an unchanged level records its id only", id: "e4", offset: 6, lvl: level("s-2", "w-1", 2),
			want: processors.Store, version: 3, onHand: 5},
		{name: "the last emitting record read again re-emits", id: "e3", offset: 3, lvl: level("s-1", "w-1", 2),
			want: processors.Reemit, version: 3, onHand: 5, delta: -3, levels: map[string]int64{"w-1": 2, "w-2": 3}},
		{name: "a new warehouse at zero is a change", id: "e5", offset: 7, lvl: level("s-1", "w-3", 0),
			want: processors.Change, version: 4, onHand: 5, delta: 0, levels: map[string]int64{"w-1": 2, "w-2": 3, "w-3": 0}},
		{name: "an empty warehouse", id: "e6", offset: 8, lvl: level("s-1", "w-2", 0),
			want: processors.Change, version: 5, onHand: 2, delta: -3, levels: map[string]int64{"w-1": 2, "w-2": 0, "w-3": 0}},
		{name: "a negative level is refused", id: "e7", offset: 9, lvl: level("s-1", "w-1", -1),
			want: processors.Reject, version: 5, onHand: 2, reason: "invalid supplier.stock.level: on_hand: -1 must be between 0"},
		{name: "a level under another key is refused", id: "e8", offset: 10, lvl: topics.SupplierStockLevel{SupplierID: "s-1", ItemID: "i-2", WarehouseID: "w-1", OnHand: 1},
			want: processors.Reject, version: 5, onHand: 2, reason: `record key "i-1" is not the item_id "i-2"`},
	}
	var stock inventory.Stock
	for i, s := range steps {
		in := processors.In{ID: s.id, Key: "i-1", At: t0.Add(time.Duration(i) * time.Minute),
			Pos: processors.Position{Topic: topics.SupplierStock, Offset: s.offset}}
		next, v := inventory.Apply(stock, in, s.lvl)
		if v.Outcome != s.want || next.Version != s.version || next.OnHand != s.onHand || !strings.Contains(v.Reason, s.reason) {
			t.Fatalf("step %d (%s): outcome %v version %d on hand %d reason %q; want %v %d %d %q",
				i, s.name, v.Outcome, next.Version, next.OnHand, v.Reason, s.want, s.version, s.onHand, s.reason)
		}
		if v.Outcome == processors.Change || v.Outcome == processors.Reemit {
			out := v.Out.(topics.InventoryItemChanged)
			if out.Version != s.version || out.OnHand != s.onHand || out.Delta != s.delta || !maps.Equal(out.Warehouses, s.levels) {
				t.Fatalf("step %d (%s): emitted %+v", i, s.name, out)
			}
		}
		stock = next
	}
	// The last report of w-1 came from s-2, with an unchanged count.
	if l := stock.Warehouses["w-1"]; l.SupplierID != "s-2" {
		t.Errorf("w-1 level %+v: want supplier s-2, which reported it last", l)
	}
}
