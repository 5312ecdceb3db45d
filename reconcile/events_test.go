package reconcile

import (
	"strings"
	"testing"

	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// event builds an order event of typ for order id.
func event(t *testing.T, typ, id string) topics.Event {
	t.Helper()
	var data any = topics.OrderTransition{OrderID: id, UserID: "u-1"}
	if typ == topics.TypeOrderCreated {
		data = topics.OrderCreated{OrderID: id, UserID: "u-1", Lines: []topics.OrderLine{{ItemID: "i-1", Quantity: 1, PriceCents: 100}}, TotalCents: 100, Currency: "USD"}
	}
	ev, err := topics.New(typ, id, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// story adds the events of an order's way to its status to ev.
func story(t *testing.T, ev *Events, id string, types ...string) {
	for _, typ := range append([]string{topics.TypeOrderCreated}, types...) {
		ev.AddOrder(event(t, typ, id))
	}
}

// One order in each status, each way to refunded, live or in history,
// with their events on order.events.
func ordersAndEvents(t *testing.T) (DB, Stream) {
	live := map[string]Order{
		"o-created": order("o-created", lifecycle.Created, nil),
		"o-placed":  order("o-placed", lifecycle.Placed, nil),
		"o-shipped": order("o-shipped", lifecycle.Shipped, nil),
	}
	hist := map[string]Order{
		"o-delivered":  order("o-delivered", lifecycle.Delivered, nil),
		"o-canceled":   order("o-canceled", lifecycle.Canceled, nil),
		"o-refunded-1": order("o-refunded-1", lifecycle.Refunded, nil),
		"o-refunded-2": order("o-refunded-2", lifecycle.Refunded, nil),
	}
	ev := NewEvents(true, false)
	story(t, ev, "o-created")
	story(t, ev, "o-placed", topics.TypeOrderPlaced)
	story(t, ev, "o-shipped", topics.TypeOrderPlaced, topics.TypeOrderShipped)
	story(t, ev, "o-delivered", topics.TypeOrderPlaced, topics.TypeOrderShipped, topics.TypeOrderDelivered)
	story(t, ev, "o-canceled", topics.TypeOrderCanceled)
	story(t, ev, "o-refunded-1", topics.TypeOrderPlaced, topics.TypeOrderRefunded)
	story(t, ev, "o-refunded-2", topics.TypeOrderCanceled, topics.TypeOrderRefunded)
	table := map[string]Order{}
	for _, m := range []map[string]Order{live, hist} {
		for id, o := range m {
			table[id] = o
		}
	}
	return DB{Stock: map[string]Stock{}, Orders: live, History: hist}, Stream{Orders: table, Events: ev}
}

func TestOrdersAgreeWithTheOrderEvents(t *testing.T) {
	db, stream := ordersAndEvents(t)
	// A republished event is the same event.
	db.Orders["o-again"] = order("o-again", lifecycle.Created, nil)
	stream.Orders["o-again"] = db.Orders["o-again"]
	again := event(t, topics.TypeOrderCreated, "o-again")
	stream.Events.AddOrder(again)
	stream.Events.AddOrder(again)
	if d := Compare(db, stream); len(d) != 0 {
		t.Fatalf("differences %v", d)
	}
}

func TestEveryOrderOnceAndCountsAsTheTopicSays(t *testing.T) {
	db, stream := ordersAndEvents(t)
	ev := stream.Events
	// Lost: on the topic and in the order table, in neither store.
	delete(db.History, "o-canceled")
	// Never published: in the database without its events.
	db.Orders["o-quiet"] = order("o-quiet", lifecycle.Placed, nil)
	stream.Orders["o-quiet"] = db.Orders["o-quiet"]
	// Checked out twice under one id.
	ev.AddOrder(event(t, topics.TypeOrderCreated, "o-placed"))
	// A second way to refunded for one order.
	ev.AddOrder(event(t, topics.TypeOrderCanceled, "o-refunded-1"))
	// An event of a type order.events does not carry is not counted.
	ev.AddOrder(topics.Event{ID: topics.NewID(), Type: topics.TypePaymentSucceeded, Key: "o-placed"})

	want := []string{
		"order o-canceled: is canceled in the order table and missing from the database and history",
		"order o-canceled: has order.created on order.events, but is in neither the database nor history",
		"order o-placed: has 2 order.created events (distinct event ids) on order.events",
		"order o-quiet: is placed in the database, but order.events holds no order.created event for it",
		"events order.created: order.events holds 8 distinct events; the orders' statuses account for 7",
		"events order.canceled: order.events holds 3 distinct events; the orders' statuses account for 0 to 2",
		"events order.events: holds 20 distinct order events in all; the orders' statuses account for 18",
	}
	if got := lines(Compare(db, stream)); got != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}

	// Retention deleted the topic's oldest events: what needs its whole
	// history is not checked; an order it has that the stores lost still
	// is.
	ev.Trimmed = []string{topics.OrderEvents}
	want = []string{
		"order o-canceled: is canceled in the order table and missing from the database and history",
		"order o-canceled: has order.created on order.events, but is in neither the database nor history",
		"order o-placed: has 2 order.created events (distinct event ids) on order.events",
	}
	if got := lines(Compare(db, stream)); got != strings.Join(want, "\n") {
		t.Fatalf("trimmed: got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// Refunded orders leave placed and canceled within a range; a shipped or
// delivered order pins its earlier steps.
func TestExpectedSpansFollowTheLifecycle(t *testing.T) {
	want := expected(map[lifecycle.Status]int64{lifecycle.Delivered: 2, lifecycle.Refunded: 3, lifecycle.Canceled: 1})
	for s, w := range map[lifecycle.Status]span{
		lifecycle.Created:   {6, 6},
		lifecycle.Placed:    {2, 5},
		lifecycle.Shipped:   {2, 2},
		lifecycle.Delivered: {2, 2},
		lifecycle.Canceled:  {1, 4},
		lifecycle.Refunded:  {3, 3},
		lifecycle.None:      {2*4 + 3*3 + 2, 2*4 + 3*3 + 2},
	} {
		if want[s] != w {
			t.Errorf("%q: %v, want %v", s, want[s], w)
		}
	}
}

func TestAnalyticsCountsMatchTheTopics(t *testing.T) {
	ev := NewEvents(true, true)
	placed := event(t, topics.TypeOrderPlaced, "o-1")
	for _, e := range []topics.Event{event(t, topics.TypeOrderCreated, "o-1"), placed, placed} {
		ev.AddAnalytics(e)
		ev.AddOrder(e)
	}
	db := DB{Orders: map[string]Order{"o-1": order("o-1", lifecycle.Placed, nil)},
		Analytics: map[string]int64{topics.TypeOrderCreated: 1, topics.TypeOrderPlaced: 1}}
	stream := Stream{Orders: db.Orders, Events: ev}
	if d := Compare(db, stream); len(d) != 0 {
		t.Fatalf("differences %v", d)
	}
	db.Analytics = map[string]int64{topics.TypeOrderCreated: 1, topics.TypeMembershipConverted: 2}
	want := []string{
		"analytics membership.converted: the analytics store holds 2 distinct events, the topics it reads 0",
		"analytics order.placed: the analytics store holds 0 distinct events, the topics it reads 1",
	}
	if got := lines(Compare(db, stream)); got != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	// Either topic trimmed leaves the analytics counts out.
	ev.Trimmed = []string{topics.MembershipEvents}
	if d := Compare(db, stream); len(d) != 0 {
		t.Fatalf("differences with membership.events trimmed %v", d)
	}

	// Counting for analytics alone checks no order against order.events.
	only := NewEvents(false, true)
	only.AddOrder(event(t, topics.TypeOrderCreated, "o-2"))
	only.AddAnalytics(event(t, topics.TypeOrderCreated, "o-1"))
	db.Analytics = map[string]int64{topics.TypeOrderCreated: 1}
	if d := Compare(db, Stream{Orders: db.Orders, Events: only}); len(d) != 0 || only.OrderEvents != nil {
		t.Fatalf("differences %v, order events counted %v", d, only.OrderEvents)
	}
}
