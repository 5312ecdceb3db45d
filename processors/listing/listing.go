// Package listing is the listing processor: it joins each item's catalog
// changes (catalog.changes) with its inventory changes (inventory.changes),
// both keyed by item_id, into the listing search indexes, and emits every
// new listing to the compacted listings topic. The inputs' versions make it
// idempotent: a change not newer than what a listing reflects is ignored.
package listing

import (
	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Group is the processor's consumer group; its table is Table.
const Group goka.Group = "listing"

// Table is the listing table ("listing-table"), keyed by item_id, of States.
var Table = goka.GroupTable(Group)

// Codec is the table's value codec: values are States.
type Codec = processors.JSON[State]

var listings = processors.Output{Topic: topics.Listings, Type: topics.TypeListingChanged}

// Graph is the listing processor; production runs it as Group, tests under
// names of their own.
func Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return goka.DefineGroup(group,
		processors.Input(rt, group, topics.CatalogChanges, topics.TypeCatalogItemChanged, listings, ApplyCatalog),
		processors.Input(rt, group, topics.InventoryChanges, topics.TypeInventoryItemChanged, listings, ApplyInventory),
		processors.DeadLetters(topics.CatalogChanges),
		processors.DeadLetters(topics.InventoryChanges),
		listings.Edge(),
		goka.Persist(Codec{}),
	)
}

// State is the table value: the listing as last emitted, and where the
// change that emitted it was read.
type State struct {
	topics.Listing
	Emitted processors.Position `json:"emitted"`
}

// AppendJSON appends the state's JSON as encoding/json writes it, so the
// table codec writes it without reflection: the embedded listing's
// fields, then where it was emitted.
func (s State) AppendJSON(b []byte) ([]byte, error) {
	b, err := s.Listing.AppendJSON(b)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], `,"emitted":`...) // reopen the object
	return append(s.Emitted.AppendJSON(b), '}'), nil
}

// ApplyCatalog merges a catalog change into the item's listing (the zero
// State if there is none) unless the listing reflects that catalog version
// or a newer one. A listing made from stock alone has no title until its
// catalog item arrives.
func ApplyCatalog(cur State, in processors.In, c topics.CatalogItemChanged) (State, processors.Verdict) {
	return cur.merge(in, c.ItemID, c.Version, cur.CatalogVersion, func(l *topics.Listing) {
		l.CatalogVersion = c.Version
		l.SupplierID, l.Title, l.Description = c.SupplierID, c.Title, c.Description
		l.Category, l.Brand, l.Attributes = c.Category, c.Brand, c.Attributes
		l.PriceCents, l.Currency = c.PriceCents, c.Currency
		if l.CreatedAt.IsZero() {
			// The first catalog change the listing sees is the item's
			// first (version 1) unless catalog.changes lost it to retention.
			l.CreatedAt = in.At
		}
	})
}

// ApplyInventory merges an inventory change into the item's listing unless
// the listing reflects that inventory version or a newer one.
func ApplyInventory(cur State, in processors.In, inv topics.InventoryItemChanged) (State, processors.Verdict) {
	return cur.merge(in, inv.ItemID, inv.Version, cur.InventoryVersion, func(l *topics.Listing) {
		l.InventoryVersion = inv.Version
		l.OnHand = inv.OnHand
	})
}

// merge applies an input change of version to the listing with set unless
// the listing already reflects version (has), bumps the listing's version
// and emits it. UpdatedAt is the latest event time the listing reflects:
// the two inputs may arrive in either order.
func (s State) merge(in processors.In, itemID string, version, has int64, set func(*topics.Listing)) (State, processors.Verdict) {
	if itemID != in.Key {
		return s, processors.WrongKey(in.Key, itemID)
	}
	if version <= has {
		return s, processors.Again(s.Emitted, in, s.Listing)
	}
	set(&s.Listing)
	s.ItemID = itemID
	s.Version++
	if in.At.After(s.UpdatedAt) {
		s.UpdatedAt = in.At
	}
	s.Emitted = in.Pos
	return s, processors.Changed(s.Listing)
}
