// Package catalog is the catalog processor: it turns supplier item upserts
// (supplier.items) into the canonical item table, one entry per item_id
// with a version that only grows, and emits each change to catalog.changes.
// Bad records go to supplier.items.dlq with the reason; the API reads the
// table through a view (Table, Codec).
package catalog

import (
	"maps"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Group is the processor's consumer group; its table is Table.
const Group goka.Group = "catalog"

// Table is the item table ("catalog-table"), keyed by item_id, of Items.
var Table = goka.GroupTable(Group)

// Codec is the table's value codec: values are Items.
type Codec = processors.JSON[Item]

var changes = processors.Output{Topic: topics.CatalogChanges, Type: topics.TypeCatalogItemChanged}

// Graph is the catalog processor; production runs it as Group, tests under
// names of their own.
func Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return goka.DefineGroup(group,
		processors.Input(rt, group, topics.SupplierItems, topics.TypeSupplierItemUpserted, changes, Apply),
		processors.DeadLetters(topics.SupplierItems),
		changes.Edge(),
		goka.Persist(Codec{}),
	)
}

// Item is the table value: the canonical item as last emitted, with its
// version.
type Item struct {
	topics.CatalogItemChanged
	// CreatedAt is the event time of the item's first upsert.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is the event time of the upsert that last changed it.
	UpdatedAt time.Time          `json:"updated_at"`
	Applied   processors.Applied `json:"applied"`
}

// AppendJSON appends the item's JSON as encoding/json writes it, so the
// table codec writes it without reflection: the embedded item's fields,
// then the item's own.
func (it Item) AppendJSON(b []byte) ([]byte, error) {
	b, err := it.CatalogItemChanged.AppendJSON(b)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], `,"created_at":`...) // reopen the object
	if b, err = topics.AppendJSONTime(b, it.CreatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = topics.AppendJSONTime(b, it.UpdatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"applied":`...)
	return append(it.Applied.AppendJSON(b), '}'), nil
}

// Apply applies one supplier upsert to the item's current state (the zero
// Item if there is none). The first supplier to upsert an item owns it; an
// upsert equal to the item only records its id; any other upsert bumps the
// version and emits the item.
func Apply(cur Item, in processors.In, up topics.SupplierItemUpserted) (Item, processors.Verdict) {
	if cur.Applied.Has(in.ID) {
		return cur, processors.Again(cur.Applied.Emitted, in, cur.CatalogItemChanged)
	}
	if errs := ingest.ValidateItem("", up); len(errs) > 0 {
		return cur, processors.Invalid(topics.TypeSupplierItemUpserted, errs)
	}
	if up.ItemID != in.Key {
		return cur, processors.WrongKey(in.Key, up.ItemID)
	}
	if cur.Version > 0 && up.SupplierID != cur.SupplierID {
		return cur, processors.Rejected("item %s belongs to supplier %s", up.ItemID, cur.SupplierID)
	}
	next := cur
	item := canonical(up, cur.Version)
	if cur.Version > 0 && same(item, cur.CatalogItemChanged) {
		next.Applied = cur.Applied.Add(in, false)
		return next, processors.Stored()
	}
	item.Version++
	next.CatalogItemChanged = item
	if cur.Version == 0 {
		next.CreatedAt = in.At
	}
	next.UpdatedAt = in.At
	next.Applied = cur.Applied.Add(in, true)
	return next, processors.Changed(item)
}

// canonical is the item an upsert describes, at version.
func canonical(up topics.SupplierItemUpserted, version int64) topics.CatalogItemChanged {
	return topics.CatalogItemChanged{
		ItemID: up.ItemID, Version: version, SupplierID: up.SupplierID,
		Title: up.Title, Description: up.Description, Category: up.Category, Brand: up.Brand,
		PriceCents: up.PriceCents, Currency: up.Currency, Attributes: up.Attributes,
	}
}

// same compares what a supplier describes; no attributes equals empty ones.
func same(a, b topics.CatalogItemChanged) bool {
	return a.SupplierID == b.SupplierID && a.Title == b.Title && a.Description == b.Description &&
		a.Category == b.Category && a.Brand == b.Brand && a.PriceCents == b.PriceCents &&
		a.Currency == b.Currency && maps.Equal(a.Attributes, b.Attributes)
}
