package payment

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

// wait bounds every wait for the role's output; the role answers in well
// under a second on the embedded broker.
const wait = 30 * time.Second

// rig is a Kafka holding the topic catalog, a producer, and a tail of
// payment.events, for one test.
type rig struct {
	k     *pt.Kafka
	kopts []kgo.Opt
	p     *eventlog.Producer
	out   *pt.Tail
}

func newRig(t *testing.T) *rig {
	t.Helper()
	k := pt.StartKafka(t)
	kopts, p := k.Producer(t, "payment-test")
	return &rig{k: k, kopts: kopts, p: p, out: k.Tail(t, topics.PaymentEvents)}
}

// group names a new consumer group that starts at the current end of
// order.events, so on a shared Kafka it reads only this test's orders.
func (r *rig) group(t *testing.T) string {
	g := testkafka.Unique("payment")
	r.k.StartGroupAtEnd(t, goka.Group(g), topics.OrderEvents)
	return g
}

// run runs a role until the returned stop (or the end of the test).
func (r *rig) run(t *testing.T, gw *Gateway, group string) (stop func()) {
	t.Helper()
	role, err := NewRole(gw, r.kopts, group, r.p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- role.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("role stopped with %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func (r *rig) publish(t *testing.T, evs ...topics.Event) {
	t.Helper()
	if err := r.p.Publish(context.Background(), topics.OrderEvents, evs...); err != nil {
		t.Fatal(err)
	}
}

func created(t *testing.T, orderID string, totalCents int64, at time.Time) topics.Event {
	return pt.Event(t, topics.TypeOrderCreated, orderID, topics.OrderCreated{
		OrderID: orderID, UserID: "u-" + orderID, Lines: []topics.OrderLine{{ItemID: "i-1", Quantity: 1, PriceCents: totalCents}},
		TotalCents: totalCents, Currency: "USD", ExpiresAt: at.Add(15 * time.Minute),
	}, topics.At(at))
}

func refunded(t *testing.T, orderID string, amountCents int64, at time.Time) topics.Event {
	return pt.Event(t, topics.TypeOrderRefunded, orderID, topics.OrderTransition{
		OrderID: orderID, UserID: "u-" + orderID, Reason: "canceled by the shopper after payment", Restocked: true,
		AmountCents: amountCents, Currency: "USD",
	}, topics.At(at))
}

func prefixed(prefix string) func(topics.Event) bool {
	return func(ev topics.Event) bool { return strings.HasPrefix(ev.Key, prefix) }
}

// Each outcome at its extreme rates. An order.refunded that moves money
// follows every order on the same key, so once its payment.refunded is
// out, whatever the charge was going to publish is out before it (one
// key's answers keep their order): a no-answer charge published nothing.
// An order.refunded without money in between is ignored.
func TestRoleAnswersEachOutcome(t *testing.T) {
	r := newRig(t)
	for _, c := range []struct {
		name  string
		rates [3]float64
		want  string // the charge's answer; "" for none
	}{
		{"success", [3]float64{1, 0, 0}, topics.TypePaymentSucceeded},
		{"failure", [3]float64{0, 1, 0}, topics.TypePaymentFailed},
		{"no answer", [3]float64{0, 0, 1}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			gw := gateway(t, Rates(c.rates[0], c.rates[1], c.rates[2]), Latency(20*time.Millisecond), Seed(5))
			defer r.run(t, gw, r.group(t))()
			order := testkafka.Unique("o")
			at := time.Now().UTC()
			charge, noMoney, refund := created(t, order, 4599, at), refunded(t, order, 0, at.Add(time.Second)), refunded(t, order, 4599, at.Add(2*time.Second))
			r.publish(t, charge, noMoney, refund)

			got := r.out.Until(t, wait, pt.Keys(order), func(evs []topics.Event) bool {
				return len(evs) > 0 && evs[len(evs)-1].Type == topics.TypePaymentRefunded
			})
			var want []topics.Event
			if c.want != "" {
				p := topics.Payment{OrderID: order, PaymentID: PaymentID(order), AmountCents: 4599, Currency: "USD"}
				if c.want == topics.TypePaymentFailed {
					p.Reason = gw.Reason(order)
				}
				want = append(want, pt.Event(t, c.want, order, p, topics.WithID(processors.OutputID(Name, charge.ID)), topics.At(at.Add(20*time.Millisecond))))
			}
			want = append(want, pt.Event(t, topics.TypePaymentRefunded, order,
				topics.Payment{OrderID: order, PaymentID: PaymentID(order), AmountCents: 4599, Currency: "USD", Reason: "canceled by the shopper after payment"},
				topics.WithID(processors.OutputID(Name, refund.ID)), topics.At(refund.OccurredAt.Add(20*time.Millisecond))))
			assertEvents(t, got, want)
		})
	}
}

func assertEvents(t *testing.T, got, want []topics.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Type != w.Type || g.Key != w.Key || !g.OccurredAt.Equal(w.OccurredAt) || g.Data != w.Data {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// 1,000 orders at 0.6/0.3/0.1: every order gets the outcome the gateway's
// seed gives it, and the shares land within 5 standard deviations of the
// rates.
func TestRoleMixFollowsTheRates(t *testing.T) {
	r := newRig(t)
	gw := gateway(t, Rates(0.6, 0.3, 0.1), Seed(11))
	r.run(t, gw, r.group(t))
	prefix := testkafka.Unique("mix") + "-"
	n := 1000
	var orders []topics.Event
	counts := map[Outcome]int{}
	for _, id := range orderIDs(n) {
		orders = append(orders, created(t, prefix+id, 1000, time.Now()))
		counts[gw.Outcome(prefix+id)]++
	}
	r.publish(t, orders...)

	answered := counts[Succeeded] + counts[Failed]
	got := r.out.Wait(t, answered, wait, prefixed(prefix))
	byOrder := map[string]string{}
	for _, ev := range got {
		if _, dup := byOrder[ev.Key]; dup {
			t.Fatalf("order %s answered twice", ev.Key)
		}
		byOrder[ev.Key] = ev.Type
	}
	for _, o := range orders {
		want := map[Outcome]string{Succeeded: topics.TypePaymentSucceeded, Failed: topics.TypePaymentFailed}[gw.Outcome(o.Key)]
		if byOrder[o.Key] != want {
			t.Errorf("order %s: answered %q, want %q (%v)", o.Key, byOrder[o.Key], want, gw.Outcome(o.Key))
		}
	}
	for o, p := range map[Outcome]float64{Succeeded: 0.6, Failed: 0.3, NoAnswer: 0.1} {
		if !within(counts[o], n, p) {
			t.Errorf("%v: %d of %d orders, want about %.0f", o, counts[o], n, float64(n)*p)
		}
	}
}

// The same order.created delivered twice is answered twice under one id,
// with the same content, which the edge dedupes.
func TestRoleAnswersARedeliveredOrderUnderOneID(t *testing.T) {
	r := newRig(t)
	r.run(t, gateway(t, Latency(10*time.Millisecond)), r.group(t))
	order := testkafka.Unique("o")
	ev := created(t, order, 250, time.Now())
	r.publish(t, ev)
	r.publish(t, ev)
	got := r.out.Wait(t, 2, wait, pt.Keys(order))
	want := pt.Event(t, topics.TypePaymentSucceeded, order, topics.Payment{OrderID: order, PaymentID: PaymentID(order), AmountCents: 250, Currency: "USD"},
		topics.WithID(processors.OutputID(Name, ev.ID)), topics.At(ev.OccurredAt.Add(10*time.Millisecond)))
	assertEvents(t, got, []topics.Event{want, want})
}

// A role that published its answers but crashed before committing is
// replaced by a new one in the same group: it answers every order again,
// under the very same ids and contents.
func TestRoleRestartedBeforeCommitRepublishesTheSameEvents(t *testing.T) {
	r := newRig(t)
	gw := gateway(t, Rates(0.5, 0.5, 0), Latency(20*time.Millisecond), Seed(3))
	group := r.group(t)
	prefix := testkafka.Unique("crash") + "-"
	var orders []topics.Event
	for _, id := range orderIDs(20) {
		orders = append(orders, created(t, prefix+id, 700, time.Now()))
	}
	r.publish(t, orders...)

	// The first member answers its first batch, then dies before the
	// consumer commits: its handler reports a crash as its context ends.
	first := &answerer{gw: gw, out: r.p, source: group, log: slog.Default()}
	ctx, crash := context.WithCancel(context.Background())
	answered := 0 // every order is answered at these rates
	crashing := func(ctx context.Context, batch []eventlog.Delivery) error {
		if err := first.handle(ctx, batch); err != nil {
			return err
		}
		answered = len(batch)
		crash()
		return errors.New("crashed before the commit")
	}
	c, err := eventlog.NewConsumer(r.kopts, group, []string{topics.OrderEvents}, crashing, r.p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	before := r.out.Wait(t, answered, wait, prefixed(prefix))

	r.run(t, gw, group)
	got := r.out.Wait(t, len(before)+len(orders), wait, prefixed(prefix))
	again := map[string][]topics.Event{}
	for _, ev := range got[len(before):] {
		again[ev.Key] = append(again[ev.Key], ev)
	}
	for _, o := range orders {
		if len(again[o.Key]) != 1 || again[o.Key][0].ID != processors.OutputID(Name, o.ID) {
			t.Fatalf("order %s: restarted role answered %+v", o.Key, again[o.Key])
		}
	}
	for _, ev := range before {
		assertEvents(t, again[ev.Key], []topics.Event{ev})
	}
}

// 100 orders at 300 ms latency are answered side by side: one after the
// other they would take 30 s, far beyond the bound. Each answer is stamped
// with its due time and is not published before it.
func TestRoleLatencyDoesNotSerializeOrders(t *testing.T) {
	r := newRig(t)
	latency := 300 * time.Millisecond
	r.run(t, gateway(t, Latency(latency)), r.group(t))
	prefix := testkafka.Unique("lat") + "-"
	at := map[string]time.Time{}
	var orders []topics.Event
	for _, id := range orderIDs(100) {
		ev := created(t, prefix+id, 100, time.Now())
		orders = append(orders, ev)
		at[ev.Key] = ev.OccurredAt
	}
	r.publish(t, orders...)
	got := r.out.Wait(t, len(orders), 20*time.Second, prefixed(prefix))
	seen := time.Now()
	for _, ev := range got {
		if due := at[ev.Key].Add(latency); !ev.OccurredAt.Equal(due) || seen.Before(due) {
			t.Errorf("order %s: answer stamped %v, due %v, seen %v", ev.Key, ev.OccurredAt, due, seen)
		}
	}
}

// A latency longer than the order's TTL is a payment that succeeds after
// the order expired: the answer still comes, late, for the edge to refund.
func TestRoleAnswersAfterTheOrderExpired(t *testing.T) {
	r := newRig(t)
	r.run(t, gateway(t, Latency(time.Second)), r.group(t))
	order := testkafka.Unique("late")
	ev := created(t, order, 1200, time.Now().UTC())
	o := ev.Data.(topics.OrderCreated)
	o.ExpiresAt = ev.OccurredAt.Add(100 * time.Millisecond)
	ev.Data = o
	r.publish(t, ev)
	got := r.out.Wait(t, 1, wait, pt.Keys(order))
	if got[0].Type != topics.TypePaymentSucceeded || !got[0].OccurredAt.After(o.ExpiresAt) {
		t.Fatalf("answer %+v, want payment.succeeded after the expiry at %v", got[0], o.ExpiresAt)
	}
}

// An order the gateway refuses goes to order.events.dlq with the reason;
// the orders after it are answered.
func TestRoleDeadLettersAnOrderItCannotCharge(t *testing.T) {
	r := newRig(t)
	dlq := r.k.Tail(t, topics.DeadLetterTopic(topics.OrderEvents))
	group := r.group(t)
	r.run(t, gateway(t), group)
	bad, good := testkafka.Unique("free"), testkafka.Unique("o")
	r.publish(t, created(t, bad, 0, time.Now()), created(t, good, 100, time.Now()))
	r.out.Wait(t, 1, wait, pt.Keys(good))
	dead := dlq.Wait(t, 1, wait, pt.Keys(bad))
	d := dead[0].Data.(topics.DeadLetter)
	if d.Source != group || d.Topic != topics.OrderEvents || !strings.Contains(d.Reason, "order "+bad+": amount_cents 0 is not positive") {
		t.Fatalf("dead letter %+v", d)
	}
}
