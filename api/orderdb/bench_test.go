package orderdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/checkoutbench"
	"github.com/shopstream/shopstream/topics"
)

// The benchmarks compare Store.Checkout with what the database does
// without group commit (internal/checkoutbench's baselines), in the same
// process and on the same connection settings:
//
//   - BenchmarkCheckout: orders of distinct items, 64 callers at a time;
//     the raw baseline is a plain SQL loop with 64 goroutines, one order
//     per transaction (a conditional UPDATE per line in item order, INSERT
//     order, lines, timeline, outbox, COMMIT).
//   - BenchmarkFlashSale: one item with 1,000 units and 2,000 buyers at
//     once; the raw baseline is the naive hot-row loop, one autocommit
//     conditional UPDATE per buyer over 64 connections.
//
// app's BenchmarkCheckoutHTTP and BenchmarkFlashSaleHTTP measure the same
// through the REST edge.
//
// Run once each: go test ./api/orderdb -run '^$' -bench . -benchtime 1x
// (the mysql halves need SHOPSTREAM_TEST_MYSQL).

// benchItems is how many items BenchmarkCheckout's orders spread over:
// every order of a phase has two no other order has.
const benchItems = 2 * checkoutbench.Orders

var benchWork = checkoutbench.Work{Orders: checkoutbench.Orders, Callers: checkoutbench.Callers,
	Lines: checkoutbench.Pairs("item", benchItems), TTL: DefaultTTL}

func BenchmarkCheckout(b *testing.B) {
	checkoutbench.Engines(b, func(b *testing.B, fresh func() config.OrdersStore) {
		var raw, store checkoutbench.Phase
		for range b.N {
			s := openBench(b, fresh(), true)
			p, err := checkoutbench.RawCheckouts(context.Background(), s.DB(), s.driver, benchWork)
			if err != nil {
				b.Fatal(err)
			}
			if c := count(b, s.sqlStore, "orders"); c != benchWork.Orders {
				b.Fatalf("raw loop: %d orders, want %d", c, benchWork.Orders)
			}
			raw.Add(p)
			store.Add(storeCheckouts(b, openBench(b, fresh(), true)))
		}
		checkoutbench.Report(b, store, raw)
	})
}

func BenchmarkFlashSale(b *testing.B) {
	checkoutbench.Engines(b, func(b *testing.B, fresh func() config.OrdersStore) {
		var raw, store checkoutbench.Phase
		for range b.N {
			s := openBench(b, fresh(), false)
			p, err := checkoutbench.NaiveFlashSale(context.Background(), s.DB(), "flash", checkoutbench.FlashBuyers)
			if err != nil {
				b.Fatal(err)
			}
			checkFlashSale(b, s.sqlStore, int64(p.Orders), false)
			raw.Add(p)
			store.Add(storeFlashSale(b, openBench(b, fresh(), false)))
		}
		checkoutbench.Report(b, store, raw)
	})
}

// benchStore is a store opened for a benchmark and its driver.
type benchStore struct {
	*sqlStore
	driver string
}

// openBench opens and migrates a database, stocked with benchItems items
// (plenty of each) or one flash-sale item with FlashUnits.
func openBench(b *testing.B, cfg config.OrdersStore, spread bool) benchStore {
	b.Helper()
	ctx := context.Background()
	st, err := Open(ctx, cfg, b.TempDir())
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
			vals = append(vals, checkoutbench.Item("item", i), int64(1_000_000), int64(1), now())
		}
	} else {
		vals = []any{"flash", int64(checkoutbench.FlashUnits), int64(1), now()}
	}
	if err := insertRows(ctx, s.DB(), "stock", []string{"item_id", "on_hand", "version", "updated_at"}, vals); err != nil {
		b.Fatal(err)
	}
	checkoutbench.Pool(s.DB(), cfg.Driver)
	return benchStore{s, cfg.Driver}
}

func storeCheckouts(b *testing.B, s benchStore) checkoutbench.Phase {
	b.Helper()
	ctx := context.Background()
	var failed checkoutbench.Failures
	p := checkoutbench.Run(benchWork.Orders, benchWork.Callers, func(k int) {
		var lines []Line
		for _, l := range benchWork.Lines(k) {
			lines = append(lines, Line(l))
		}
		if _, err := s.Checkout(ctx, buy(fmt.Sprintf("user-%d", k), lines...)); err != nil {
			failed.Add(err)
		}
	})
	if err := failed.Err("store checkouts", benchWork.Orders); err != nil {
		b.Fatal(err)
	}
	if c := count(b, s.sqlStore, "orders"); c != benchWork.Orders {
		b.Fatalf("%d orders, want %d", c, benchWork.Orders)
	}
	return p
}

func storeFlashSale(b *testing.B, s benchStore) checkoutbench.Phase {
	b.Helper()
	ctx := context.Background()
	var sold atomic.Int64
	var failed checkoutbench.Failures
	p := checkoutbench.Run(checkoutbench.FlashBuyers, checkoutbench.FlashBuyers, func(k int) {
		_, err := s.Checkout(ctx, buy(fmt.Sprintf("user-%d", k), Line{ItemID: "flash", Quantity: 1, PriceCents: 999}))
		var short *InsufficientStockError
		switch {
		case err == nil:
			sold.Add(1)
		case !errors.As(err, &short):
			failed.Add(err)
		}
	})
	if err := failed.Err("store flash sale", checkoutbench.FlashBuyers); err != nil {
		b.Fatal(err)
	}
	checkFlashSale(b, s.sqlStore, sold.Load(), true)
	p.Orders = int(sold.Load())
	return p
}

// checkFlashSale fails the benchmark unless exactly FlashUnits were sold,
// as orders too when orders.
func checkFlashSale(b *testing.B, s *sqlStore, sold int64, orders bool) {
	b.Helper()
	r, _, err := s.Stock(context.Background(), "flash")
	if err != nil {
		b.Fatal(err)
	}
	const units = checkoutbench.FlashUnits
	if sold != units || r.Committed != units || r.Sellable() != 0 {
		b.Fatalf("sold %d, committed %d of %d (oversold %d); want exactly %d", sold, r.Committed, r.OnHand, max(-r.Sellable(), 0), units)
	}
	if n := count(b, s, "orders"); orders && n != units {
		b.Fatalf("%d orders for %d units", n, units)
	}
}

// BenchmarkApplyEvents applies inboundEvents supplier stock events as the
// inbound consumer gets them, polls of inboundPoll, against the raw loop a
// consumer without batching runs: one transaction per event (record the
// event id, set the stock, COMMIT). "orders" are events here.
func BenchmarkApplyEvents(b *testing.B) {
	const inboundEvents, inboundPoll = 2000, 500
	events := func() []InboundEvent {
		evs := make([]InboundEvent, inboundEvents)
		for i := range evs {
			evs[i] = InboundEvent{Stock: &StockChange{EventID: fmt.Sprintf("ev-%d-%s", i, topics.NewID()), ItemID: checkoutbench.Item("item", i%benchItems), OnHand: int64(i), Version: int64(2 + i)}}
		}
		return evs
	}
	checkoutbench.Engines(b, func(b *testing.B, fresh func() config.OrdersStore) {
		var raw, store checkoutbench.Phase
		ctx := context.Background()
		for range b.N {
			s := openBench(b, fresh(), true)
			evs := events()
			raw.Add(checkoutbench.Run(len(evs), 1, func(k int) {
				c := evs[k].Stock
				err := s.tx(ctx, s.d.txOptions, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, "INSERT INTO processed_events (event_id, processed_at) VALUES (?, ?)", c.EventID, now()); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, s.d.upsertStock, c.ItemID, c.OnHand, c.Version, now())
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}))
			s = openBench(b, fresh(), true)
			evs = events()
			p := checkoutbench.Run(len(evs)/inboundPoll, 1, func(k int) {
				res, err := s.ApplyEvents(ctx, evs[k*inboundPoll:(k+1)*inboundPoll])
				if err != nil || res[0].Err != nil || res[0].Duplicate {
					b.Fatalf("apply: %v %+v", err, res[0])
				}
			})
			p.Orders = len(evs)
			store.Add(p)
			if n := count(b, s.sqlStore, "processed_events"); n != inboundEvents {
				b.Fatalf("%d events recorded, want %d", n, inboundEvents)
			}
		}
		checkoutbench.Report(b, store, raw)
	})
}
