package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/inventory"
	"github.com/shopstream/shopstream/processors/order"
	"github.com/shopstream/shopstream/reconcile"
	"github.com/shopstream/shopstream/sinks/history"
)

// Reconcile compares the order-taking database with the inventory and
// order tables (package reconcile). Right after a burst of writes the
// stream side lags behind the database, so it compares again every 200ms
// until the two agree or wait has passed, and returns the last
// differences. hist, when not nil, holds the orders that left the
// database. only, when not nil, keeps the differences that matter to
// the caller: a test sharing a Kafka cluster with others judges its own.
// rt keeps its views apart from any other: not the runtime of a process
// with views of these tables.
func Reconcile(ctx context.Context, store orderdb.Store, hist history.Store, rt *processors.Runtime, wait time.Duration, only func(reconcile.Difference) bool) ([]reconcile.Difference, error) {
	iv, err := rt.NewView(inventory.Table, inventory.Codec{})
	if err != nil {
		return nil, err
	}
	ov, err := rt.NewView(order.Table, order.Codec{})
	if err != nil {
		return nil, err
	}
	vctx, stop := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(vctx)
	g.Go(func() error { return iv.Run(gctx) })
	g.Go(func() error { return ov.Run(gctx) })
	defer func() {
		stop()
		g.Wait()
	}()

	// The views first catch up with their tables (bounded apart from
	// wait, so --wait 0 still compares once); then the sides have wait to
	// agree.
	recovery := time.Now().Add(max(wait, time.Minute))
	for !iv.Recovered() || !ov.Recovered() {
		if time.Now().After(recovery) {
			return nil, fmt.Errorf("app: reconcile: the inventory and order tables did not catch up within %v", max(wait, time.Minute))
		}
		if err := pause(ctx, gctx, g); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(wait)
	for {
		db, err := dbSide(ctx, store, hist)
		if err != nil {
			return nil, err
		}
		stream, err := streamSide(iv, ov)
		if err != nil {
			return nil, err
		}
		var diffs []reconcile.Difference
		for _, d := range reconcile.Compare(db, stream) {
			if only == nil || only(d) {
				diffs = append(diffs, d)
			}
		}
		if len(diffs) == 0 || time.Now().After(deadline) {
			return diffs, nil
		}
		if err := pause(ctx, gctx, g); err != nil {
			return nil, err
		}
	}
}

// pause waits 200ms, or fails when ctx ends or a view stopped.
func pause(ctx, views context.Context, g *errgroup.Group) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-views.Done():
		return fmt.Errorf("app: reconcile: a view stopped: %w", g.Wait())
	case <-time.After(200 * time.Millisecond):
		return nil
	}
}

// dbSide reads the order-taking database, and the history store when
// there is one: an order lives in one of them (in both for a moment while
// a migration runs, when the database's copy is the one that counts).
func dbSide(ctx context.Context, store orderdb.Store, hist history.Store) (reconcile.DB, error) {
	db := reconcile.DB{Stock: map[string]reconcile.Stock{}, Orders: map[string]reconcile.Order{}}
	err := store.EachStock(ctx, func(s orderdb.StockRow) error {
		db.Stock[s.ItemID] = reconcile.Stock{OnHand: s.OnHand, Committed: s.Committed}
		return nil
	})
	if err != nil {
		return db, fmt.Errorf("app: reconcile: read the database's stock: %w", err)
	}
	add := func(o orderdb.Order) error {
		units := map[string]int64{}
		for _, l := range o.Lines {
			units[l.ItemID] += l.Quantity
		}
		db.Orders[o.OrderID] = reconcile.Order{OrderID: o.OrderID, UserID: o.UserID, Status: o.Status, Units: units}
		return nil
	}
	if hist != nil {
		if err := hist.EachOrder(ctx, add); err != nil {
			return db, fmt.Errorf("app: reconcile: read the history store's orders: %w", err)
		}
	}
	if err := store.EachOrder(ctx, add); err != nil {
		return db, fmt.Errorf("app: reconcile: read the database's orders: %w", err)
	}
	return db, nil
}

func streamSide(iv, ov *goka.View) (reconcile.Stream, error) {
	s := reconcile.Stream{OnHand: map[string]int64{}, Orders: map[string]reconcile.Order{}}
	err := each(iv, func(st inventory.Stock) { s.OnHand[st.ItemID] = st.OnHand })
	if err != nil {
		return s, err
	}
	err = each(ov, func(o order.Order) {
		units := map[string]int64{}
		for _, l := range o.Lines {
			units[l.ItemID] += l.Quantity
		}
		s.Orders[o.OrderID] = reconcile.Order{OrderID: o.OrderID, UserID: o.UserID, Status: o.Status, Units: units}
	})
	return s, err
}

// each visits every value of a view.
func each[T any](v *goka.View, fn func(T)) error {
	it, err := v.Iterator()
	if err != nil {
		return fmt.Errorf("app: iterate %s: %w", v.Topic(), err)
	}
	defer it.Release()
	for it.Next() {
		val, err := it.Value()
		if err != nil {
			return fmt.Errorf("app: read %s at %q: %w", v.Topic(), it.Key(), err)
		}
		if t, ok := val.(T); ok {
			fn(t)
		}
	}
	return nil
}

// ReconcileDeployment runs Reconcile against the deployment cfg describes
// from outside it: the brokers (an all-in-one's embedded broker on
// kafka.embedded.port), the order-taking database, and views kept in a
// temporary directory.
func ReconcileDeployment(ctx context.Context, cfg config.Config, log *slog.Logger, wait time.Duration) ([]reconcile.Difference, error) {
	brokers := cfg.Kafka.Brokers
	if cfg.Kafka.Embedded.Enabled {
		brokers = []string{fmt.Sprintf("127.0.0.1:%d", cfg.Kafka.Embedded.Port)}
	}
	cl, err := kgo.NewClient(eventlog.ClientOpts(brokers, cfg.Kafka.ClientID+"-reconcile", cfg.Kafka.DialTimeout, log)...)
	if err != nil {
		return nil, fmt.Errorf("app: reconcile: kafka client: %w", err)
	}
	err = eventlog.Ping(ctx, cl, brokers, cfg.Kafka.DialTimeout)
	cl.Close()
	if err != nil {
		return nil, err
	}
	if o := cfg.Stores.Orders; o.Driver == "sqlite" {
		// Opening would create an empty database where none was.
		path := o.DSN
		if path == "" {
			path = filepath.Join(cfg.DataDir, "orders.db")
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("app: reconcile: no order-taking database at %s (data_dir %s): %w", path, cfg.DataDir, err)
		}
	}
	store, err := orderdb.Open(ctx, cfg.Stores.Orders, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if v, err := store.SchemaVersion(ctx); err != nil || v == 0 {
		return nil, fmt.Errorf("app: reconcile: the order-taking database (stores.orders, data_dir %s) holds no shopstream schema (%v): is this the deployment's configuration?", cfg.DataDir, err)
	}
	dir, err := os.MkdirTemp("", "shopstream-reconcile-")
	if err != nil {
		return nil, fmt.Errorf("app: reconcile: %w", err)
	}
	defer os.RemoveAll(dir)
	rt := processors.NewRuntime(brokers, dir, cfg.Kafka.DialTimeout, processors.Logger(log))
	// The embedded history store is locked by the all-in-one that writes
	// it; Cassandra is read beside the running roles.
	var hist history.Store
	if cfg.Stores.History.Driver == "cassandra" {
		if hist, err = history.Open(ctx, cfg.Stores.History, cfg.DataDir); err != nil {
			return nil, err
		}
		defer hist.Close()
	} else {
		log.Warn("reconcile reads no embedded history store: orders migrated to it count as missing from the database", "data_dir", cfg.DataDir)
	}
	return Reconcile(ctx, store, hist, rt, wait, nil)
}
