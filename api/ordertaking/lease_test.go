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
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/testkafka"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

// TestContract runs the relay on each order-taking adapter: it publishes
// every outbox record, and on a database several edge instances share,
// two relays at once publish each record once (one holds the lease, the
// other stands by) and the standby takes over when the holder stops.
// Real-server subtests are named real-<server> (make runs them apart).
func TestContract(t *testing.T) {
	t.Run("embedded-sqlite", func(t *testing.T) {
		store := openStore(t)
		relays(t, []orderdb.Store{store, store}, false)
	})
	t.Run("real-mysql", func(t *testing.T) {
		cfg := config.OrdersStore{Driver: "mysql", DSN: realserver.ScratchMySQL(t, realserver.Addr(t, realserver.MySQL))}
		var stores []orderdb.Store
		for range 2 {
			s, err := orderdb.Open(context.Background(), cfg, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if err := s.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			stores = append(stores, s)
		}
		relays(t, stores, true)
	})
}

// relays runs one relay per store and checks what reaches Kafka. shared:
// the stores are separate instances on one database, so the relays must
// not both publish.
func relays(t *testing.T, stores []orderdb.Store, shared bool) {
	ctx := context.Background()
	item := testkafka.Unique("item")
	if _, err := stores[0].ApplyStock(ctx, orderdb.StockChange{EventID: topics.NewID(), ItemID: item, OnHand: 100, Version: 1, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var orders []string
	checkout := func(n int) {
		for i := range n {
			res, err := stores[0].Checkout(ctx, orderdb.CheckoutRequest{UserID: fmt.Sprintf("u-%d", len(orders)+i), Currency: "USD",
				Lines: []orderdb.Line{{ItemID: item, Quantity: 1, PriceCents: 100}}, TTL: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			orders = append(orders, res.Order.OrderID)
		}
	}
	k := pt.StartKafka(t)
	tail := k.Tail(t, topics.OrderEvents)
	_, producer := k.Producer(t, "relay-test")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mine := func(ev topics.Event) bool { return slices.Contains(orders, ev.Key) }

	stop := make([]context.CancelFunc, len(stores))
	done := make([]chan error, len(stores))
	for i, s := range stores {
		rctx, cancel := context.WithCancel(ctx)
		stop[i], done[i] = cancel, make(chan error, 1)
		r := NewRelay(s, producer, RelayLogger(quiet), RelayPoll(10*time.Millisecond))
		go func() { done[i] <- r.Run(rctx) }()
		t.Cleanup(cancel)
	}
	checkout(10)
	if !shared {
		tail.Wait(t, 10, 30*time.Second, mine)
		return
	}
	assertOnce := func(want int) {
		t.Helper()
		tail.Wait(t, want, 30*time.Second, mine)
		got := tail.Quiet(300*time.Millisecond, mine)
		ids := map[string]bool{}
		for _, ev := range got {
			ids[ev.ID] = true
		}
		if len(got) != want || len(ids) != want {
			t.Fatalf("%d records (%d distinct) on the topic, want %d once each", len(got), len(ids), want)
		}
	}
	assertOnce(10)

	// The first relay goes; whichever held the lease, the other publishes
	// what comes next.
	stop[0]()
	if err := <-done[0]; err != nil {
		t.Fatal(err)
	}
	checkout(5)
	assertOnce(15)
	if n, _, err := stores[1].OutboxBacklog(ctx); err != nil || n != 0 {
		t.Fatalf("backlog %d (%v)", n, err)
	}
}
