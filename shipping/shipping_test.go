package shipping

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

func placed(t *testing.T, orderID string, at time.Time) topics.Event {
	return pt.Event(t, topics.TypeOrderPlaced, orderID, topics.OrderTransition{OrderID: orderID, UserID: "u-" + orderID}, topics.At(at))
}

// The steps, as plain functions: due at input time plus delay, ids
// derived from the input, the parcel keeping its carrier and tracking.
func TestNextStep(t *testing.T) {
	s := steps{shipAfter: 10 * time.Minute, deliverAfter: 2 * time.Hour, carrier: "acme"}
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	in := placed(t, "o-1", at)
	ship, delay, ok, err := s.next(in)
	if err != nil || !ok || delay != 10*time.Minute {
		t.Fatalf("placed: ok %v, delay %v, err %v", ok, delay, err)
	}
	parcel := topics.Shipment{OrderID: "o-1", UserID: "u-o-1", Carrier: "acme", Tracking: Tracking("o-1")}
	if ship.Type != topics.TypeShipmentShipped || ship.Key != "o-1" || ship.ID != processors.OutputID(Name, in.ID) ||
		!ship.OccurredAt.Equal(at.Add(10*time.Minute)) || ship.Data != parcel {
		t.Fatalf("shipped %+v", ship)
	}

	// Delivery keeps the carrier the parcel left with, whatever the role's
	// carrier is now.
	s.carrier = "other"
	deliver, delay, ok, err := s.next(ship)
	if err != nil || !ok || delay != 2*time.Hour {
		t.Fatalf("shipped: ok %v, delay %v, err %v", ok, delay, err)
	}
	if deliver.Type != topics.TypeShipmentDelivered || deliver.ID != processors.OutputID(Name, ship.ID) ||
		!deliver.OccurredAt.Equal(at.Add(10*time.Minute+2*time.Hour)) || deliver.Data != parcel {
		t.Fatalf("delivered %+v", deliver)
	}

	for _, ev := range []topics.Event{
		pt.Event(t, topics.TypeOrderCreated, "o-1", topics.OrderCreated{OrderID: "o-1"}),
		pt.Event(t, topics.TypeOrderCanceled, "o-1", topics.OrderTransition{OrderID: "o-1"}),
		pt.Event(t, topics.TypeOrderShipped, "o-1", topics.OrderTransition{OrderID: "o-1"}),
		deliver,
	} {
		if _, _, ok, err := s.next(ev); ok || err != nil {
			t.Errorf("%s: ok %v, err %v; want it ignored", ev.Type, ok, err)
		}
	}
	if _, _, _, err := s.next(placed(t, "", at)); err == nil || !strings.Contains(err.Error(), "has no order id") {
		t.Errorf("placed without an order id: %v", err)
	}
}

func TestTrackingIsDerivedFromTheOrder(t *testing.T) {
	a, again, b := Tracking("o-1"), Tracking("o-1"), Tracking("o-2")
	if a != again || a == b || len(a) != 18 || !strings.HasPrefix(a, "SS") {
		t.Fatalf("tracking ids %q, %q again, %q for another order", a, again, b)
	}
}

func TestNewRoleRefusesBadOptions(t *testing.T) {
	for _, c := range []struct {
		opt  Option
		want string
	}{
		{ShipAfter(-time.Second), "shipping: ship-after delay -1s is negative"},
		{DeliverAfter(-time.Minute), "shipping: deliver-after delay -1m0s is negative"},
		{Carrier(" "), "shipping: the carrier name is empty"},
	} {
		if _, err := NewRole(nil, "g", nil, c.opt); err == nil || err.Error() != c.want {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}

const wait = 30 * time.Second

// rig is a Kafka holding the topic catalog, a producer and a tail of
// shipment.events, for one test.
type rig struct {
	k     *pt.Kafka
	kopts []kgo.Opt
	p     *eventlog.Producer
	out   *pt.Tail
}

func newRig(t *testing.T) *rig {
	t.Helper()
	k := pt.StartKafka(t)
	kopts, p := k.Producer(t, "shipping-test")
	return &rig{k: k, kopts: kopts, p: p, out: k.Tail(t, topics.ShipmentEvents)}
}

// group names a new consumer group that starts at the current end of the
// inputs, so on a shared Kafka it reads only this test's events.
func (r *rig) group(t *testing.T) string {
	g := testkafka.Unique("shipping")
	r.k.StartGroupAtEnd(t, goka.Group(g), Inputs...)
	return g
}

func (r *rig) run(t *testing.T, group string, opts ...Option) {
	t.Helper()
	role, err := NewRole(r.kopts, group, r.p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- role.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("role stopped with %v", err)
		}
	})
}

func (r *rig) publish(t *testing.T, evs ...topics.Event) {
	t.Helper()
	if err := r.p.Publish(context.Background(), topics.OrderEvents, evs...); err != nil {
		t.Fatal(err)
	}
}

func assertSteps(t *testing.T, got []topics.Event, in topics.Event, carrier string, shipAt, deliverAt time.Time) {
	t.Helper()
	if len(got) != 2 {
		t.Fatalf("%d shipment events, want shipped then delivered: %+v", len(got), got)
	}
	order := in.Key
	parcel := topics.Shipment{OrderID: order, UserID: "u-" + order, Carrier: carrier, Tracking: Tracking(order)}
	shipID := processors.OutputID(Name, in.ID)
	for i, w := range []struct {
		typ, id string
		at      time.Time
	}{{topics.TypeShipmentShipped, shipID, shipAt}, {topics.TypeShipmentDelivered, processors.OutputID(Name, shipID), deliverAt}} {
		if g := got[i]; g.Type != w.typ || g.ID != w.id || !g.OccurredAt.Equal(w.at) || g.Data != parcel {
			t.Errorf("event %d: %+v, want %s %s at %v with %+v", i, g, w.typ, w.id, w.at, parcel)
		}
	}
}

// An order placed an hour ago with 10 and 20 minute delays is shipped and
// delivered at once, stamped 10 and 30 minutes after its placement: the
// delays run from event time, not from when the role reads the event.
// The order's other events are ignored.
func TestRoleShipsThenDeliversOnEventTime(t *testing.T) {
	r := newRig(t)
	r.run(t, r.group(t), ShipAfter(10*time.Minute), DeliverAfter(20*time.Minute), Carrier("acme"))
	order := testkafka.Unique("o")
	at := time.Now().Add(-time.Hour).UTC()
	in := placed(t, order, at)
	r.publish(t, pt.Event(t, topics.TypeOrderCreated, order, topics.OrderCreated{OrderID: order, TotalCents: 1, Currency: "USD"}, topics.At(at)), in)
	got := r.out.Wait(t, 2, wait, pt.Keys(order))
	assertSteps(t, got, in, "acme", at.Add(10*time.Minute), at.Add(30*time.Minute))
}

// Live delays: each step is stamped with its due time and is not published
// before it.
func TestRoleWaitsForTheDelays(t *testing.T) {
	r := newRig(t)
	r.run(t, r.group(t), ShipAfter(300*time.Millisecond), DeliverAfter(200*time.Millisecond))
	order := testkafka.Unique("o")
	in := placed(t, order, time.Now())
	r.publish(t, in)
	got := r.out.Wait(t, 2, wait, pt.Keys(order))
	seen := time.Now()
	deliverAt := in.OccurredAt.Add(500 * time.Millisecond)
	assertSteps(t, got, in, DefaultCarrier, in.OccurredAt.Add(300*time.Millisecond), deliverAt)
	if seen.Before(deliverAt) {
		t.Fatalf("delivered seen at %v, before it was due at %v", seen, deliverAt)
	}
}

// A role that shipped an order but crashed before committing is replaced
// in the same group: the new one ships it again under the same id and
// stamp (the delay is not reset), then delivers it.
func TestRoleRestartedBeforeCommitRepublishesTheSameSteps(t *testing.T) {
	r := newRig(t)
	group := r.group(t)
	order := testkafka.Unique("o")
	at := time.Now().Add(-3 * time.Hour).UTC()
	in := placed(t, order, at)
	r.publish(t, in)

	first := &shipper{steps: steps{shipAfter: time.Hour, deliverAfter: time.Hour, carrier: DefaultCarrier}, out: r.p, source: group, log: slog.Default()}
	ctx, crash := context.WithCancel(context.Background())
	crashing := func(ctx context.Context, batch []eventlog.Delivery) error {
		if err := first.handle(ctx, batch); err != nil {
			return err
		}
		crash()
		return errors.New("crashed before the commit")
	}
	c, err := eventlog.NewConsumer(r.kopts, group, Inputs, crashing, r.p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	shipped := r.out.Wait(t, 1, wait, pt.Keys(order))

	r.run(t, group, ShipAfter(time.Hour), DeliverAfter(time.Hour))
	// The new member ships again and delivers each shipped record it reads
	// (the first member's and its own), in whatever order its batch holds
	// the two topics: the same two events, under the same ids.
	byType := func(evs []topics.Event) map[string]topics.Event {
		m := map[string]topics.Event{}
		for _, ev := range evs[len(shipped):] {
			if prev, ok := m[ev.Type]; ok && (prev.ID != ev.ID || !prev.OccurredAt.Equal(ev.OccurredAt) || prev.Data != ev.Data) {
				t.Fatalf("%s published twice with different content: %+v and %+v", ev.Type, prev, ev)
			}
			m[ev.Type] = ev
		}
		return m
	}
	got := byType(r.out.Until(t, wait, pt.Keys(order), func(evs []topics.Event) bool { return len(byType(evs)) == 2 }))
	again := []topics.Event{got[topics.TypeShipmentShipped], got[topics.TypeShipmentDelivered]}
	assertSteps(t, again, in, DefaultCarrier, at.Add(time.Hour), at.Add(2*time.Hour))
	if s, a := shipped[0], again[0]; s.ID != a.ID || !s.OccurredAt.Equal(a.OccurredAt) || s.Data != a.Data {
		t.Fatalf("republished %+v, first published %+v", a, s)
	}
}

// A placed order without an order id goes to order.events.dlq with the
// reason.
func TestRoleDeadLettersAPlacementWithoutOrder(t *testing.T) {
	r := newRig(t)
	dlq := r.k.Tail(t, topics.DeadLetterTopic(topics.OrderEvents))
	group := r.group(t)
	r.run(t, group)
	key := testkafka.Unique("k")
	bad := pt.Event(t, topics.TypeOrderPlaced, key, topics.OrderTransition{UserID: "u-1"})
	r.publish(t, bad)
	d := dlq.Wait(t, 1, wait, pt.Keys(key))[0].Data.(topics.DeadLetter)
	if d.Source != group || !strings.Contains(d.Reason, "order.placed "+bad.ID+" has no order id") {
		t.Fatalf("dead letter %+v", d)
	}
}
