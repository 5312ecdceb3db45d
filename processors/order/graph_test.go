package order_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/notification"
	"github.com/shopstream/shopstream/processors/order"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

// at is event i's time: tests give every event its own minute.
func at(i int) topics.Option { return topics.At(t0.Add(time.Duration(i) * time.Minute)) }

func createdAt(t testing.TB, i int, order, user string) topics.Event {
	return pt.Event(t, topics.TypeOrderCreated, order, createdData(order, user), at(i))
}

func transitionAt(t testing.TB, i int, typ, order, user, reason string, amount int64) topics.Event {
	tr := topics.OrderTransition{OrderID: order, UserID: user, Reason: reason, AmountCents: amount}
	return pt.Event(t, typ, order, tr, at(i))
}

// Order events in, notifications out, and those into the notification
// table. The two processors run on goka testers of their own: goka's
// tester wants one codec per topic, and the order processor writes
// notifications with topics.Codec while every input reads with
// processors.Lenient.
func TestGraphOnTester(t *testing.T) {
	tt := pt.Tester(t, order.Group, order.Graph)
	out := tt.NewQueueTracker(topics.Notifications)
	dlq := tt.NewQueueTracker(topics.DeadLetterTopic(topics.OrderEvents))

	c1 := createdAt(t, 1, "o-1", "u-1")
	p1 := transitionAt(t, 2, topics.TypeOrderPlaced, "o-1", "u-1", "", 0)
	c2 := createdAt(t, 3, "o-2", "u-1")
	x2 := transitionAt(t, 4, topics.TypeOrderCanceled, "o-2", "u-1", lifecycle.ReasonExpired, 0)
	s1 := transitionAt(t, 5, topics.TypeOrderShipped, "o-1", "u-1", "", 0)
	r2 := transitionAt(t, 6, topics.TypeOrderRefunded, "o-2", "u-1", lifecycle.ReasonLatePayment, 1234)
	c3 := createdAt(t, 7, "o-3", "u-2")
	for _, ev := range []topics.Event{
		c1, p1, c1, c2,
		transitionAt(t, 4, topics.TypeOrderDelivered, "o-2", "u-1", "", 0), // not shipped
		x2, s1, p1, r2, c3,
		transitionAt(t, 8, topics.TypeOrderShipped, "o-3", "u-1", "", 0), // another user
	} {
		tt.Consume(topics.OrderEvents, ev.Key, ev)
	}
	tt.Consume(topics.OrderEvents, "o-1", []byte("{not json"))

	sent := pt.Drain(out)
	applied := []topics.Event{c1, p1, c2, x2, s1, r2, c3}
	if len(sent) != len(applied) {
		t.Fatalf("%d notifications, want %d: %+v", len(sent), len(applied), sent)
	}
	for i, ev := range sent {
		src := applied[i]
		n := ev.Data.(topics.NotificationSent)
		if ev.ID != processors.OutputID("order", src.ID) || ev.Key != n.UserID || ev.Type != topics.TypeNotificationSent ||
			!ev.OccurredAt.Equal(src.OccurredAt) || n.OrderID != src.Key {
			t.Errorf("notification %d: %+v, want one about %s %s keyed by its user", i, ev, src.Type, src.Key)
		}
	}
	if n := sent[5].Data.(topics.NotificationSent); n.Kind != "refunded" ||
		n.Message != "Your order o-2 was refunded USD 12.34: payment succeeded after the order was canceled." {
		t.Errorf("refund notification %+v", n)
	}
	dead := pt.Drain(dlq)
	wantReasons := []string{"order.delivered on an order that is created", `order.shipped for user "u-1" on an order of user "u-2"`, "malformed event"}
	if len(dead) != len(wantReasons) {
		t.Fatalf("%d dead letters, want %d: %+v", len(dead), len(wantReasons), dead)
	}
	for i, ev := range dead {
		if dl := ev.Data.(topics.DeadLetter); !strings.Contains(dl.Reason, wantReasons[i]) || dl.Source != "order" {
			t.Errorf("dead letter %d: %+v, want %q", i, dl, wantReasons[i])
		}
	}
	o1, o2 := tt.TableValue(order.Table, "o-1").(order.Order), tt.TableValue(order.Table, "o-2").(order.Order)
	if o1.Status != lifecycle.Shipped || o1.Version != 3 || !o1.HoldsStock() || o2.Status != lifecycle.Refunded || o2.Version != 3 || o2.HoldsStock() {
		t.Errorf("orders %+v and %+v", o1, o2)
	}

	nt := pt.Tester(t, notification.Group, notification.Graph)
	for _, ev := range sent {
		nt.Consume(topics.Notifications, ev.Key, ev)
	}
	nt.Consume(topics.Notifications, sent[0].Key, sent[0]) // a redelivery
	u1 := nt.TableValue(notification.Table, "u-1").(notification.Inbox)
	var kinds []string
	for _, n := range u1.Notifications {
		kinds = append(kinds, n.Kind+" "+n.OrderID)
	}
	want := []string{"refunded o-2", "shipped o-1", "canceled o-2", "created o-2", "placed o-1", "created o-1"}
	if !slices.Equal(kinds, want) || u1.Notifications[0].ID != sent[5].ID || !u1.Notifications[0].At.Equal(r2.OccurredAt) {
		t.Errorf("u-1's notifications %v, want %v: %+v", kinds, want, u1.Notifications)
	}
	if u2 := nt.TableValue(notification.Table, "u-2").(notification.Inbox); len(u2.Notifications) != 1 || u2.Notifications[0].OrderID != "o-3" {
		t.Errorf("u-2's notifications %+v", u2)
	}
}

func records(t testing.TB, evs ...topics.Event) []*kgo.Record {
	recs := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		recs[i] = pt.Record(t, topics.OrderEvents, ev)
	}
	return recs
}

// kinds lists the kinds of the inbox's notifications among ids, in order:
// on a shared Kafka, other tests' order processors may read this test's
// order events too and notify the same users under ids of their own.
func kinds(inbox notification.Inbox, ids []string) []string {
	var s []string
	for _, n := range inbox.Notifications {
		if slices.Contains(ids, n.ID) {
			s = append(s, n.Kind)
		}
	}
	return s
}

// Both processors over the Kafka protocol: order events, with the relay's
// duplicates and a refused step, become each order's table entry and one
// notification per transition, which lands once in its user's inbox, and
// all of that holds across a restart of the processors (and of the
// embedded broker, on the same data directory).
func TestOrdersToInboxesExactlyOnce(t *testing.T) {
	k := pt.StartKafka(t)
	og, ng := goka.Group(testkafka.Unique("order")), goka.Group(testkafka.Unique("notification"))
	k.StartGroupAtEnd(t, og, topics.OrderEvents)
	k.StartGroupAtEnd(t, ng, topics.Notifications)
	o1, o2, o3 := testkafka.Unique("order"), testkafka.Unique("order"), testkafka.Unique("order")
	u1, u2 := testkafka.Unique("user"), testkafka.Unique("user")

	c1, p1 := createdAt(t, 1, o1, u1), transitionAt(t, 2, topics.TypeOrderPlaced, o1, u1, "", 0)
	c2, x2 := createdAt(t, 3, o2, u1), transitionAt(t, 4, topics.TypeOrderCanceled, o2, u1, lifecycle.ReasonExpired, 0)
	shipCanceled := transitionAt(t, 5, topics.TypeOrderShipped, o2, u1, "", 0)
	s1, r2 := transitionAt(t, 6, topics.TypeOrderShipped, o1, u1, "", 0), transitionAt(t, 7, topics.TypeOrderRefunded, o2, u1, lifecycle.ReasonLatePayment, 1234)
	c3 := createdAt(t, 8, o3, u2)
	mine := pt.Outputs(og, pt.IDs(c1, p1, c2, x2, s1, r2, c3)...)
	own := pt.Derive(og, pt.IDs(c1, p1, c2, x2, s1, r2, c3)...)
	notifications := k.Tail(t, topics.Notifications)
	dead := k.Tail(t, topics.DeadLetterTopic(topics.OrderEvents))
	// Dead letters this test's order processor wrote.
	ours := func(ev topics.Event) bool {
		dl, ok := ev.Data.(topics.DeadLetter)
		return ok && dl.Source == string(og)
	}

	run := func() (op, np *goka.Processor, stop func()) {
		rt := k.Runtime()
		op, stopOrder := pt.Run(t, rt, order.Graph(og, rt))
		np, stopNotification := pt.Run(t, rt, notification.Graph(ng, rt))
		return op, np, func() { stopOrder(); stopNotification() }
	}
	k.Produce(t, records(t, c1, p1, c1, c2, x2, p1, shipCanceled)...)
	op, np, stop := run()
	notifications.Wait(t, 4, 30*time.Second, mine)
	pt.WaitValue(t, np, u1, func(in notification.Inbox) bool { return len(kinds(in, own)) == 4 })
	if o := pt.WaitValue(t, op, o2, func(o order.Order) bool { return o.Version == 2 }); o.Status != lifecycle.Canceled || o.HoldsStock() {
		t.Errorf("%s: %+v", o2, o)
	}
	if got := notifications.Quiet(300*time.Millisecond, mine); len(got) != 4 {
		t.Fatalf("%d notifications, want 4 (duplicates skipped): %+v", len(got), got)
	}
	// The refused step is dead-lettered; the duplicates are not: they were
	// applied already.
	dead.Wait(t, 1, 30*time.Second, ours)
	if dl := dead.Quiet(300*time.Millisecond, ours); len(dl) != 1 || dl[0].Data.(topics.DeadLetter).Reason != "order.shipped on an order that is canceled" {
		t.Errorf("dead letters %q, want the shipment of the canceled order only", reasons(dl))
	}
	stop()
	notifications.Stop()
	dead.Stop()

	if k.Embedded() {
		k.Restart(t)
	}
	notifications = k.Tail(t, topics.Notifications)
	dead = k.Tail(t, topics.DeadLetterTopic(topics.OrderEvents))
	k.Produce(t, records(t, p1, s1, c2, r2, c3, x2)...)
	op, np, _ = run()
	in1 := pt.WaitValue(t, np, u1, func(in notification.Inbox) bool { return len(kinds(in, own)) == 6 })
	if want := []string{"refunded", "shipped", "canceled", "created", "placed", "created"}; !slices.Equal(kinds(in1, own), want) {
		t.Errorf("%s's inbox %v, want %v", u1, kinds(in1, own), want)
	}
	// u2 has exactly c3's notification of all this test's.
	in2 := pt.WaitValue(t, np, u2, func(in notification.Inbox) bool { return len(kinds(in, own)) == 1 })
	if got := kinds(in2, pt.Derive(og, c3.ID)); !slices.Equal(got, []string{"created"}) {
		t.Errorf("%s's inbox %+v, want the creation of %s", u2, in2, o3)
	}
	if o := pt.WaitValue(t, op, o1, func(o order.Order) bool { return o.Version == 3 }); o.Status != lifecycle.Shipped || !o.HoldsStock() ||
		o.UserID != u1 || len(o.Lines) != 2 || o.Timeline[2].EventID != s1.ID {
		t.Errorf("%s: %+v", o1, o)
	}
	if o := pt.WaitValue(t, op, o2, func(o order.Order) bool { return o.Version == 3 }); o.Status != lifecycle.Refunded || o.HoldsStock() || o.Timeline[2].AmountCents != 1234 {
		t.Errorf("%s: %+v", o2, o)
	}
	// Every notification went out once: the three new ones after the restart.
	got := notifications.Quiet(300*time.Millisecond, mine)
	if ids := pt.IDs(got...); !sameSet(ids, pt.Derive(og, s1.ID, r2.ID, c3.ID)) {
		t.Errorf("after the restart: notifications %v, want the three new ones once each", ids)
	}
	if dl := dead.Events(ours); len(dl) != 0 {
		t.Errorf("after the restart: dead letters %q, want none", reasons(dl))
	}
}

func reasons(dead []topics.Event) []string {
	r := make([]string, len(dead))
	for i, ev := range dead {
		r[i] = ev.Data.(topics.DeadLetter).Reason
	}
	return r
}

// sameSet reports whether a and b hold the same ids, each once: records of
// different partitions arrive in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b) && len(slices.Compact(a)) == len(b)
}

// An order event redelivered after a crash (offset not committed, effect
// in the table) re-sends its notification under the same id, since the
// crash may have lost it; the notification processor keeps it once. The
// crash is simulated by moving the stopped order group's offsets back.
func TestRedeliveredEventResendsItsNotification(t *testing.T) {
	k := pt.StartKafka(t)
	og, ng := goka.Group(testkafka.Unique("order")), goka.Group(testkafka.Unique("notification"))
	start := k.StartGroupAtEnd(t, og, topics.OrderEvents)
	k.StartGroupAtEnd(t, ng, topics.Notifications)
	o1, u1 := testkafka.Unique("order"), testkafka.Unique("user")
	c1, p1, s1 := createdAt(t, 1, o1, u1), transitionAt(t, 2, topics.TypeOrderPlaced, o1, u1, "", 0), transitionAt(t, 3, topics.TypeOrderShipped, o1, u1, "", 0)
	mine, own := pt.Outputs(og, c1.ID, p1.ID, s1.ID), pt.Derive(og, c1.ID, p1.ID, s1.ID)
	notifications := k.Tail(t, topics.Notifications)
	k.Produce(t, records(t, c1, p1)...)
	rt := k.Runtime()
	np, _ := pt.Run(t, rt, notification.Graph(ng, rt))
	_, stopOrder := pt.Run(t, rt, order.Graph(og, rt))
	notifications.Wait(t, 2, 30*time.Second, mine)
	stopOrder()

	k.Commit(t, og, start)
	op, _ := pt.Run(t, rt, order.Graph(og, rt))
	got := notifications.Wait(t, 3, 30*time.Second, mine)
	if again := got[2]; again.ID != got[1].ID || again.Data.(topics.NotificationSent).Kind != "placed" {
		t.Errorf("re-sent %+v, want p1's notification %+v again", again, got[1])
	}
	// s1's notification follows the re-sent one on u1's partition, so once
	// it is in the inbox the duplicate has been read, and skipped.
	k.Produce(t, records(t, s1)...)
	inbox := pt.WaitValue(t, np, u1, func(in notification.Inbox) bool { return slices.Contains(kinds(in, own), "shipped") })
	if want := []string{"shipped", "placed", "created"}; !slices.Equal(kinds(inbox, own), want) {
		t.Errorf("inbox %v, want %v", kinds(inbox, own), want)
	}
	if o := pt.WaitValue(t, op, o1, func(o order.Order) bool { return o.Version == 3 }); len(o.Applied.IDs) != 3 {
		t.Errorf("order after redelivery %+v", o)
	}
	if got := notifications.Quiet(300*time.Millisecond, mine); len(got) != 4 {
		t.Errorf("%d notifications, want 4: c1's is not re-sent", len(got))
	}
}
