package orderdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// The benchmarks compare Store.Checkout with what the database does
// without group commit, in the same process and on the same connection
// settings:
//
//   - BenchmarkCheckout: orders of distinct items, 64 callers at a time;
//     the raw baseline is a plain SQL loop with 64 goroutines, one order
//     per transaction (a conditional UPDATE per line in item order, INSERT
//     order, lines, timeline, outbox, COMMIT).
//   - BenchmarkFlashSale: one item with 1,000 units and 2,000 buyers at
//     once; the raw baseline is the naive hot-row loop, one autocommit
//     conditional UPDATE per buyer over 64 connections.
//
// Run once each: go test ./api/orderdb -run '^$' -bench . -benchtime 1x
// (the mysql halves need SHOPSTREAM_TEST_MYSQL).

const (
	benchCallers = 64    // concurrent callers and raw connections
	benchOrders  = 10000 // orders per phase of BenchmarkCheckout
	benchItems   = 20000 // items BenchmarkCheckout's orders spread over
	flashUnits   = 1000
	flashBuyers  = 2000
)

func BenchmarkCheckout(b *testing.B) {
	benchAdapters(b, func(b *testing.B, fresh func() target) {
		var raw, store phase
		for range b.N {
			raw.add(rawCheckouts(b, openBench(b, fresh(), true)))
			store.add(storeCheckouts(b, openBench(b, fresh(), true)))
		}
		store.report(b, raw)
	})
}

func BenchmarkFlashSale(b *testing.B) {
	benchAdapters(b, func(b *testing.B, fresh func() target) {
		var raw, store phase
		for range b.N {
			raw.add(naiveFlashSale(b, openBench(b, fresh(), false)))
			store.add(storeFlashSale(b, openBench(b, fresh(), false)))
		}
		store.report(b, raw)
	})
}

// benchAdapters runs bench on SQLite and on the real MySQL (skipped with a
// message when SHOPSTREAM_TEST_MYSQL is unset); fresh gives a new empty
// database each call.
func benchAdapters(b *testing.B, bench func(b *testing.B, fresh func() target)) {
	b.Run("sqlite", func(b *testing.B) {
		bench(b, func() target { return target{cfg: config.OrdersStore{Driver: "sqlite"}, dataDir: b.TempDir()} })
	})
	b.Run("mysql", func(b *testing.B) {
		dsn := realserver.Addr(b, realserver.MySQL)
		bench(b, func() target {
			return target{cfg: config.OrdersStore{Driver: "mysql", DSN: realserver.ScratchMySQL(b, dsn)}}
		})
	})
}

// openBench opens and migrates a database, stocked with benchItems items
// (plenty of each) or one flash-sale item with flashUnits.
func openBench(b *testing.B, db target, spread bool) *sqlStore {
	b.Helper()
	ctx := context.Background()
	st, err := Open(ctx, db.cfg, db.dataDir)
	if err != nil {
		b.Fatal(err)
	}
	s := st.(*sqlStore)
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	var vals []any
	if spread {
		for i := range benchItems {
			vals = append(vals, benchItem(i), int64(1_000_000), int64(1), now())
		}
	} else {
		vals = []any{"flash", int64(flashUnits), int64(1), now()}
	}
	if err := insertRows(ctx, s.DB(), "stock", []string{"item_id", "on_hand", "version", "updated_at"}, vals); err != nil {
		b.Fatal(err)
	}
	// Raw loops use up to benchCallers connections; SQLite keeps its one.
	if s.d != sqliteDialect {
		s.DB().SetMaxOpenConns(benchCallers)
	}
	return s
}

func benchItem(i int) string { return fmt.Sprintf("item-%05d", i%benchItems) }

// benchLines is order k's lines: two items no other concurrent order has.
func benchLines(k int) []Line {
	return []Line{{ItemID: benchItem(2 * k), Quantity: 1, PriceCents: 100}, {ItemID: benchItem(2*k + 1), Quantity: 1, PriceCents: 250}}
}

// phase is what one side of a comparison did.
type phase struct {
	orders  int
	elapsed time.Duration
	latency []time.Duration
}

func (p *phase) add(q phase) {
	p.orders += q.orders
	p.elapsed += q.elapsed
	p.latency = append(p.latency, q.latency...)
}

func (p phase) rate() float64 { return float64(p.orders) / p.elapsed.Seconds() }

func (p phase) p99() float64 {
	if len(p.latency) == 0 {
		return 0
	}
	slices.Sort(p.latency)
	return float64(p.latency[len(p.latency)*99/100]) / float64(time.Millisecond)
}

func (p phase) report(b *testing.B, raw phase) {
	b.ReportMetric(p.rate(), "orders/s")
	b.ReportMetric(raw.rate(), "raw-orders/s")
	b.ReportMetric(p.rate()/raw.rate(), "ratio")
	b.ReportMetric(p.p99(), "p99-ms")
	b.ReportMetric(raw.p99(), "raw-p99-ms")
}

// run calls do(k) for k in [0, n) from callers goroutines at once and
// times each call and the whole.
func run(n, callers int, do func(k int)) phase {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for k := int(next.Add(1) - 1); k < n; k = int(next.Add(1) - 1) {
				t := time.Now()
				do(k)
				lat[k] = time.Since(t)
			}
		})
	}
	wg.Wait()
	return phase{orders: n, elapsed: time.Since(start), latency: lat}
}

func storeCheckouts(b *testing.B, s *sqlStore) phase {
	b.Helper()
	ctx := context.Background()
	p := run(benchOrders, benchCallers, func(k int) {
		if _, err := s.Checkout(ctx, buy(fmt.Sprintf("user-%d", k), benchLines(k)...)); err != nil {
			b.Error(err)
		}
	})
	if c := count(b, s, "orders"); c != benchOrders {
		b.Fatalf("%d orders, want %d", c, benchOrders)
	}
	return p
}

// rawCheckouts is the same work as storeCheckouts without the store: one
// order per transaction.
func rawCheckouts(b *testing.B, s *sqlStore) phase {
	b.Helper()
	ctx := context.Background()
	value, err := topics.Encode(must(topics.New(topics.TypeOrderCreated, topics.NewID(), topics.OrderCreated{OrderID: topics.NewID(),
		UserID: "user-0", Currency: "USD", Lines: []topics.OrderLine{{ItemID: benchItem(0), Quantity: 1, PriceCents: 100}}})))
	if err != nil {
		b.Fatal(err)
	}
	p := run(benchOrders, benchCallers, func(k int) {
		err := retry(ctx, s.d.retryable, func() error {
			tx, err := s.DB().BeginTx(ctx, s.d.txOptions)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			id, at, lines := topics.NewID(), now(), benchLines(k)
			for _, l := range lines {
				res, err := tx.ExecContext(ctx, "UPDATE stock SET committed = committed + ? WHERE item_id = ? AND on_hand - committed >= ?",
					l.Quantity, l.ItemID, l.Quantity)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 1 {
					return errors.New("sold out")
				}
			}
			stmts := []struct {
				q    string
				args []any
			}{
				{"INSERT INTO orders (" + orderColumns + ") VALUES (" + placeholders(11) + ")",
					[]any{id, fmt.Sprintf("user-%d", k), lifecycle.Created, int64(350), "USD", false, "", at, at, at.Add(DefaultTTL), 1}},
				{"INSERT INTO order_lines (order_id, item_id, quantity, price_cents) VALUES (?, ?, ?, ?), (?, ?, ?, ?)",
					[]any{id, lines[0].ItemID, lines[0].Quantity, lines[0].PriceCents, id, lines[1].ItemID, lines[1].Quantity, lines[1].PriceCents}},
				{"INSERT INTO order_timeline (order_id, seq, status, reason, at) VALUES (?, 1, ?, '', ?)", []any{id, lifecycle.Created, at}},
				{"INSERT INTO outbox (topic, record_key, event_id, value, created_at) VALUES (?, ?, ?, ?, ?)",
					[]any{topics.OrderEvents, id, topics.NewID(), value, at}},
			}
			for _, st := range stmts {
				if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
					return err
				}
			}
			return tx.Commit()
		})
		if err != nil {
			b.Error(err)
		}
	})
	if c := count(b, s, "orders"); c != benchOrders {
		b.Fatalf("raw loop: %d orders, want %d", c, benchOrders)
	}
	return p
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// naiveFlashSale: every buyer runs the one-row conditional UPDATE in
// autocommit.
func naiveFlashSale(b *testing.B, s *sqlStore) phase {
	b.Helper()
	ctx := context.Background()
	var sold atomic.Int64
	p := run(flashBuyers, flashBuyers, func(int) {
		res, err := s.DB().ExecContext(ctx, "UPDATE stock SET committed = committed + 1 WHERE item_id = ? AND on_hand - committed >= 1", "flash")
		if err != nil {
			b.Error(err)
			return
		}
		n, _ := res.RowsAffected()
		sold.Add(n)
	})
	checkFlashSale(b, s, sold.Load(), false)
	p.orders = int(sold.Load())
	return p
}

func storeFlashSale(b *testing.B, s *sqlStore) phase {
	b.Helper()
	ctx := context.Background()
	var sold atomic.Int64
	p := run(flashBuyers, flashBuyers, func(k int) {
		_, err := s.Checkout(ctx, buy(fmt.Sprintf("user-%d", k), Line{ItemID: "flash", Quantity: 1, PriceCents: 999}))
		var short *InsufficientStockError
		switch {
		case err == nil:
			sold.Add(1)
		case !errors.As(err, &short):
			b.Error(err)
		}
	})
	checkFlashSale(b, s, sold.Load(), true)
	p.orders = int(sold.Load())
	return p
}

// checkFlashSale fails the benchmark unless exactly flashUnits were sold,
// as orders too when orders.
func checkFlashSale(b *testing.B, s *sqlStore, sold int64, orders bool) {
	b.Helper()
	r, _, err := s.Stock(context.Background(), "flash")
	if err != nil {
		b.Fatal(err)
	}
	if sold != flashUnits || r.Committed != flashUnits || r.Sellable() != 0 {
		b.Fatalf("sold %d, committed %d of %d (oversold %d); want exactly %d", sold, r.Committed, r.OnHand, max(-r.Sellable(), 0), flashUnits)
	}
	if n := count(b, s, "orders"); orders && n != flashUnits {
		b.Fatalf("%d orders for %d units", n, flashUnits)
	}
}
