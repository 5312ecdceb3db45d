// Package checkoutbench is what the checkout benchmarks share: the store's
// (api/orderdb) and the HTTP edge's (app). It holds the load, the timing of
// a phase and its report, and the two baselines issue 6 measures checkout
// against, each a plain SQL loop run on the same database, with the same
// connection settings and the same concurrency as the side it is compared
// with:
//
//   - RawCheckouts: the database's limit for checkout's transaction shape,
//     one order per transaction (a conditional UPDATE per line in item
//     order, INSERT order, lines, timeline, outbox, COMMIT);
//   - NaiveFlashSale: the naive limit for one hot item, the one-row
//     conditional UPDATE in autocommit per buyer.
//
// It must not import api/orderdb, whose in-package benchmarks import it:
// the SQL here is spelled against the order-taking schema on its own.
package checkoutbench

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// The load.
const (
	Callers     = 64     // concurrent callers, and connections of the raw loops on MySQL
	Orders      = 10_000 // orders per checkout phase
	FlashUnits  = 1_000  // units of the flash-sale item
	FlashBuyers = 2_000  // buyers of one unit each, all at once
)

// Engines runs bench as the sub-benchmarks sqlite and mysql. fresh gives a
// new empty database each call: SQLite in the data directory the caller
// opens it with, MySQL a scratch database on the server
// SHOPSTREAM_TEST_MYSQL names (the sub-benchmark skips, saying so, when it
// is unset).
func Engines(b *testing.B, bench func(b *testing.B, fresh func() config.OrdersStore)) {
	b.Run("sqlite", func(b *testing.B) {
		bench(b, func() config.OrdersStore { return config.OrdersStore{Driver: "sqlite"} })
	})
	b.Run("mysql", func(b *testing.B) {
		dsn := realserver.Addr(b, realserver.MySQL)
		bench(b, func() config.OrdersStore {
			return config.OrdersStore{Driver: "mysql", DSN: realserver.ScratchMySQL(b, dsn)}
		})
	})
}

// Pool lets the raw loops run Callers at once on MySQL. SQLite keeps the
// one connection the store writes through.
func Pool(db *sql.DB, driver string) {
	if driver == "mysql" {
		db.SetMaxOpenConns(Callers)
	}
}

// Line is one order line.
type Line struct {
	ItemID     string
	Quantity   int64
	PriceCents int64
}

// Work is a checkout phase: Orders orders, Callers at a time, order k of
// Lines(k), waiting TTL for payment.
type Work struct {
	Orders, Callers int
	Lines           func(k int) []Line
	TTL             time.Duration
}

// Item is the i-th item of a benchmark's items named prefix.
func Item(prefix string, i int) string { return fmt.Sprintf("%s-%05d", prefix, i) }

// Pairs is the lines of order k over n items named prefix (n even): one
// unit each of items 2k and 2k+1, wrapping around, at 100 and 250 cents.
// Orders in flight at once never share an item while n is well above
// twice the callers.
func Pairs(prefix string, n int) func(k int) []Line {
	return func(k int) []Line {
		i := 2 * k % n
		return []Line{{ItemID: Item(prefix, i), Quantity: 1, PriceCents: 100}, {ItemID: Item(prefix, i+1), Quantity: 1, PriceCents: 250}}
	}
}

// Phase is what one side of a comparison did.
type Phase struct {
	Orders  int
	Elapsed time.Duration
	Latency []time.Duration // of each call
}

// Add counts q into p, for benchmarks that run a phase b.N times.
func (p *Phase) Add(q Phase) {
	p.Orders += q.Orders
	p.Elapsed += q.Elapsed
	p.Latency = append(p.Latency, q.Latency...)
}

// Rate is orders per second.
func (p Phase) Rate() float64 { return float64(p.Orders) / p.Elapsed.Seconds() }

// Percentile is the q-th percentile of the calls' latency in milliseconds.
func (p Phase) Percentile(q int) float64 {
	if len(p.Latency) == 0 {
		return 0
	}
	slices.Sort(p.Latency)
	return float64(p.Latency[len(p.Latency)*q/100]) / float64(time.Millisecond)
}

// Report reports p against its baseline raw: orders/s, p50-ms and p99-ms
// of each call, the baseline's raw-orders/s and raw-p99-ms, and ratio,
// p's rate over the baseline's.
func Report(b *testing.B, p, raw Phase) {
	b.ReportMetric(p.Rate(), "orders/s")
	b.ReportMetric(raw.Rate(), "raw-orders/s")
	b.ReportMetric(p.Rate()/raw.Rate(), "ratio")
	b.ReportMetric(p.Percentile(50), "p50-ms")
	b.ReportMetric(p.Percentile(99), "p99-ms")
	b.ReportMetric(raw.Percentile(99), "raw-p99-ms")
}

// Run calls do(k) for k in [0, n) from callers goroutines at once and
// times each call and the whole. Orders is n: a phase that sells less
// says so.
func Run(n, callers int, do func(k int)) Phase {
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
	return Phase{Orders: n, Elapsed: time.Since(start), Latency: lat}
}

// Failures counts the calls of a phase that failed, keeping the first
// error. It is safe for concurrent use.
type Failures struct {
	mu    sync.Mutex
	n     int
	first error
}

// Add counts one failed call.
func (f *Failures) Add(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.first = err
	}
	f.n++
}

// Err is nil when no call failed, else how many of calls failed in the
// phase named what, and the first error.
func (f *Failures) Err(what string, calls int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return nil
	}
	return fmt.Errorf("checkoutbench: %s: %d of %d calls failed; the first: %w", what, f.n, calls, f.first)
}

// RawCheckouts takes w's orders in db, the order-taking database, as a
// plain SQL loop: one transaction per order, begun as the store begins its
// own on driver ("sqlite" or "mysql"). It does not retry: its orders never
// share an item while in flight and lock their rows in item order, so a
// lost lock race is a failure worth seeing.
func RawCheckouts(ctx context.Context, db *sql.DB, driver string, w Work) (Phase, error) {
	var opts *sql.TxOptions
	switch driver {
	case "sqlite": // the store's DSN makes every transaction immediate
	case "mysql":
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	default:
		return Phase{}, fmt.Errorf("checkoutbench: raw checkouts: unknown driver %q: use sqlite or mysql", driver)
	}
	var failed Failures
	p := Run(w.Orders, w.Callers, func(k int) {
		if err := rawCheckout(ctx, db, opts, fmt.Sprintf("user-%d", k), w.Lines(k), w.TTL); err != nil {
			failed.Add(err)
		}
	})
	return p, failed.Err("raw checkouts", w.Orders)
}

// rawCheckout is one order in one transaction. Like the store, it builds
// the order and its order.created event before it begins.
func rawCheckout(ctx context.Context, db *sql.DB, opts *sql.TxOptions, user string, lines []Line, ttl time.Duration) error {
	lines = slices.Clone(lines)
	slices.SortFunc(lines, func(a, b Line) int { return strings.Compare(a.ItemID, b.ItemID) })
	id, at := topics.NewID(), time.Now().UTC().Truncate(time.Microsecond)
	created := topics.OrderCreated{OrderID: id, UserID: user, Currency: "USD", ExpiresAt: at.Add(ttl)}
	rows := make([]string, len(lines))
	lineVals := make([]any, 0, 4*len(lines))
	for i, l := range lines {
		created.Lines = append(created.Lines, topics.OrderLine{ItemID: l.ItemID, Quantity: l.Quantity, PriceCents: l.PriceCents})
		created.TotalCents += l.Quantity * l.PriceCents
		rows[i] = "(?, ?, ?, ?)"
		lineVals = append(lineVals, id, l.ItemID, l.Quantity, l.PriceCents)
	}
	ev, err := topics.New(topics.TypeOrderCreated, id, created, topics.At(at))
	if err != nil {
		return err
	}
	value, err := topics.Encode(ev)
	if err != nil {
		return err
	}

	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, l := range lines {
		res, err := tx.ExecContext(ctx, "UPDATE stock SET committed = committed + ? WHERE item_id = ? AND on_hand - committed >= ?",
			l.Quantity, l.ItemID, l.Quantity)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("item %s is sold out (%d rows, %v)", l.ItemID, n, err)
		}
	}
	for _, st := range []struct {
		q    string
		args []any
	}{
		{"INSERT INTO orders (order_id, user_id, status, total_cents, currency, prime_trial, payment_id, created_at, updated_at, expires_at, version)" +
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			[]any{id, user, lifecycle.Created, created.TotalCents, created.Currency, false, "", at, at, created.ExpiresAt, 1}},
		{"INSERT INTO order_lines (order_id, item_id, quantity, price_cents) VALUES " + strings.Join(rows, ", "), lineVals},
		{"INSERT INTO order_timeline (order_id, seq, status, reason, at) VALUES (?, 1, ?, '', ?)", []any{id, lifecycle.Created, at}},
		{"INSERT INTO outbox (topic, record_key, event_id, value, created_at) VALUES (?, ?, ?, ?, ?)",
			[]any{topics.OrderEvents, id, ev.ID, value, at}},
	} {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// NaiveFlashSale has buyers, all at once, each buy one unit of item with
// the one-row conditional UPDATE in autocommit. Orders is the units sold.
func NaiveFlashSale(ctx context.Context, db *sql.DB, item string, buyers int) (Phase, error) {
	var sold atomic.Int64
	var failed Failures
	p := Run(buyers, buyers, func(int) {
		res, err := db.ExecContext(ctx, "UPDATE stock SET committed = committed + 1 WHERE item_id = ? AND on_hand - committed >= 1", item)
		if err != nil {
			failed.Add(err)
			return
		}
		n, err := res.RowsAffected()
		if err != nil {
			failed.Add(err)
		}
		sold.Add(n)
	})
	p.Orders = int(sold.Load())
	return p, failed.Err("naive flash sale", buyers)
}
