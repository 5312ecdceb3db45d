package replay

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/sinks/history"
	"github.com/shopstream/shopstream/topics"
)

var t0 = time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)

// orderEvents makes the events of one order as the order-taking
// database's outbox writes them: created at minute 0, each later step a
// minute after the one before.
type orderEvents struct {
	t        *testing.T
	id, user string
	step     int
}

func (o *orderEvents) at() topics.Option {
	o.step++
	return topics.At(t0.Add(time.Duration(o.step) * time.Minute))
}

func (o *orderEvents) delivery(topic string, ev topics.Event, err error) eventlog.Delivery {
	o.t.Helper()
	if err != nil {
		o.t.Fatal(err)
	}
	return eventlog.Delivery{Event: ev, Record: &kgo.Record{Topic: topic, Key: []byte(ev.Key), Offset: int64(o.step)}}
}

func (o *orderEvents) created() eventlog.Delivery {
	o.step = -1
	ev, err := topics.New(topics.TypeOrderCreated, o.id, topics.OrderCreated{OrderID: o.id, UserID: o.user,
		Lines:      []topics.OrderLine{{ItemID: "i-1", Quantity: 2, PriceCents: 1500}, {ItemID: "i-2", Quantity: 1, PriceCents: 999}},
		TotalCents: 3999, Currency: "USD", ExpiresAt: t0.Add(5 * time.Minute), PrimeTrial: true}, o.at())
	return o.delivery(topics.OrderEvents, ev, err)
}

func (o *orderEvents) next(typ, reason string) eventlog.Delivery {
	ev, err := topics.New(typ, o.id, topics.OrderTransition{OrderID: o.id, UserID: o.user, Reason: reason}, o.at())
	return o.delivery(topics.OrderEvents, ev, err)
}

func (o *orderEvents) paid(paymentID string) eventlog.Delivery {
	ev, err := topics.New(topics.TypePaymentSucceeded, o.id, topics.Payment{OrderID: o.id, PaymentID: paymentID, AmountCents: 3999, Currency: "USD"}, o.at())
	return o.delivery(topics.PaymentEvents, ev, err)
}

// The database's copy of an order, as the order-taking database writes it
// with the same times: what the migrator puts in the history store.
func dbOrder(id, user string, paymentID string, steps ...orderdb.Transition) orderdb.Order {
	o := orderdb.Order{OrderID: id, UserID: user, Status: steps[len(steps)-1].Status,
		Lines:      []orderdb.Line{{ItemID: "i-1", Quantity: 2, PriceCents: 1500}, {ItemID: "i-2", Quantity: 1, PriceCents: 999}},
		TotalCents: 3999, Currency: "USD", PrimeTrial: true, PaymentID: paymentID,
		CreatedAt: steps[0].At, UpdatedAt: steps[len(steps)-1].At, ExpiresAt: t0.Add(5 * time.Minute),
		Version: int64(len(steps)), Timeline: steps}
	return o
}

func tr(minute int, s lifecycle.Status, reason string) orderdb.Transition {
	return orderdb.Transition{Status: s, At: t0.Add(time.Duration(minute) * time.Minute), Reason: reason}
}

func openHistory(t *testing.T) history.Store {
	t.Helper()
	s, err := history.Open(context.Background(), config.HistoryStore{Driver: "embedded"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func storedOrders(t *testing.T, s history.Store) map[string]orderdb.Order {
	t.Helper()
	out := map[string]orderdb.Order{}
	err := s.EachOrder(context.Background(), func(o orderdb.Order) error {
		out[o.OrderID] = o
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The history target rebuilds each final order as the order-taking
// database held it, payment id included, whatever order the payment and
// order events arrive in and however they are batched; a second replay
// over the result changes nothing.
func TestHistoryRebuildsFinalOrders(t *testing.T) {
	ctx := context.Background()
	delivered := &orderEvents{t: t, id: "o-delivered", user: "u-1"}
	expired := &orderEvents{t: t, id: "o-expired", user: "u-1"}
	late := &orderEvents{t: t, id: "o-late", user: "u-2"}
	open := &orderEvents{t: t, id: "o-open", user: "u-2"}
	unpaid := &orderEvents{t: t, id: "o-nopay", user: "u-3"}
	before := &orderEvents{t: t, id: "o-before", user: "u-3"}

	dc, dp := delivered.created(), delivered.next(topics.TypeOrderPlaced, "")
	ds, dd := delivered.next(topics.TypeOrderShipped, ""), delivered.next(topics.TypeOrderDelivered, "")
	dpay := delivered.paid("pay-d") // read after the order is final: it waits for it
	lc, lx := late.created(), late.next(topics.TypeOrderCanceled, lifecycle.ReasonExpired)
	lr, lpay := late.next(topics.TypeOrderRefunded, lifecycle.ReasonLatePayment), late.paid("pay-l")
	oc, op := open.created(), open.next(topics.TypeOrderPlaced, "")
	uc, up, ux := unpaid.created(), unpaid.next(topics.TypeOrderPlaced, ""), unpaid.next(topics.TypeOrderRefunded, lifecycle.ReasonCanceledAfterPay)
	before.created()
	bd := before.next(topics.TypeOrderDelivered, "") // its creation was before the replay's start
	batches := [][]eventlog.Delivery{
		{dc, lc, oc, expired.created(), dp, dp, lx},
		{ds, dd, op, expired.next(topics.TypeOrderCanceled, lifecycle.ReasonExpired), uc, up, ux},
		{lpay, bd, lr},
		{dpay, lr},
	}
	want := map[string]orderdb.Order{
		"o-delivered": dbOrder("o-delivered", "u-1", "pay-d", tr(0, lifecycle.Created, ""), tr(1, lifecycle.Placed, ""), tr(2, lifecycle.Shipped, ""), tr(3, lifecycle.Delivered, "")),
		"o-expired":   dbOrder("o-expired", "u-1", "", tr(0, lifecycle.Created, ""), tr(1, lifecycle.Canceled, lifecycle.ReasonExpired)),
		"o-late":      dbOrder("o-late", "u-2", "pay-l", tr(0, lifecycle.Created, ""), tr(1, lifecycle.Canceled, lifecycle.ReasonExpired), tr(2, lifecycle.Refunded, lifecycle.ReasonLatePayment)),
		"o-nopay":     dbOrder("o-nopay", "u-3", "", tr(0, lifecycle.Created, ""), tr(1, lifecycle.Placed, ""), tr(2, lifecycle.Refunded, lifecycle.ReasonCanceledAfterPay)),
	}

	store := openHistory(t)
	h := NewHistory(store)
	for i, b := range batches {
		if err := h.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		if got := storedOrders(t, store); i == 1 && len(got) != 2 {
			t.Errorf("after batch 2 the store holds %d orders, want the two canceled ones (the others wait for a payment id or are open)", len(got))
		}
	}
	if err := h.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	got := storedOrders(t, store)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history store:\n got %+v\nwant %+v", got, want)
	}
	st := h.Stats()
	if st.Open != 1 || st.NoPaymentID != 1 || st.Refused != 1 || st.Young != 0 || st.Written != 5 {
		t.Errorf("stats %s", st)
	}

	// Again over the result, in one batch: nothing changes.
	again := NewHistory(store)
	var all []eventlog.Delivery
	for _, b := range batches {
		all = append(all, b...)
	}
	if err := again.Apply(ctx, all); err != nil {
		t.Fatal(err)
	}
	if err := again.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if got := storedOrders(t, store); !reflect.DeepEqual(got, want) {
		t.Errorf("after a second replay:\n got %+v\nwant %+v", got, want)
	}

	// With the migration age, orders whose expiry or last change is
	// younger are left to the migrator; without the payment events, paid
	// orders are written at once.
	young := NewHistory(openHistory(t), OlderThan(t0.Add(2*time.Minute+30*time.Second)), WithoutPayments())
	if err := young.Apply(ctx, all); err != nil {
		t.Fatal(err)
	}
	if err := young.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if st := young.Stats(); st.Young != 4 || st.Written != 0 || st.NoPaymentID != 0 {
		t.Errorf("with the age (every order expires at minute 5): %s", st)
	}
}

func TestPaid(t *testing.T) {
	for _, c := range []struct {
		steps []orderdb.Transition
		paid  bool
	}{
		{[]orderdb.Transition{tr(0, lifecycle.Created, ""), tr(1, lifecycle.Canceled, lifecycle.ReasonPaymentFailed)}, false},
		{[]orderdb.Transition{tr(0, lifecycle.Created, ""), tr(1, lifecycle.Placed, "")}, true},
		{[]orderdb.Transition{tr(0, lifecycle.Created, ""), tr(1, lifecycle.Canceled, lifecycle.ReasonCanceled), tr(2, lifecycle.Refunded, lifecycle.ReasonLatePayment)}, true},
	} {
		o := orderEvents{t: t, id: "o", user: "u"}
		h := NewHistory(nil, OlderThan(time.Time{})) // nothing is old enough to write
		evs := []eventlog.Delivery{o.created()}
		for _, s := range c.steps[1:] {
			typ := map[lifecycle.Status]string{lifecycle.Placed: topics.TypeOrderPlaced, lifecycle.Canceled: topics.TypeOrderCanceled, lifecycle.Refunded: topics.TypeOrderRefunded}[s.Status]
			evs = append(evs, o.next(typ, s.Reason))
		}
		for _, d := range evs {
			if err := h.Apply(context.Background(), []eventlog.Delivery{d}); err != nil {
				t.Fatal(err)
			}
		}
		folded := h.orders["o"].o
		if Paid(folded) != c.paid {
			t.Errorf("%v: Paid = %v", c.steps, !c.paid)
		}
		if got := HistoryOrder(folded, ""); !reflect.DeepEqual(got.Timeline, c.steps) || !got.UpdatedAt.Equal(c.steps[len(c.steps)-1].At) {
			t.Errorf("timeline %+v, want %+v", got.Timeline, c.steps)
		}
	}
}
