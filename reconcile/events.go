package reconcile

import (
	"maps"
	"slices"
	"strconv"

	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// Events is what the event topics hold, each event counted once by its id:
// a redelivered or republished event is the same event, and every
// consumer keeps it once.
type Events struct {
	// OrderEvents counts the order events by type; nil when they are not
	// counted.
	OrderEvents map[string]int64
	// Created counts each order's order.created events (nil with
	// OrderEvents).
	Created map[string]int64
	// Analytics counts by type the events the analytics sink stores; nil
	// when they are not counted.
	Analytics map[string]int64
	// Trimmed lists the topics whose oldest records retention deleted:
	// their counts miss those events, and the checks that need a topic's
	// whole history leave it out.
	Trimmed []string
	// seen holds, per event id, the counts it is in (counted bits).
	seen map[string]counted
}

type counted uint8

const (
	countedOrder counted = 1 << iota
	countedAnalytics
)

// NewEvents is an empty count of the order events when orders says, and
// of the events the analytics sink stores when analytics says.
func NewEvents(orders, analytics bool) *Events {
	e := &Events{seen: map[string]counted{}}
	if orders {
		e.OrderEvents, e.Created = map[string]int64{}, map[string]int64{}
	}
	if analytics {
		e.Analytics = map[string]int64{}
	}
	return e
}

// once reports whether ev is new to the count c, and marks it.
func (e *Events) once(ev topics.Event, c counted) bool {
	had := e.seen[ev.ID]
	e.seen[ev.ID] = had | c
	return had&c == 0
}

// AddOrder counts an event read from order.events. Other types than the
// order events are not the order lifecycle's: their consumers dead-letter
// them.
func (e *Events) AddOrder(ev topics.Event) {
	if _, ok := lifecycle.StatusOf(ev.Type); !ok || e.OrderEvents == nil || !e.once(ev, countedOrder) {
		return
	}
	e.OrderEvents[ev.Type]++
	if ev.Type == topics.TypeOrderCreated {
		id := ev.Key
		if c, ok := ev.Data.(topics.OrderCreated); ok && c.OrderID != "" {
			id = c.OrderID
		}
		e.Created[id]++
	}
}

// AddAnalytics counts an event the analytics sink stores.
func (e *Events) AddAnalytics(ev topics.Event) {
	if e.Analytics != nil && e.once(ev, countedAnalytics) {
		e.Analytics[ev.Type]++
	}
}

func (e *Events) trimmed(names ...string) bool {
	for _, n := range names {
		if slices.Contains(e.Trimmed, n) {
			return true
		}
	}
	return false
}

// compareCounts checks the count of each order event type against the
// orders' statuses: every order has had the events of the statuses on its
// way to its own. A refunded order went through placed or through
// canceled, which its status does not tell, so those two types are
// checked within a range and all the types together exactly.
func compareCounts(diffs *differences, stored map[string]Order, counts map[string]int64) {
	byStatus := map[lifecycle.Status]int64{}
	for _, o := range stored {
		byStatus[o.Status]++
	}
	want := expected(byStatus)
	var total int64
	for _, s := range lifecycle.Statuses {
		typ := eventType[s]
		got, w := counts[typ], want[s]
		total += got
		if got < w.min || got > w.max {
			diffs.add("events", typ, "order.events holds %d distinct events; the orders' statuses account for %s", got, w)
		}
	}
	if w := want[lifecycle.None]; total < w.min || total > w.max {
		diffs.add("events", topics.OrderEvents, "holds %d distinct order events in all; the orders' statuses account for %s", total, w)
	}
}

// span is how many events the orders account for: exactly min when it
// equals max.
type span struct{ min, max int64 }

func (s span) String() string {
	if s.min == s.max {
		return strconv.FormatInt(s.min, 10)
	}
	return strconv.FormatInt(s.min, 10) + " to " + strconv.FormatInt(s.max, 10)
}

// expected is, for each status, the span of events recording it that
// orders in the statuses counted have had; at None, the span of all their
// events together.
func expected(byStatus map[lifecycle.Status]int64) map[lifecycle.Status]span {
	want := map[lifecycle.Status]span{}
	for st, n := range byStatus {
		rs := routes[st]
		if len(rs) == 0 {
			continue
		}
		shortest, longest := len(rs[0]), len(rs[0])
		for _, s := range lifecycle.Statuses {
			on := 0
			for _, r := range rs {
				if slices.Contains(r, s) {
					on++
				}
			}
			w := want[s]
			if on == len(rs) {
				w.min += n
			}
			if on > 0 {
				w.max += n
			}
			want[s] = w
		}
		for _, r := range rs {
			shortest, longest = min(shortest, len(r)), max(longest, len(r))
		}
		all := want[lifecycle.None]
		all.min += n * int64(shortest)
		all.max += n * int64(longest)
		want[lifecycle.None] = all
	}
	return want
}

// routes lists, for each status, the statuses an order in it has been in,
// along each way the lifecycle allows to it (lifecycle.Follows).
var routes = func() map[lifecycle.Status][][]lifecycle.Status {
	rs := map[lifecycle.Status][][]lifecycle.Status{}
	var walk func(cur lifecycle.Status, route []lifecycle.Status)
	walk = func(cur lifecycle.Status, route []lifecycle.Status) {
		// The lifecycle has no cycles; the bound keeps one from hanging.
		if len(route) > len(lifecycle.Statuses) {
			return
		}
		for _, next := range lifecycle.Statuses {
			if lifecycle.Follows(cur, next) {
				r := append(slices.Clone(route), next)
				rs[next] = append(rs[next], r)
				walk(next, r)
			}
		}
	}
	walk(lifecycle.None, nil)
	return rs
}()

// eventType is the order event type that records each status.
var eventType = func() map[lifecycle.Status]string {
	m := map[lifecycle.Status]string{}
	t, _ := topics.Lookup(topics.Catalog(topics.Settings{Partitions: 1, Replication: 1}), topics.OrderEvents)
	for _, typ := range t.Types {
		if s, ok := lifecycle.StatusOf(typ); ok {
			m[s] = typ
		}
	}
	return m
}()

// compareAnalytics checks the analytics store's count of each event type
// against the topics'.
func compareAnalytics(diffs *differences, stored, topic map[string]int64) {
	types := map[string]bool{}
	for _, m := range []map[string]int64{stored, topic} {
		for typ := range m {
			types[typ] = true
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(types)) {
		if stored[typ] != topic[typ] {
			diffs.add("analytics", typ, "the analytics store holds %d distinct events, the topics it reads %d", stored[typ], topic[typ])
		}
	}
}
