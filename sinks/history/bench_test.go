package history

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/internal/checkoutbench"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/lifecycle"
)

// The loads.
const (
	migrateOrders = 10_000 // canceled orders in MySQL, moved to Cassandra
	pageUsers     = 20     // users with 1,000 orders each, 500 of them in history
	pageHistory   = 500
	pageSize      = 20 // the REST edge's default page
)

// BenchmarkMigrateCassandra moves migrateOrders canceled orders (two lines,
// two transitions each) from MySQL to Cassandra, a batch of 500 at a time,
// and compares its rate with a raw gocql loop inserting the same rows into
// the same two tables of another keyspace of the same server, one INSERT
// after the other (raw-orders/s, ratio) and from 32 goroutines
// (raw32-orders/s, ratio32). p50-ms and p99-ms are per step of the
// migration (a batch written while the one before it is deleted and the
// one after it read). Run it once:
//
//	SHOPSTREAM_TEST_MYSQL=... SHOPSTREAM_TEST_CASSANDRA=127.0.0.1:19042 \
//	  go test -run '^$' -bench MigrateCassandra -benchtime 1x ./sinks/history/
func BenchmarkMigrateCassandra(b *testing.B) {
	addr := realserver.Addr(b, realserver.Cassandra)
	var moved, raw, raw32 checkoutbench.Phase
	for range b.N {
		b.StopTimer()
		db, orders := canceledOrders(b, cassandraBackend(addr), migrateOrders)
		hist := migrated(b, cassandraBackend(addr))
		var steps []time.Duration
		step := prometheus.ObserverFunc(func(s float64) { steps = append(steps, time.Duration(s*float64(time.Second))) })
		m := NewMigrator(db, hist, MigrateAfter(0), MigrateLogger(testLogger(b)),
			MigrateMetrics(prometheus.NewCounter(prometheus.CounterOpts{Name: "moved"}), step, prometheus.NewGauge(prometheus.GaugeOpts{Name: "backlog"})))
		b.StartTimer()

		start := time.Now()
		n, err := m.Pass(context.Background())
		moved.Elapsed += time.Since(start)
		moved.Orders += n
		moved.Latency = append(moved.Latency, steps...)
		if err != nil || n != migrateOrders {
			b.Fatalf("moved %d orders of %d: %v", n, migrateOrders, err)
		}

		b.StopTimer()
		raw.Add(rawInserts(b, migrated(b, cassandraBackend(addr)).(*cassandra), orders, 1))
		raw32.Add(rawInserts(b, migrated(b, cassandraBackend(addr)).(*cassandra), orders, putConcurrency))
		b.StartTimer()
	}
	checkoutbench.Report(b, moved, raw)
	b.ReportMetric(raw32.Rate(), "raw32-orders/s")
	b.ReportMetric(moved.Rate()/raw32.Rate(), "ratio32")
}

// canceledOrders takes n orders of two lines in a fresh database of be's
// kind, expires them all, and returns the database and the orders, whole.
func canceledOrders(b *testing.B, be backend, n int) (orderdb.Store, []orderdb.Order) {
	ctx := context.Background()
	db := openDB(b, be)
	var failed checkoutbench.Failures
	checkoutbench.Run(n, checkoutbench.Callers, func(k int) {
		_, err := db.Checkout(ctx, orderdb.CheckoutRequest{UserID: fmt.Sprintf("user-%03d", k%100), Currency: "USD", TTL: time.Microsecond,
			Lines: []orderdb.Line{{ItemID: items[k%len(items)], Quantity: 1, PriceCents: 100}, {ItemID: items[(k+1)%len(items)], Quantity: 2, PriceCents: 250}}})
		if err != nil {
			failed.Add(err)
		}
	})
	if err := failed.Err("checkout", n); err != nil {
		b.Fatal(err)
	}
	for expired := 0; expired < n; {
		done, err := db.ExpireDue(ctx, time.Now(), 1000)
		if err != nil || len(done) == 0 {
			b.Fatalf("expire: %d, %v", len(done), err)
		}
		expired += len(done)
	}
	orders, err := db.FinalOrders(ctx, time.Now(), n)
	if err != nil || len(orders) != n {
		b.Fatalf("final orders: %d, %v", len(orders), err)
	}
	return db, orders
}

// rawInserts is the baseline: the rows Put writes, as plain INSERTs, from
// callers goroutines, each order's two rows one after the other.
func rawInserts(b *testing.B, c *cassandra, orders []orderdb.Order, callers int) checkoutbench.Phase {
	bodies := make([][]byte, len(orders))
	for i, o := range orders {
		var err error
		if bodies[i], err = encode(o); err != nil {
			b.Fatal(err)
		}
	}
	byID := `INSERT INTO ` + c.ks + `.orders_by_id (order_id, user_id, created_at, status, total_cents, currency, body) VALUES (?, ?, ?, ?, ?, ?, ?)`
	byUser := `INSERT INTO ` + c.ks + `.orders_by_user_micros (user_id, created_micros, order_id, status, total_cents, currency, body) VALUES (?, ?, ?, ?, ?, ?, ?)`
	var failed checkoutbench.Failures
	p := checkoutbench.Run(len(orders), callers, func(k int) {
		o := orders[k]
		err := c.session.Query(byID, o.OrderID, o.UserID, o.CreatedAt, string(o.Status), o.TotalCents, o.Currency, bodies[k]).Exec()
		if err == nil {
			err = c.session.Query(byUser, o.UserID, o.CreatedAt.UnixMicro(), o.OrderID, string(o.Status), o.TotalCents, o.Currency, bodies[k]).Exec()
		}
		if err != nil {
			failed.Add(err)
		}
	})
	if err := failed.Err("raw insert", len(orders)); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkHistoryPage reads pages of pageSize orders, newest first, of
// users with 1,000 orders each, the older 500 of which are in history
// (only those: the database's half is the merged view's), walking every
// user's history from the first page to the last, after one walk that
// warms up. p50-ms and p99-ms are per page. Run it once:
//
//	SHOPSTREAM_TEST_CASSANDRA=127.0.0.1:19042 go test -run '^$' -bench HistoryPage -benchtime 3x ./sinks/history/
func BenchmarkHistoryPage(b *testing.B) {
	b.Run("embedded-leveldb", func(b *testing.B) { benchPages(b, levelDBBackend()) })
	b.Run("cassandra", func(b *testing.B) { benchPages(b, cassandraBackend(realserver.Addr(b, realserver.Cassandra))) })
}

func benchPages(b *testing.B, be backend) {
	hist := migrated(b, be)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for u := range pageUsers {
		var orders []orderdb.Order
		for i := range pageHistory {
			created := start.Add(time.Duration(i)*time.Hour + time.Duration(u)*time.Second + 4321*time.Microsecond)
			o := testOrder(fmt.Sprintf("o-%02d-%04d", u, i), fmt.Sprintf("user-%02d", u), created, lifecycle.Delivered)
			o.Timeline = []orderdb.Transition{{Status: lifecycle.Created, At: created}, {Status: lifecycle.Placed, At: created.Add(time.Second)},
				{Status: lifecycle.Shipped, At: created.Add(time.Minute)}, {Status: lifecycle.Delivered, At: o.UpdatedAt}}
			o.Version, o.PaymentID = 4, "pay-"+o.OrderID
			orders = append(orders, o)
		}
		if err := hist.Put(context.Background(), orders); err != nil {
			b.Fatal(err)
		}
	}
	// Every page of every user, each timed.
	walk := func() checkoutbench.Phase {
		var p checkoutbench.Phase
		t0 := time.Now()
		for u := range pageUsers {
			var c Cursor
			for {
				t := time.Now()
				orders, next, err := hist.UserOrders(context.Background(), fmt.Sprintf("user-%02d", u), c, pageSize)
				p.Latency = append(p.Latency, time.Since(t))
				if err != nil || len(orders) == 0 {
					b.Fatalf("page of user-%02d after %+v: %d orders, %v", u, c, len(orders), err)
				}
				p.Orders++
				if next.IsZero() {
					break
				}
				c = next
			}
		}
		p.Elapsed = time.Since(t0)
		if want := pageUsers * pageHistory / pageSize; p.Orders != want {
			b.Fatalf("%d pages, want %d", p.Orders, want)
		}
		return p
	}
	walk() // the driver prepares its statements; the server warms its caches
	var p checkoutbench.Phase
	b.ResetTimer()
	for b.Loop() {
		p.Add(walk())
	}
	b.ReportMetric(p.Rate(), "pages/s")
	b.ReportMetric(p.Percentile(50), "p50-ms")
	b.ReportMetric(p.Percentile(99), "p99-ms")
}
