package cart_test

import (
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/cart"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

func userLine(user, item string, quantity int64) topics.CartLine {
	return topics.CartLine{UserID: user, ItemID: item, Quantity: quantity, PriceCents: 1999, Currency: "USD"}
}

func TestGraphOnTester(t *testing.T) {
	tt := pt.Tester(t, cart.Group, cart.Graph)
	dlq := tt.NewQueueTracker(topics.DeadLetterTopic(topics.CartCommands))

	add := pt.Event(t, topics.TypeCartItemAdded, "u-1", userLine("u-1", "tv", 2))
	for _, ev := range []topics.Event{
		add,
		pt.Event(t, topics.TypeWishlistItemAdded, "u-1", userLine("u-1", "lamp", 0)),
		add, // a replay
		pt.Event(t, topics.TypeCartItemAdded, "u-1", userLine("u-1", "tv", cart.DefaultMaxPerLine)),
		pt.Event(t, topics.TypeWishlistItemMovedToCart, "u-1", userLine("u-1", "lamp", 0)),
	} {
		tt.Consume(topics.CartCommands, ev.Key, ev)
	}
	tt.Consume(topics.CartCommands, "u-1", []byte("not an event"))

	dead := pt.Drain(dlq)
	if len(dead) != 2 || dead[0].Data.(topics.DeadLetter).Source != "cart" {
		t.Fatalf("dead letters %+v, want the add over the cap and the bad bytes", dead)
	}
	if reason := dead[0].Data.(topics.DeadLetter).Reason; reason != "cart.item.added: 10 more on a line of 2 is over the cap of 10 per line" {
		t.Errorf("reason %q", reason)
	}
	c := tt.TableValue(cart.Table, "u-1").(cart.Cart)
	// The refused add is applied (recorded with its reason), not changed.
	if got := lines(c); c.Version != 3 || got != "tv:2@1999 lamp:1@1999 |" || len(c.Applied.IDs) != 4 || len(c.Refused) != 1 || c.Refused[0].Code != cart.RefusedOverCap {
		t.Errorf("table value %+v (%s)", c, got)
	}
}

func version(v int64) func(cart.Cart) bool { return func(c cart.Cart) bool { return c.Version == v } }

// Over the Kafka protocol: commands produced twice, and again after a
// restart of the processor and the broker, apply once; a command the edge
// should have refused is dead-lettered with its reason; a new instance
// without local state recovers the table from its changelog.
func TestExactlyOnceAcrossRestarts(t *testing.T) {
	k := pt.StartKafka(t)
	group := goka.Group(testkafka.Unique("cart"))
	k.StartGroupAtEnd(t, group, topics.CartCommands)
	user := testkafka.Unique("user")
	e1 := pt.Event(t, topics.TypeCartItemAdded, user, userLine(user, "tv", 1))
	e2 := pt.Event(t, topics.TypeCartItemAdded, user, userLine(user, "tv", 2))
	bad := pt.Event(t, topics.TypeCartItemQuantitySet, user, userLine(user, "tv", 0))
	e3 := pt.Event(t, topics.TypeCartItemQuantitySet, user, userLine(user, "tv", 5))
	e4 := pt.Event(t, topics.TypeCartCleared, user, topics.CartCleared{UserID: user, OrderID: "o-1"})
	records := func(evs ...topics.Event) []*kgo.Record {
		var recs []*kgo.Record
		for _, ev := range evs {
			recs = append(recs, pt.Record(t, topics.CartCommands, ev))
		}
		return recs
	}

	dlq := k.Tail(t, topics.DeadLetterTopic(topics.CartCommands))
	k.Produce(t, records(e1, e2, e1, bad, e2)...)
	rt := k.Runtime()
	p, stop := pt.Run(t, rt, cart.Graph(group, rt))
	if c := pt.WaitValue(t, p, user, version(2)); lines(c) != "tv:3@1999 |" {
		t.Errorf("after duplicates: %s", lines(c))
	}
	dead := dlq.Wait(t, 1, 30*time.Second, pt.Keys(user))
	if d := dead[0].Data.(topics.DeadLetter); d.Source != string(group) || d.Reason != "invalid cart.item.quantity_set: quantity 0 is not at least 1" {
		t.Errorf("dead letter %+v", d)
	}
	stop()

	if k.Embedded() {
		dlq.Stop()
		k.Restart(t)
	}
	k.Produce(t, records(e2, e3, e1)...)
	rt = k.Runtime()
	p, stop = pt.Run(t, rt, cart.Graph(group, rt))
	if c := pt.WaitValue(t, p, user, version(3)); lines(c) != "tv:5@1999 |" {
		t.Errorf("after restart: %s", lines(c))
	}
	stop()

	rt = processors.NewRuntime(k.Brokers, t.TempDir(), 5*time.Second)
	k.Produce(t, records(e3, e4)...)
	p, _ = pt.Run(t, rt, cart.Graph(group, rt))
	if c := pt.WaitValue(t, p, user, version(4)); lines(c) != "|" || c.LastOrderID != "o-1" || !c.Applied.Has(e1.ID) {
		t.Errorf("recovered from the changelog: %+v", c)
	}
}
