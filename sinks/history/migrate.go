package history

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/api/orderdb"
)

// Source is the order-taking database as the migration sees it;
// orderdb.Store is one.
type Source interface {
	FinalOrders(ctx context.Context, olderThan time.Time, limit int) ([]orderdb.Order, error)
	DeleteOrders(ctx context.Context, orders []orderdb.Order) (int, error)
	FinalBacklog(ctx context.Context, olderThan time.Time) (int64, error)
}

// Migrator moves finished orders from the order-taking database to the
// history store (DESIGN, flow 6), a batch at a time: it reads the oldest
// final orders whose payment deadline and last change are older than its
// age, writes them to history, and only once history holds them durably
// deletes them from the database, each only while it is unchanged.
//
// So it is crash-safe and idempotent by construction. A kill before the
// write changes nothing. A kill after it leaves the batch in both stores,
// the same copy in each (a merged view shows the database's), and the next
// pass writes it again, which changes nothing, and deletes it. An order
// that changed between the read and the delete (a late payment refunding
// a canceled order) is not deleted; a later batch writes its new copy,
// which replaces the old one in history because its updated_at is later.
// Several migrators may run at once: each order is deleted once, and a
// stale copy never replaces a newer one.
//
// The age must exceed the payment role's longest answer (payments.latency;
// config validation holds history_migration.after to it): a canceled
// order can still be refunded by a late payment, which must find it in
// the database.
type Migrator struct {
	db       Source
	store    Store
	after    time.Duration
	batch    int
	interval time.Duration
	log      *slog.Logger
	migrated prometheus.Counter
	duration prometheus.Observer
	backlog  prometheus.Gauge
}

// MigrateOption configures a Migrator.
type MigrateOption func(*Migrator)

// The defaults of config.Default's history_migration.
const (
	DefaultMigrateAfter    = 30 * 24 * time.Hour
	DefaultMigrateBatch    = 500
	DefaultMigrateInterval = time.Minute
)

// MigrateAfter is how old a final order must be to move (default
// DefaultMigrateAfter): both its expires_at and its updated_at.
func MigrateAfter(d time.Duration) MigrateOption { return func(m *Migrator) { m.after = d } }

// MigrateBatch bounds the orders one batch moves (default
// DefaultMigrateBatch).
func MigrateBatch(n int) MigrateOption {
	return func(m *Migrator) {
		if n > 0 {
			m.batch = n
		}
	}
}

// MigrateInterval is the pause between passes (default
// DefaultMigrateInterval); a pass moves batches until none is left.
func MigrateInterval(d time.Duration) MigrateOption {
	return func(m *Migrator) {
		if d > 0 {
			m.interval = d
		}
	}
}

// MigrateLogger sets the logger (default slog.Default()).
func MigrateLogger(l *slog.Logger) MigrateOption { return func(m *Migrator) { m.log = l } }

// MigrateMetrics reports progress: migrated counts the orders moved
// (deleted from the database once in history), batchDuration observes the
// seconds of each step of a pass (a batch written while the one before it
// is deleted and the one after it read), and backlog is how many old
// final orders wait, counted at the start of each pass and lowered as
// batches move them.
func MigrateMetrics(migrated prometheus.Counter, batchDuration prometheus.Observer, backlog prometheus.Gauge) MigrateOption {
	return func(m *Migrator) { m.migrated, m.duration, m.backlog = migrated, batchDuration, backlog }
}

// NewMigrator moves orders from db to store, which must be migrated.
func NewMigrator(db Source, store Store, opts ...MigrateOption) *Migrator {
	m := &Migrator{
		db: db, store: store, after: DefaultMigrateAfter, batch: DefaultMigrateBatch, interval: DefaultMigrateInterval,
		log: slog.Default(),
		// Unregistered: they count for nobody unless MigrateMetrics says.
		migrated: prometheus.NewCounter(prometheus.CounterOpts{Name: "migrated"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "batch_seconds"}),
		backlog:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "backlog"}),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Run makes a pass at once and then every interval until ctx ends. A
// failed pass is logged and the next one tries again. It returns nil when
// ctx ended it.
func (m *Migrator) Run(ctx context.Context) error {
	for {
		if _, err := m.Pass(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("history migration failed; the next pass retries", "err", err, "in", m.interval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(m.interval):
		}
	}
}

// Pass moves the final orders old enough now, a batch at a time, and
// returns how many it moved. It keeps both stores busy: while one batch is
// written to history, the batch written before it is deleted from the
// database and the batch after it is read. A batch is deleted only once
// its own write has returned, so overlapping changes nothing of the order
// of the two steps for any order.
func (m *Migrator) Pass(ctx context.Context) (int, error) {
	start := time.Now()
	olderThan := start.Add(-m.after)
	backlog, err := m.db.FinalBacklog(ctx, olderThan)
	if err != nil {
		return 0, fmt.Errorf("history: migrate: %w", err)
	}
	m.backlog.Set(float64(backlog))
	writing, err := m.read(ctx, olderThan, nil)
	if err != nil {
		return 0, err
	}
	moved := 0
	last := len(writing) < m.batch // nothing after it to read
	var written []orderdb.Order
	for len(writing) > 0 || len(written) > 0 {
		t := time.Now()
		var next []orderdb.Order
		deleted := 0
		g, gctx := errgroup.WithContext(ctx)
		if len(writing) > 0 {
			g.Go(func() error {
				if err := m.store.Put(gctx, writing); err != nil {
					return fmt.Errorf("history: migrate %d orders: %w", len(writing), err)
				}
				return nil
			})
		}
		g.Go(func() (err error) {
			if len(written) > 0 {
				if deleted, err = m.db.DeleteOrders(gctx, written); err != nil {
					return fmt.Errorf("history: migrate %d orders written to history: %w", len(written), err)
				}
			}
			if last {
				return nil
			}
			next, err = m.read(gctx, olderThan, writing)
			return err
		})
		err := g.Wait()
		moved += deleted
		m.migrated.Add(float64(deleted))
		m.backlog.Set(float64(max(backlog-int64(moved), 0)))
		if err != nil {
			return moved, err
		}
		m.duration.Observe(time.Since(t).Seconds())
		m.log.Debug("history migration batch", "written", len(writing), "deleted", deleted, "took", time.Since(t).Round(time.Microsecond))
		// A short read was the last. A delete that removed none of its
		// batch had every order change under it: the next pass takes
		// them again, rather than this one going round.
		last = last || len(next) < m.batch || (len(written) > 0 && deleted == 0)
		written, writing = writing, next
	}
	if moved > 0 {
		m.log.Info("moved orders to history", "orders", moved, "older_than", olderThan.UTC().Format(time.RFC3339),
			"took", time.Since(start).Round(time.Millisecond))
	}
	return moved, nil
}

// read returns the next batch of final orders older than olderThan,
// leaving out the batch being written, which is still in the database.
func (m *Migrator) read(ctx context.Context, olderThan time.Time, writing []orderdb.Order) ([]orderdb.Order, error) {
	orders, err := m.db.FinalOrders(ctx, olderThan, m.batch+len(writing))
	if err != nil {
		return nil, fmt.Errorf("history: migrate: %w", err)
	}
	skip := make(map[string]bool, len(writing))
	for _, o := range writing {
		skip[o.OrderID] = true
	}
	out := orders[:0]
	for _, o := range orders {
		if !skip[o.OrderID] && len(out) < m.batch {
			out = append(out, o)
		}
	}
	return out, nil
}
