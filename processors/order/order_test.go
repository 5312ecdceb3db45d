package order_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/order"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const (
	orderID = "0193a1b2-order"
	userID  = "u-1"
)

var lines = []topics.OrderLine{{ItemID: "i-1", Quantity: 2, PriceCents: 500}, {ItemID: "i-2", Quantity: 1, PriceCents: 234}}

func createdData(order, user string) topics.OrderCreated {
	return topics.OrderCreated{OrderID: order, UserID: user, Lines: lines, TotalCents: 1234, Currency: "USD",
		ExpiresAt: t0.Add(15 * time.Minute), PrimeTrial: true}
}

func created(t testing.TB, order, user string) topics.Event {
	return pt.Event(t, topics.TypeOrderCreated, order, createdData(order, user))
}

func transition(t testing.TB, typ, order, user, reason string, amount int64) topics.Event {
	tr := topics.OrderTransition{OrderID: order, UserID: user, Reason: reason, AmountCents: amount}
	if amount > 0 {
		tr.Currency = "USD"
	}
	return pt.Event(t, typ, order, tr)
}

// applier applies events to one order in turn, each read at the next
// offset of order.events unless it says otherwise, minutes apart.
type applier struct {
	o      order.Order
	offset int64
}

func (a *applier) apply(ev topics.Event) processors.Verdict {
	a.offset++
	return a.applyAt(ev, a.offset)
}

func (a *applier) applyAt(ev topics.Event, offset int64) processors.Verdict {
	in := processors.In{ID: ev.ID, Key: orderID, At: t0.Add(time.Duration(offset) * time.Minute),
		Pos: processors.Position{Topic: topics.OrderEvents, Partition: 1, Offset: offset}}
	next, v := order.Apply(a.o, in, ev)
	a.o = next
	return v
}

type step struct {
	typ    string
	reason string
	amount int64
	status lifecycle.Status
	// message is the notification's text.
	message string
}

// Every path through the lifecycle, from order.created: each step is
// applied, recorded in the timeline and notified to the order's user.
func TestLegalPaths(t *testing.T) {
	createdStep := step{topics.TypeOrderCreated, "", 0, lifecycle.Created,
		"Your order 0193a1b2-order was created for USD 12.34 and awaits payment."}
	placed := step{topics.TypeOrderPlaced, "", 0, lifecycle.Placed, "Your order 0193a1b2-order was placed."}
	shipped := step{topics.TypeOrderShipped, "", 0, lifecycle.Shipped, "Your order 0193a1b2-order was shipped."}
	delivered := step{topics.TypeOrderDelivered, "", 0, lifecycle.Delivered, "Your order 0193a1b2-order was delivered."}
	canceled := func(reason string) step {
		return step{topics.TypeOrderCanceled, reason, 0, lifecycle.Canceled, "Your order 0193a1b2-order was canceled: " + reason + "."}
	}
	refunded := func(reason string) step {
		return step{topics.TypeOrderRefunded, reason, 1234, lifecycle.Refunded, "Your order 0193a1b2-order was refunded USD 12.34: " + reason + "."}
	}
	for _, tc := range []struct {
		name       string
		steps      []step
		holdsStock bool
	}{
		{"created", nil, true},
		{"delivered", []step{placed, shipped, delivered}, true},
		{"payment failed", []step{canceled(lifecycle.ReasonPaymentFailed)}, false},
		{"expired", []step{canceled(lifecycle.ReasonExpired)}, false},
		{"canceled by the shopper", []step{canceled(lifecycle.ReasonCanceled)}, false},
		{"paid after expiry", []step{canceled(lifecycle.ReasonExpired), refunded(lifecycle.ReasonLatePayment)}, false},
		{"canceled after payment", []step{placed, refunded(lifecycle.ReasonCanceledAfterPay)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a applier
			var ids []string
			for i, s := range append([]step{createdStep}, tc.steps...) {
				ev := created(t, orderID, userID)
				if s.typ != topics.TypeOrderCreated {
					ev = transition(t, s.typ, orderID, userID, s.reason, s.amount)
				}
				ids = append(ids, ev.ID)
				v := a.apply(ev)
				if v.Outcome != processors.Change || v.Key != userID {
					t.Fatalf("step %d (%s): outcome %v key %q reason %q, want a change keyed by the user", i, s.typ, v.Outcome, v.Key, v.Reason)
				}
				want := topics.NotificationSent{UserID: userID, Kind: string(s.status), OrderID: orderID, Message: s.message}
				if got := v.Out.(topics.NotificationSent); got != want {
					t.Errorf("step %d (%s): notification %+v, want %+v", i, s.typ, got, want)
				}
				if a.o.Status != s.status || a.o.Version != int64(i+1) || len(a.o.Timeline) != i+1 {
					t.Fatalf("step %d (%s): order %+v", i, s.typ, a.o)
				}
				last := a.o.Timeline[i]
				if last.Status != s.status || last.Reason != s.reason || last.AmountCents != s.amount || last.EventID != ev.ID ||
					!last.At.Equal(t0.Add(time.Duration(i+1)*time.Minute)) {
					t.Errorf("step %d (%s): timeline entry %+v", i, s.typ, last)
				}
			}
			o := a.o
			if o.OrderID != orderID || o.UserID != userID || len(o.Lines) != 2 || o.Lines[1] != lines[1] || o.TotalCents != 1234 ||
				o.Currency != "USD" || !o.PrimeTrial || !o.CreatedAt.Equal(t0.Add(time.Minute)) || !o.ExpiresAt.Equal(t0.Add(15*time.Minute)) {
				t.Errorf("order %+v", o)
			}
			for _, id := range ids {
				if !o.Applied.Has(id) {
					t.Errorf("event %s not recorded as applied", id)
				}
			}
			if o.HoldsStock() != tc.holdsStock {
				t.Errorf("an order that is %s holds stock: %v, want %v", o.Status, o.HoldsStock(), tc.holdsStock)
			}
		})
	}
}

// pathTo is the shortest list of event types that leaves an order in
// status s.
var pathTo = map[lifecycle.Status][]string{
	lifecycle.None:      nil,
	lifecycle.Created:   {topics.TypeOrderCreated},
	lifecycle.Placed:    {topics.TypeOrderCreated, topics.TypeOrderPlaced},
	lifecycle.Shipped:   {topics.TypeOrderCreated, topics.TypeOrderPlaced, topics.TypeOrderShipped},
	lifecycle.Delivered: {topics.TypeOrderCreated, topics.TypeOrderPlaced, topics.TypeOrderShipped, topics.TypeOrderDelivered},
	lifecycle.Canceled:  {topics.TypeOrderCreated, topics.TypeOrderCanceled},
	lifecycle.Refunded:  {topics.TypeOrderCreated, topics.TypeOrderPlaced, topics.TypeOrderRefunded},
}

var orderTypes = []string{topics.TypeOrderCreated, topics.TypeOrderPlaced, topics.TypeOrderShipped,
	topics.TypeOrderDelivered, topics.TypeOrderCanceled, topics.TypeOrderRefunded}

func event(t testing.TB, typ string) topics.Event {
	if typ == topics.TypeOrderCreated {
		return created(t, orderID, userID)
	}
	return transition(t, typ, orderID, userID, "", 0)
}

// Every event type on an order in every status: applied exactly when the
// state machine lets its status follow the order's, refused with the
// reason otherwise, the order untouched.
func TestEveryStepAgainstTheStateMachine(t *testing.T) {
	for cur, path := range pathTo {
		for _, typ := range orderTypes {
			var a applier
			for _, p := range path {
				if v := a.apply(event(t, p)); v.Outcome != processors.Change {
					t.Fatalf("reaching %s: %s was %v: %s", cur, p, v.Outcome, v.Reason)
				}
			}
			before := a.o
			v := a.apply(event(t, typ))
			next, _ := lifecycle.StatusOf(typ)
			if lifecycle.Follows(cur, next) {
				if v.Outcome != processors.Change || a.o.Status != next {
					t.Errorf("%s on %q: %v %q, want a change to %s", typ, cur, v.Outcome, v.Reason, next)
				}
				continue
			}
			want := fmt.Sprintf("%s on an order that is %s", typ, cur)
			if cur == lifecycle.None {
				want = typ + " on an order that does not exist"
			}
			if v.Outcome != processors.Reject || v.Reason != want || a.o.Version != before.Version || a.o.Status != cur {
				t.Errorf("%s on %q: %v %q (order %+v), want rejected: %q", typ, cur, v.Outcome, v.Reason, a.o, want)
			}
		}
	}
}

// The relay delivers at least once: an event applies once, whatever
// arrives again; only the record whose notification went out last,
// read again after a crash, sends that notification again.
func TestDuplicatesAndRedelivery(t *testing.T) {
	var a applier
	e1, e2 := created(t, orderID, userID), transition(t, topics.TypeOrderPlaced, orderID, userID, "", 0)
	a.apply(e1) // offset 1
	a.apply(e2) // offset 2
	placed := a.o
	for _, tc := range []struct {
		name   string
		ev     topics.Event
		offset int64
		want   processors.Outcome
		reason string
	}{
		{"order.created again from the relay", e1, 3, processors.Skip, ""},
		{"order.placed again from the relay", e2, 4, processors.Skip, ""},
		{"order.created read again after a crash", e1, 1, processors.Skip, ""},
		{"order.placed read again after a crash", e2, 2, processors.Reemit, ""},
		{"another order.created for the order", created(t, orderID, userID), 5, processors.Reject, "order.created on an order that is placed"},
		{"another order.placed for the order", transition(t, topics.TypeOrderPlaced, orderID, userID, "", 0), 6, processors.Reject, "order.placed on an order that is placed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := a.applyAt(tc.ev, tc.offset)
			if v.Outcome != tc.want || v.Reason != tc.reason {
				t.Fatalf("outcome %v reason %q, want %v %q", v.Outcome, v.Reason, tc.want, tc.reason)
			}
			if a.o.Version != 2 || len(a.o.Timeline) != 2 || len(a.o.Applied.IDs) != 2 {
				t.Errorf("order changed: %+v", a.o)
			}
			if v.Outcome == processors.Reemit {
				want := placed.Notification()
				if v.Key != userID || v.Out.(topics.NotificationSent) != want || want.Kind != "placed" {
					t.Errorf("re-emitted %+v under key %q, want %+v under %q", v.Out, v.Key, want, userID)
				}
			}
		})
	}
}

// Records that are not a valid event of this order are refused with a
// reason that names the fault, and change nothing.
func TestRejects(t *testing.T) {
	base := func(t *testing.T) applier {
		var a applier
		a.apply(created(t, orderID, userID))
		return a
	}
	noLines := createdData(orderID, userID)
	noLines.Lines = nil
	badLines := createdData("o-2", userID)
	badLines.Lines = []topics.OrderLine{{ItemID: "bad id", Quantity: 0, PriceCents: -1}}
	badLines.Currency = "XXX"
	eur := topics.OrderTransition{OrderID: orderID, UserID: userID, Reason: lifecycle.ReasonCanceledAfterPay, AmountCents: 1234, Currency: "EUR"}
	for _, tc := range []struct {
		name   string
		fresh  bool
		ev     topics.Event
		reason []string
	}{
		{"another type", false, pt.Event(t, topics.TypePaymentSucceeded, orderID, topics.Payment{OrderID: orderID, PaymentID: "p", AmountCents: 1, Currency: "USD"}),
			[]string{`event type "payment.succeeded" does not belong on order.events`}},
		{"another user", false, transition(t, topics.TypeOrderPlaced, orderID, "u-2", "", 0),
			[]string{`order.placed for user "u-2" on an order of user "u-1"`}},
		{"another order's event", false, transition(t, topics.TypeOrderPlaced, "o-2", userID, "", 0),
			[]string{`record key "0193a1b2-order" is not the order_id "o-2"`}},
		{"order.created of another user", false, created(t, orderID, "u-2"),
			[]string{`order.created for user "u-2" on an order of user "u-1"`}},
		{"a refund in another currency", false, pt.Event(t, topics.TypeOrderRefunded, orderID, eur),
			[]string{"order.refunded in EUR on an order in USD"}},
		{"a transition with a bad user id", false, transition(t, topics.TypeOrderPlaced, orderID, "", "", 0),
			[]string{`invalid order.placed: user_id: "" is not an id`}},
		{"a negative refund", false, transition(t, topics.TypeOrderRefunded, orderID, userID, "", -5),
			[]string{"invalid order.refunded: amount_cents: -5 must not be negative"}},
		{"an order without lines", true, pt.Event(t, topics.TypeOrderCreated, orderID, noLines),
			[]string{"invalid order.created: lines: is required"}},
		{"an order with bad lines", true, pt.Event(t, topics.TypeOrderCreated, "o-2", badLines),
			[]string{`lines[0].item_id: "bad id" is not an id`, "lines[0].quantity: 0 must be at least 1",
				"lines[0].price_cents: -1 must not be negative", `currency: "XXX" is not an accepted`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a applier
			if !tc.fresh {
				a = base(t)
			}
			before := a.o
			v := a.apply(tc.ev)
			for _, want := range tc.reason {
				if v.Outcome != processors.Reject || !strings.Contains(v.Reason, want) {
					t.Errorf("outcome %v reason %q, want rejected: %q", v.Outcome, v.Reason, want)
				}
			}
			if a.o.Version != before.Version || a.o.Status != before.Status || len(a.o.Applied.IDs) != len(before.Applied.IDs) {
				t.Errorf("order changed: %+v", a.o)
			}
		})
	}
}

// Rules are pure: two events applied to the same state do not see each
// other.
func TestApplyLeavesTheOriginal(t *testing.T) {
	var a applier
	a.apply(created(t, orderID, userID))
	cur := a.o
	at := processors.In{Key: orderID, At: t0, Pos: processors.Position{Topic: topics.OrderEvents, Offset: 9}}
	p, c := transition(t, topics.TypeOrderPlaced, orderID, userID, "", 0), transition(t, topics.TypeOrderCanceled, orderID, userID, "x", 0)
	at.ID = p.ID
	placed, _ := order.Apply(cur, at, p)
	at.ID = c.ID
	canceled, _ := order.Apply(cur, at, c)
	if len(cur.Timeline) != 1 || cur.Status != lifecycle.Created || len(cur.Applied.IDs) != 1 ||
		placed.Timeline[1].Status != lifecycle.Placed || canceled.Timeline[1].Status != lifecycle.Canceled {
		t.Errorf("cur %+v, placed %+v, canceled %+v", cur, placed.Timeline, canceled.Timeline)
	}
}
