// Package inventory is the inventory processor: it applies supplier stock
// levels (supplier.stock) exactly once each, by event id, to a table of
// on-hand stock per item and warehouse, and emits each change to
// inventory.changes. Bad records go to supplier.stock.dlq with the reason;
// the API reads the table through a view (Table, Codec).
package inventory

import (
	"maps"
	"strconv"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Group is the processor's consumer group; its table is Table.
const Group goka.Group = "inventory"

// Table is the stock table ("inventory-table"), keyed by item_id, of Stocks.
var Table = goka.GroupTable(Group)

// Codec is the table's value codec: values are Stocks.
type Codec = processors.JSON[Stock]

var changes = processors.Output{Topic: topics.InventoryChanges, Type: topics.TypeInventoryItemChanged}

// Graph is the inventory processor; production runs it as Group, tests under
// names of their own.
func Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return goka.DefineGroup(group,
		processors.Input(rt, group, topics.SupplierStock, topics.TypeSupplierStockLevel, changes, Apply),
		processors.DeadLetters(topics.SupplierStock),
		changes.Edge(),
		goka.Persist(Codec{}),
	)
}

// Level is one warehouse's on-hand count and the supplier that reported it.
type Level struct {
	OnHand     int64  `json:"on_hand"`
	SupplierID string `json:"supplier_id"`
}

// Stock is the table value: an item's stock as last emitted.
type Stock struct {
	ItemID string `json:"item_id"`
	// Warehouses holds the absolute level last reported per warehouse_id.
	Warehouses map[string]Level `json:"warehouses"`
	// OnHand is the sum over warehouses.
	OnHand  int64 `json:"on_hand"`
	Version int64 `json:"version"`
	// Delta is the change to OnHand of the last change.
	Delta     int64              `json:"delta"`
	UpdatedAt time.Time          `json:"updated_at"`
	Applied   processors.Applied `json:"applied"`
}

// Apply applies one supplier stock level to the item's current stock (the
// zero Stock if there is none). A level equal to the warehouse's current
// one only records the event id; a new or different level bumps the
// version and emits the stock with the change in total on-hand.
func Apply(cur Stock, in processors.In, lvl topics.SupplierStockLevel) (Stock, processors.Verdict) {
	if cur.Applied.Has(in.ID) {
		return cur, processors.Again(cur.Applied.Emitted, in, cur.Changed())
	}
	if errs := ingest.ValidateStock("", lvl); len(errs) > 0 {
		return cur, processors.Invalid(topics.TypeSupplierStockLevel, errs)
	}
	if lvl.ItemID != in.Key {
		return cur, processors.WrongKey(in.Key, lvl.ItemID)
	}
	next := cur
	next.ItemID = lvl.ItemID
	next.Warehouses = maps.Clone(cur.Warehouses)
	if next.Warehouses == nil {
		next.Warehouses = map[string]Level{}
	}
	old, known := cur.Warehouses[lvl.WarehouseID]
	// Kept even when the count is unchanged: the supplier that reported it
	// last is the one whose inventory lists it.
	next.Warehouses[lvl.WarehouseID] = Level{OnHand: lvl.OnHand, SupplierID: lvl.SupplierID}
	if known && old.OnHand == lvl.OnHand {
		next.Applied = cur.Applied.Add(in, false)
		return next, processors.Stored()
	}
	next.Delta = lvl.OnHand - old.OnHand
	next.OnHand = cur.OnHand + next.Delta
	next.Version++
	next.UpdatedAt = in.At
	next.Applied = cur.Applied.Add(in, true)
	return next, processors.Changed(next.Changed())
}

// AppendJSON appends the stock's JSON as encoding/json writes it, so the
// table codec writes it without reflection.
func (s Stock) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"item_id":`...)
	b = topics.AppendJSONString(b, s.ItemID)
	b = append(b, `,"warehouses":`...)
	b = topics.AppendJSONMap(b, s.Warehouses, appendLevel)
	b = append(b, `,"on_hand":`...)
	b = strconv.AppendInt(b, s.OnHand, 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, s.Version, 10)
	b = append(b, `,"delta":`...)
	b = strconv.AppendInt(b, s.Delta, 10)
	b = append(b, `,"updated_at":`...)
	b, err := topics.AppendJSONTime(b, s.UpdatedAt)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"applied":`...)
	return append(s.Applied.AppendJSON(b), '}'), nil
}

func appendLevel(b []byte, l Level) []byte {
	b = append(b, `{"on_hand":`...)
	b = strconv.AppendInt(b, l.OnHand, 10)
	b = append(b, `,"supplier_id":`...)
	return append(topics.AppendJSONString(b, l.SupplierID), '}')
}

// Changed is the stock as an inventory.item.changed event.
func (s Stock) Changed() topics.InventoryItemChanged {
	levels := make(map[string]int64, len(s.Warehouses))
	for w, l := range s.Warehouses {
		levels[w] = l.OnHand
	}
	return topics.InventoryItemChanged{ItemID: s.ItemID, Version: s.Version, Warehouses: levels, OnHand: s.OnHand, Delta: s.Delta}
}
