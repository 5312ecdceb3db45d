// Package reconcile compares the order-taking database with the stream
// side after quiescence: on-hand stock with the inventory processor's
// table, committed stock with the orders that hold it, and every order
// with the order processor's table. Compare is a plain function; the
// reconcile command gathers the two snapshots and prints what it returns.
package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shopstream/shopstream/lifecycle"
)

// Order is what both sides know of an order.
type Order struct {
	OrderID string
	UserID  string
	Status  lifecycle.Status
	// Units is the quantity per item.
	Units map[string]int64
}

// Stock is the database's stock of one item.
type Stock struct {
	OnHand    int64
	Committed int64
}

// DB is the order-taking database's side.
type DB struct {
	Stock  map[string]Stock
	Orders map[string]Order
}

// Stream is the processors' side: on-hand per item from the inventory
// table and the order table.
type Stream struct {
	OnHand map[string]int64
	Orders map[string]Order
}

// Difference is one disagreement, named by what it is about.
type Difference struct {
	// Kind is "stock" or "order".
	Kind string `json:"kind"`
	// ID is the item or order id.
	ID     string `json:"id"`
	Detail string `json:"detail"`
}

func (d Difference) String() string { return d.Kind + " " + d.ID + ": " + d.Detail }

// Compare lists every difference between db and stream, sorted by kind and
// id. An item missing on one side counts as zero there.
func Compare(db DB, stream Stream) []Difference {
	var diffs []Difference
	add := func(kind, id, format string, args ...any) {
		diffs = append(diffs, Difference{Kind: kind, ID: id, Detail: fmt.Sprintf(format, args...)})
	}
	dbHeld, streamHeld := held(db.Orders), held(stream.Orders)
	items := map[string]bool{}
	for _, m := range []map[string]int64{stream.OnHand, dbHeld, streamHeld} {
		for id := range m {
			items[id] = true
		}
	}
	for id := range db.Stock {
		items[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(items)) {
		s := db.Stock[id]
		if s.OnHand != stream.OnHand[id] {
			add("stock", id, "on_hand is %d in the database, %d in the inventory table", s.OnHand, stream.OnHand[id])
		}
		if s.Committed != dbHeld[id] {
			add("stock", id, "committed is %d, but the database's orders hold %d", s.Committed, dbHeld[id])
		}
		if s.Committed != streamHeld[id] {
			add("stock", id, "committed is %d in the database, but the order table's orders hold %d", s.Committed, streamHeld[id])
		}
	}
	ids := map[string]bool{}
	for id := range db.Orders {
		ids[id] = true
	}
	for id := range stream.Orders {
		ids[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		d, inDB := db.Orders[id]
		s, inStream := stream.Orders[id]
		switch {
		case !inStream:
			add("order", id, "is %s in the database and missing from the order table", d.Status)
		case !inDB:
			add("order", id, "is %s in the order table and missing from the database", s.Status)
		default:
			if d.Status != s.Status {
				add("order", id, "is %s in the database, %s in the order table", d.Status, s.Status)
			}
			if d.UserID != s.UserID {
				add("order", id, "belongs to user %s in the database, %s in the order table", d.UserID, s.UserID)
			}
			if !maps.Equal(d.Units, s.Units) {
				add("order", id, "lines are %s in the database, %s in the order table", units(d.Units), units(s.Units))
			}
		}
	}
	return diffs
}

// held sums, per item, the units of the orders that hold stock.
func held(orders map[string]Order) map[string]int64 {
	m := map[string]int64{}
	for _, o := range orders {
		if lifecycle.HoldsStock(o.Status) {
			for item, q := range o.Units {
				m[item] += q
			}
		}
	}
	return m
}

func units(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s x%d", id, m[id]))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
