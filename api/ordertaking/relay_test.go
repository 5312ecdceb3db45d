package ordertaking

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testkafka"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

func openStore(t *testing.T) orderdb.Store {
	t.Helper()
	ctx := context.Background()
	s, err := orderdb.Open(ctx, config.OrdersStore{Driver: "sqlite"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// A relay killed after Kafka acknowledged a batch but before the batch
// left the outbox loses nothing: the next relay publishes the batch
// again under the same event ids, and the records of each order come out
// in the order they were written.
func TestRelayKilledMidBatchLosesNothing(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	item := testkafka.Unique("item")
	if _, err := store.ApplyStock(ctx, orderdb.StockChange{EventID: topics.NewID(), ItemID: item, OnHand: 100, Version: 1, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var orders []string
	for i := range 12 {
		res, err := store.Checkout(ctx, orderdb.CheckoutRequest{UserID: fmt.Sprintf("u-%d", i), Currency: "USD",
			Lines: []orderdb.Line{{ItemID: item, Quantity: 1, PriceCents: 100}}, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, res.Order.OrderID)
	}
	// Half the orders move on, so most have two events to keep in order.
	for _, id := range orders[:6] {
		if _, err := store.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	written, err := store.PendingOutbox(ctx, 1000)
	if err != nil || len(written) != 18 {
		t.Fatalf("outbox holds %d records (%v), want 18", len(written), err)
	}

	k := pt.StartKafka(t)
	tail := k.Tail(t, topics.OrderEvents)
	producer, err := eventlog.NewProducer(eventlog.ClientOpts(k.Brokers, "relay-test", 5*time.Second, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close(ctx)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The first relay dies right after its first batch is acknowledged.
	killed, kill := context.WithCancel(ctx)
	first := NewRelay(store, producer, RelayBatch(10), RelayLogger(quiet))
	first.published = func(int) { kill() }
	if err := first.Run(killed); err != nil {
		t.Fatal(err)
	}
	if left, _ := store.PendingOutbox(ctx, 1000); len(left) != 18 {
		t.Fatalf("the killed relay marked %d records published", 18-len(left))
	}

	second := NewRelay(store, producer, RelayBatch(10), RelayLogger(quiet))
	for {
		n, err := second.Once(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if n, _, err := store.OutboxBacklog(ctx); err != nil || n != 0 {
		t.Fatalf("backlog %d after the second relay (%v)", n, err)
	}

	mine := func(ev topics.Event) bool { return slices.Contains(orders, ev.Key) }
	got := tail.Wait(t, 28, 30*time.Second, mine) // 18 records, 10 of them twice
	seen := map[string]int{}
	firstSeen := map[string][]string{} // order id -> event types, first occurrences in order
	for _, ev := range got {
		seen[ev.ID]++
		if seen[ev.ID] == 1 {
			firstSeen[ev.Key] = append(firstSeen[ev.Key], ev.Type)
		}
	}
	for _, rec := range written {
		if seen[rec.EventID] == 0 {
			t.Errorf("outbox record %d (%s) never reached Kafka", rec.Seq, rec.EventID)
		}
	}
	if len(seen) != 18 {
		t.Errorf("%d distinct event ids on the topic, want 18", len(seen))
	}
	for i, id := range orders {
		want := []string{topics.TypeOrderCreated}
		if i < 6 {
			want = append(want, topics.TypeOrderCanceled)
		}
		if !slices.Equal(firstSeen[id], want) {
			t.Errorf("order %s: events %v, want %v", id, firstSeen[id], want)
		}
	}
}
