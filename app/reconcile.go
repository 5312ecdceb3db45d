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
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/sinks/history"
	"github.com/shopstream/shopstream/topics"
)

// Reconcile compares the order-taking database and the history store with
// the inventory and order tables (package reconcile), and with the event
// topics when opts say. Right after a burst of writes the stream side lags
// behind the database, so it compares again every 200ms until the two
// agree or wait has passed, and returns the last differences. hist, when
// not nil, holds the orders that left the database. only, when not nil,
// keeps the differences that matter to the caller: a test sharing a Kafka
// cluster with others judges its own. rt keeps its views apart from any
// other: not the runtime of a process with views of these tables.
func Reconcile(ctx context.Context, store orderdb.Store, hist history.Store, rt *processors.Runtime, wait time.Duration, only func(reconcile.Difference) bool, opts ...ReconcileOption) ([]reconcile.Difference, error) {
	o := reconcileOptions{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	var events *reconcile.Events
	var read func(context.Context) error
	if kopts := o.events; kopts != nil || o.analytics != nil {
		if kopts == nil {
			kopts = o.analyticsKopts
		}
		names := []string{topics.OrderEvents}
		if o.analytics != nil {
			names = analytics.Inputs
		}
		r, err := reconcile.NewReader(kopts, names...)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		defer r.Close()
		events = reconcile.NewEvents(o.events != nil, o.analytics != nil)
		keeps := analyticsKeeps()
		read = func(ctx context.Context) error {
			err := r.Read(ctx, func(topic string, ev topics.Event) {
				if topic == topics.OrderEvents && o.keep(userOf(ev)) {
					events.AddOrder(ev)
				}
				if o.analytics != nil && keeps(topic, ev) {
					events.AddAnalytics(ev)
				}
			})
			if events.Trimmed == nil && len(r.Trimmed()) > 0 {
				o.log.Warn("retention deleted the oldest events of topics reconcile reads: the checks that need a topic's whole history leave it out",
					"topics", r.Trimmed())
			}
			events.Trimmed = r.Trimmed()
			return err
		}
	}

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
		// The stores before the stream side, which trails them.
		db, err := dbSide(ctx, store, hist, o)
		if err != nil {
			return nil, err
		}
		stream, err := streamSide(iv, ov, o)
		if err != nil {
			return nil, err
		}
		if read != nil {
			if err := read(ctx); err != nil {
				return nil, err
			}
			stream.Events = events
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

// ReconcileOption adds to what Reconcile compares.
type ReconcileOption func(*reconcileOptions)

type reconcileOptions struct {
	// events and analyticsKopts are the clients' options of the topic
	// checks; nil leaves a check out.
	events, analyticsKopts []kgo.Opt
	analytics              analytics.Store
	users                  func(userID string) bool
	log                    *slog.Logger
}

// keep reports whether the orders of userID are compared.
func (o reconcileOptions) keep(userID string) bool { return o.users == nil || o.users(userID) }

// ReconcileEvents also compares the orders with order.events, read from
// its start through clients built from kopts (eventlog.ClientOpts): every
// order once, live or in history, with one order.created event, and as
// many events of each type as the orders' statuses account for.
func ReconcileEvents(kopts []kgo.Opt) ReconcileOption {
	return func(o *reconcileOptions) { o.events = kopts }
}

// ReconcileAnalytics also compares the event counts of the analytics
// store with the events its sink keeps from the topics it reads, read
// from their start through clients built from kopts.
func ReconcileAnalytics(store analytics.Store, kopts []kgo.Opt) ReconcileOption {
	return func(o *reconcileOptions) { o.analytics, o.analyticsKopts = store, kopts }
}

// ReconcileUsers compares only the orders, and the order events, of the
// users keep accepts: a test sharing Kafka with others judges its own
// orders. The analytics counts stay the whole topics'.
func ReconcileUsers(keep func(userID string) bool) ReconcileOption {
	return func(o *reconcileOptions) { o.users = keep }
}

// ReconcileLogger receives Reconcile's warnings (default slog.Default()).
func ReconcileLogger(l *slog.Logger) ReconcileOption {
	return func(o *reconcileOptions) { o.log = l }
}

// userOf is the user of an order event.
func userOf(ev topics.Event) string {
	switch d := ev.Data.(type) {
	case topics.OrderCreated:
		return d.UserID
	case topics.OrderTransition:
		return d.UserID
	}
	return ""
}

// analyticsKeeps says which events the analytics sink stores: of a type
// its topic carries, in a form the store takes (analytics.FromTopic). The
// rest it dead-letters.
func analyticsKeeps() func(topic string, ev topics.Event) bool {
	cat := topics.Catalog(topics.Settings{Partitions: 1, Replication: 1})
	carries := map[[2]string]bool{}
	for _, name := range analytics.Inputs {
		t, _ := topics.Lookup(cat, name)
		for _, typ := range t.Types {
			carries[[2]string{name, typ}] = true
		}
	}
	return func(topic string, ev topics.Event) bool {
		if !carries[[2]string{topic, ev.Type}] {
			return false
		}
		_, err := analytics.FromTopic(ev)
		return err == nil
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

// dbSide reads the order-taking database, then the history store when
// there is one, and the analytics store's counts when asked. In that
// order, a migration running meanwhile can show an order in both stores,
// which the next comparison clears, but never in neither: it writes
// history before it deletes from the database.
func dbSide(ctx context.Context, store orderdb.Store, hist history.Store, o reconcileOptions) (reconcile.DB, error) {
	db := reconcile.DB{Stock: map[string]reconcile.Stock{}, Orders: map[string]reconcile.Order{}}
	err := store.EachStock(ctx, func(s orderdb.StockRow) error {
		db.Stock[s.ItemID] = reconcile.Stock{OnHand: s.OnHand, Committed: s.Committed}
		return nil
	})
	if err != nil {
		return db, fmt.Errorf("app: reconcile: read the database's stock: %w", err)
	}
	into := func(m map[string]reconcile.Order) func(orderdb.Order) error {
		return func(ord orderdb.Order) error {
			if !o.keep(ord.UserID) {
				return nil
			}
			units := map[string]int64{}
			for _, l := range ord.Lines {
				units[l.ItemID] += l.Quantity
			}
			m[ord.OrderID] = reconcile.Order{OrderID: ord.OrderID, UserID: ord.UserID, Status: ord.Status, Units: units}
			return nil
		}
	}
	if err := store.EachOrder(ctx, into(db.Orders)); err != nil {
		return db, fmt.Errorf("app: reconcile: read the database's orders: %w", err)
	}
	if hist != nil {
		db.History = map[string]reconcile.Order{}
		if err := hist.EachOrder(ctx, into(db.History)); err != nil {
			return db, fmt.Errorf("app: reconcile: read the history store's orders: %w", err)
		}
	}
	if o.analytics != nil {
		if db.Analytics, err = o.analytics.EventCounts(ctx); err != nil {
			return db, fmt.Errorf("app: reconcile: %w", err)
		}
	}
	return db, nil
}

func streamSide(iv, ov *goka.View, o reconcileOptions) (reconcile.Stream, error) {
	s := reconcile.Stream{OnHand: map[string]int64{}, Orders: map[string]reconcile.Order{}}
	err := each(iv, func(st inventory.Stock) { s.OnHand[st.ItemID] = st.OnHand })
	if err != nil {
		return s, err
	}
	err = each(ov, func(ord order.Order) {
		if !o.keep(ord.UserID) {
			return
		}
		units := map[string]int64{}
		for _, l := range ord.Lines {
			units[l.ItemID] += l.Quantity
		}
		s.Orders[ord.OrderID] = reconcile.Order{OrderID: ord.OrderID, UserID: ord.UserID, Status: ord.Status, Units: units}
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

// ReconcileChecks picks the comparisons beyond stock and the order table.
type ReconcileChecks struct {
	// Events compares the orders with order.events (ReconcileEvents).
	Events bool
	// Analytics compares the analytics store's counts with the topics
	// (ReconcileAnalytics).
	Analytics bool
}

// ReconcileDeployment runs Reconcile against the deployment cfg describes
// from outside it: the brokers (an all-in-one's embedded broker on
// kafka.embedded.port), the order-taking database, the history store
// when it can be read, the analytics store when checks say, and views
// kept in a temporary directory.
func ReconcileDeployment(ctx context.Context, cfg config.Config, log *slog.Logger, wait time.Duration, checks ReconcileChecks) ([]reconcile.Difference, error) {
	brokers := cfg.Kafka.Brokers
	if cfg.Kafka.Embedded.Enabled {
		brokers = []string{fmt.Sprintf("127.0.0.1:%d", cfg.Kafka.Embedded.Port)}
	}
	kopts := eventlog.ClientOpts(brokers, cfg.Kafka.ClientID+"-reconcile", cfg.Kafka.DialTimeout, log)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("app: reconcile: kafka client: %w", err)
	}
	err = eventlog.Ping(ctx, cl, brokers, cfg.Kafka.DialTimeout)
	cl.Close()
	if err != nil {
		return nil, err
	}
	if o := cfg.Stores.Orders; o.Driver == "sqlite" {
		path := o.DSN
		if path == "" {
			path = filepath.Join(cfg.DataDir, "orders.db")
		}
		if err := exists("order-taking database", path, cfg.DataDir); err != nil {
			return nil, err
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
	var opts []ReconcileOption
	if checks.Events {
		opts = append(opts, ReconcileEvents(kopts))
	}
	if checks.Analytics {
		if cfg.Stores.Analytics.Driver == "sqlite" {
			if err := exists("analytics database", filepath.Join(cfg.DataDir, "analytics.db"), cfg.DataDir); err != nil {
				return nil, fmt.Errorf("%w (--analytics=false leaves the analytics counts out)", err)
			}
		}
		a, err := analytics.Open(ctx, cfg.Stores.Analytics, cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("app: reconcile: %w (--analytics=false leaves the analytics counts out)", err)
		}
		defer a.Close()
		if v, err := a.SchemaVersion(ctx); err != nil || v == 0 {
			return nil, fmt.Errorf("app: reconcile: the analytics store (stores.analytics, data_dir %s) holds no shopstream schema (%v): is this the deployment's configuration?", cfg.DataDir, err)
		}
		opts = append(opts, ReconcileAnalytics(a, kopts))
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
		log.Warn("reconcile reads no embedded history store: orders migrated to it count as missing from the database, and their order events as unaccounted for", "data_dir", cfg.DataDir)
	}
	return Reconcile(ctx, store, hist, rt, wait, nil, append(opts, ReconcileLogger(log))...)
}

// exists refuses a database file that is not there: opening it would
// create an empty one.
func exists(what, path, dataDir string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("app: reconcile: no %s at %s (data_dir %s): %w", what, path, dataDir, err)
	}
	return nil
}
