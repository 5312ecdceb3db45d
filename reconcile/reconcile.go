// Package reconcile compares the stores with the stream side after
// quiescence: on-hand stock with the inventory processor's table,
// committed stock with the orders that hold it, every order with the order
// processor's table and with order.events (each order once, live in the
// order-taking database or in history, and as many events of each type as
// the orders' statuses account for), and the analytics store's event
// counts with the topics its sink reads. Compare is a plain function; the
// Reader counts the topics (Events), and the reconcile command gathers the
// two sides and prints what Compare returns.
package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/topics"
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

// DB is the stores' side: the order-taking database, the history store
// and the analytics store.
type DB struct {
	Stock map[string]Stock
	// Orders are the orders in the order-taking database.
	Orders map[string]Order
	// History holds the orders that left the database; nil when no
	// history store was read.
	History map[string]Order
	// Analytics counts the analytics store's distinct events by type; nil
	// when it was not read.
	Analytics map[string]int64
}

// Stream is the processors' side: on-hand per item from the inventory
// table, the order table, and what the event topics hold.
type Stream struct {
	OnHand map[string]int64
	Orders map[string]Order
	// Events is what the event topics hold; nil when they were not read.
	Events *Events
}

// Difference is one disagreement, named by what it is about.
type Difference struct {
	// Kind is "stock", "order", "events" (an order event type's count) or
	// "analytics" (an event type's count in the analytics store).
	Kind string `json:"kind"`
	// ID is the item id, order id or event type.
	ID     string `json:"id"`
	Detail string `json:"detail"`
}

func (d Difference) String() string { return d.Kind + " " + d.ID + ": " + d.Detail }

// differences collects Compare's findings.
type differences []Difference

func (ds *differences) add(kind, id, format string, args ...any) {
	*ds = append(*ds, Difference{Kind: kind, ID: id, Detail: fmt.Sprintf(format, args...)})
}

// Compare lists every difference between db and stream: stock and orders
// by id, then the order event counts in lifecycle order, then the
// analytics counts by type. An item missing on one side counts as zero
// there. An order in both the database and history is a difference: after
// quiescence a migration has deleted what it wrote. The order events are
// checked when stream.Events counts them, the analytics counts when it
// counts them and db.Analytics is read; what needs a topic's whole
// history is left out when retention deleted its oldest records
// (Events.Trimmed).
func Compare(db DB, stream Stream) []Difference {
	var diffs differences
	stored := merge(db)
	compareStock(&diffs, db.Stock, stored, stream)
	compareOrders(&diffs, db, stored, stream)
	if ev := stream.Events; ev != nil {
		if ev.OrderEvents != nil && !ev.trimmed(topics.OrderEvents) {
			compareCounts(&diffs, stored, ev.OrderEvents)
		}
		if db.Analytics != nil && ev.Analytics != nil && !ev.trimmed(analytics.Inputs...) {
			compareAnalytics(&diffs, db.Analytics, ev.Analytics)
		}
	}
	return diffs
}

// merge is every order the stores hold, the database's copy where both
// hold one (it is never older).
func merge(db DB) map[string]Order {
	m := maps.Clone(db.History)
	if m == nil {
		m = map[string]Order{}
	}
	maps.Copy(m, db.Orders)
	return m
}

func compareStock(diffs *differences, stock map[string]Stock, stored map[string]Order, stream Stream) {
	dbHeld, streamHeld := held(stored), held(stream.Orders)
	items := map[string]bool{}
	for _, m := range []map[string]int64{stream.OnHand, dbHeld, streamHeld} {
		for id := range m {
			items[id] = true
		}
	}
	for id := range stock {
		items[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(items)) {
		s := stock[id]
		if s.OnHand != stream.OnHand[id] {
			diffs.add("stock", id, "on_hand is %d in the database, %d in the inventory table", s.OnHand, stream.OnHand[id])
		}
		if s.Committed != dbHeld[id] {
			diffs.add("stock", id, "committed is %d, but the database's orders hold %d", s.Committed, dbHeld[id])
		}
		if s.Committed != streamHeld[id] {
			diffs.add("stock", id, "committed is %d in the database, but the order table's orders hold %d", s.Committed, streamHeld[id])
		}
	}
}

// compareOrders checks each order: in one store only, as the order table
// has it, and with one order.created event.
func compareOrders(diffs *differences, db DB, stored map[string]Order, stream Stream) {
	ev := stream.Events
	if ev != nil && ev.OrderEvents == nil {
		ev = nil
	}
	ids := map[string]bool{}
	for _, m := range []map[string]Order{stored, stream.Orders} {
		for id := range m {
			ids[id] = true
		}
	}
	if ev != nil {
		for id := range ev.Created {
			ids[id] = true
		}
	}
	missing, neither := "the database", "is not in the database"
	if db.History != nil {
		missing, neither = "the database and history", "is in neither the database nor history"
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		d, inStores := stored[id]
		s, inStream := stream.Orders[id]
		if h, inHistory := db.History[id]; inHistory {
			if live, inDB := db.Orders[id]; inDB {
				if same(live, h) {
					diffs.add("order", id, "is in both the database and history, the same copy: a migration has yet to delete it from the database")
				} else {
					diffs.add("order", id, "is in both the database and history: %s in the database, %s in history", describe(live), describe(h))
				}
			}
		}
		switch {
		case !inStream && !inStores:
			// Only on order.events: checked below.
		case !inStream:
			diffs.add("order", id, "is %s in %s and missing from the order table", d.Status, where(db, id))
		case !inStores:
			diffs.add("order", id, "is %s in the order table and missing from %s", s.Status, missing)
		default:
			if d.Status != s.Status {
				diffs.add("order", id, "is %s in %s, %s in the order table", d.Status, where(db, id), s.Status)
			}
			if d.UserID != s.UserID {
				diffs.add("order", id, "belongs to user %s in %s, %s in the order table", d.UserID, where(db, id), s.UserID)
			}
			if !maps.Equal(d.Units, s.Units) {
				diffs.add("order", id, "lines are %s in %s, %s in the order table", units(d.Units), where(db, id), units(s.Units))
			}
		}
		if ev == nil {
			continue
		}
		switch n := ev.Created[id]; {
		case n == 0 && inStores && !ev.trimmed(topics.OrderEvents):
			diffs.add("order", id, "is %s in %s, but order.events holds no order.created event for it", d.Status, where(db, id))
		case n > 0 && !inStores:
			diffs.add("order", id, "has order.created on order.events, but %s", neither)
		}
		if n := ev.Created[id]; n > 1 {
			diffs.add("order", id, "has %d order.created events (distinct event ids) on order.events", n)
		}
	}
}

// where names the store that holds order id.
func where(db DB, id string) string {
	if _, ok := db.Orders[id]; ok {
		return "the database"
	}
	return "history"
}

func same(a, b Order) bool {
	return a.UserID == b.UserID && a.Status == b.Status && maps.Equal(a.Units, b.Units)
}

func describe(o Order) string {
	return fmt.Sprintf("%s of user %s with %s", o.Status, o.UserID, units(o.Units))
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
