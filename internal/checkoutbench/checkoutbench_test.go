package checkoutbench_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/checkoutbench"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// The baselines are only honest if they do the store's work: these check,
// through the store's own reads, that what they write is what a checkout
// writes, on both engines.

// TestContract runs the baselines' checks on each engine; real-server
// subtests are named real-<server> (make runs them apart).
func TestContract(t *testing.T) {
	engines(t, func(t *testing.T, fresh func(*testing.T) config.OrdersStore) {
		t.Run("raw-checkouts-write-what-the-store-reads", func(t *testing.T) { rawCheckoutsWriteWhatTheStoreReads(t, fresh(t)) })
		t.Run("raw-checkouts-report-a-sold-out-order", func(t *testing.T) { rawCheckoutsReportASoldOutOrder(t, fresh(t)) })
		t.Run("naive-flash-sale-sells-every-unit-once", func(t *testing.T) { naiveFlashSaleSellsEveryUnitOnce(t, fresh(t)) })
	})
}

// engines runs test on each engine with a way to get a fresh, empty
// database for each check.
func engines(t *testing.T, test func(t *testing.T, fresh func(*testing.T) config.OrdersStore)) {
	t.Run("embedded-sqlite", func(t *testing.T) {
		test(t, func(*testing.T) config.OrdersStore { return config.OrdersStore{Driver: "sqlite"} })
	})
	t.Run("real-mysql", func(t *testing.T) {
		dsn := realserver.Addr(t, realserver.MySQL)
		test(t, func(t *testing.T) config.OrdersStore {
			return config.OrdersStore{Driver: "mysql", DSN: realserver.ScratchMySQL(t, dsn)}
		})
	})
}

// open opens a migrated store with stock (units by item), and its
// connection pool sized for the raw loops.
func open(t *testing.T, cfg config.OrdersStore, stock map[string]int64) (orderdb.Store, *sql.DB) {
	t.Helper()
	ctx := t.Context()
	s, err := orderdb.Open(ctx, cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for id, units := range stock {
		if _, err := s.ApplyStock(ctx, orderdb.StockChange{EventID: topics.NewID(), ItemID: id, OnHand: units, Version: 1, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	db := s.(interface{ DB() *sql.DB }).DB()
	checkoutbench.Pool(db, cfg.Driver)
	return s, db
}

func rawCheckoutsWriteWhatTheStoreReads(t *testing.T, cfg config.OrdersStore) {
	ctx := t.Context()
	const items, orders = 20, 40
	var ids []string
	stock := map[string]int64{}
	for i := range items {
		ids = append(ids, checkoutbench.Item("t", i))
		stock[ids[i]] = 100
	}
	s, db := open(t, cfg, stock)
	w := checkoutbench.Work{Orders: orders, Callers: 8, Lines: checkoutbench.Pairs("t", items), TTL: time.Hour}
	p, err := checkoutbench.RawCheckouts(ctx, db, cfg.Driver, w)
	if err != nil {
		t.Fatal(err)
	}
	if p.Orders != orders || len(p.Latency) != orders {
		t.Fatalf("phase of %d orders, %d latencies; want %d", p.Orders, len(p.Latency), orders)
	}
	for _, id := range ids {
		if r, _, err := s.Stock(ctx, id); err != nil || r.Committed != orders*2/items {
			t.Fatalf("%s: committed %d, %v; want %d", id, r.Committed, err, orders*2/items)
		}
	}

	out, err := s.PendingOutbox(ctx, 2*orders)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != orders {
		t.Fatalf("%d outbox records, want %d", len(out), orders)
	}
	users := map[string]bool{}
	for _, rec := range out {
		ev, err := topics.Decode(rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		created, ok := ev.Data.(topics.OrderCreated)
		if rec.Topic != topics.OrderEvents || ev.Type != topics.TypeOrderCreated || !ok || ev.ID != rec.EventID || rec.Key != created.OrderID {
			t.Fatalf("outbox record %+v holds %+v", rec, ev)
		}
		o, err := s.Order(ctx, created.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != lifecycle.Created || o.UserID != created.UserID || o.TotalCents != 350 || o.TotalCents != created.TotalCents ||
			len(o.Lines) != 2 || o.Lines[0].ItemID >= o.Lines[1].ItemID || len(o.Timeline) != 1 || !o.ExpiresAt.Equal(created.ExpiresAt) ||
			o.ExpiresAt.Sub(o.CreatedAt) != time.Hour {
			t.Fatalf("order %+v from event %+v", o, created)
		}
		users[o.UserID] = true
	}
	if len(users) != orders {
		t.Fatalf("%d users ordered, want %d", len(users), orders)
	}
}

// A line the stock cannot fill fails its order, which leaves nothing
// behind, and the phase says so.
func rawCheckoutsReportASoldOutOrder(t *testing.T, cfg config.OrdersStore) {
	ctx := t.Context()
	s, db := open(t, cfg, map[string]int64{"scarce": 1, "plenty": 10})
	lines := func(int) []checkoutbench.Line {
		return []checkoutbench.Line{{ItemID: "plenty", Quantity: 1, PriceCents: 10}, {ItemID: "scarce", Quantity: 1, PriceCents: 10}}
	}
	_, err := checkoutbench.RawCheckouts(ctx, db, cfg.Driver, checkoutbench.Work{Orders: 2, Callers: 1, Lines: lines, TTL: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 calls failed") || !strings.Contains(err.Error(), "scarce is sold out") {
		t.Fatalf("err = %v, want 1 of 2 failed on scarce", err)
	}
	if r, _, _ := s.Stock(ctx, "plenty"); r.Committed != 1 {
		t.Fatalf("plenty: committed %d, want 1: the failed order was not rolled back", r.Committed)
	}
	if n, _, err := s.OutboxBacklog(ctx); err != nil || n != 1 {
		t.Fatalf("outbox %d, %v; want 1", n, err)
	}
}

func naiveFlashSaleSellsEveryUnitOnce(t *testing.T, cfg config.OrdersStore) {
	ctx := t.Context()
	s, db := open(t, cfg, map[string]int64{"hot": 10})
	p, err := checkoutbench.NaiveFlashSale(ctx, db, "hot", 30)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := s.Stock(ctx, "hot")
	if err != nil || p.Orders != 10 || r.Committed != 10 || len(p.Latency) != 30 {
		t.Fatalf("sold %d, committed %d, %d latencies, %v; want 10, 10, 30", p.Orders, r.Committed, len(p.Latency), err)
	}
}

func TestRawCheckoutsRefuseAnUnknownDriver(t *testing.T) {
	_, err := checkoutbench.RawCheckouts(t.Context(), nil, "postgres", checkoutbench.Work{})
	if err == nil || !strings.Contains(err.Error(), `unknown driver "postgres"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestPercentileAndRate(t *testing.T) {
	var p checkoutbench.Phase
	for i := range 2 {
		q := checkoutbench.Phase{Orders: 50, Elapsed: time.Second}
		for k := range 50 {
			q.Latency = append(q.Latency, time.Duration(100-2*k-i)*time.Millisecond)
		}
		p.Add(q)
	}
	if p.Rate() != 50 || p.Percentile(50) != 51 || p.Percentile(99) != 100 {
		t.Fatalf("rate %v, p50 %v, p99 %v; want 50, 51, 100", p.Rate(), p.Percentile(50), p.Percentile(99))
	}
}
