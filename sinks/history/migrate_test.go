package history

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// migrationContract runs the Migrator from the order-taking database each
// adapter is deployed with (SQLite with LevelDB, MySQL with Cassandra)
// into the adapter.
func migrationContract(t *testing.T, b backend) {
	t.Run("migration-moves-old-final-orders-and-heals-a-crash", func(t *testing.T) {
		db := openDB(t, b)
		hist := migrated(t, b)
		delivered := buy(t, db, "u1")
		step(t, db, delivered, pay, ship, deliver)
		canceled := buy(t, db, "u1")
		step(t, db, canceled, cancel)
		refunded := buy(t, db, "u2")
		step(t, db, refunded, pay, cancel)
		placed := buy(t, db, "u2")
		step(t, db, placed, pay)
		finals := []string{delivered, canceled, refunded}

		// Too young to move.
		if n, err := NewMigrator(db, hist, MigrateAfter(time.Hour), MigrateLogger(testLogger(t))).Pass(ctx(t)); err != nil || n != 0 {
			t.Fatalf("a pass over orders younger than the age moved %d (%v)", n, err)
		}
		if n := countAll(t, hist); n != 0 {
			t.Fatalf("history holds %d orders", n)
		}

		// Killed between the write and the delete: each order is in both
		// stores, the same copy.
		mctx, kill := context.WithCancel(ctx(t))
		defer kill()
		fired := new(sync.Map)
		kdb, khist := killing(db, hist, &killSwitch{at: "Put", n: 1, kill: kill, fired: fired})
		if n, err := NewMigrator(kdb, khist, MigrateAfter(0), MigrateLogger(testLogger(t))).Pass(mctx); err == nil || n != 0 || killed(fired, "Put") != 1 {
			t.Fatalf("a pass killed before its delete: moved %d, %v", n, err)
		}
		before := map[string]orderdb.Order{}
		for _, id := range finals {
			live, err := db.Order(ctx(t), id)
			if err != nil {
				t.Fatalf("order %s left the database before its delete: %v", id, err)
			}
			if archived := get(t, hist, id); !reflect.DeepEqual(archived, live) {
				t.Fatalf("history holds\n%+v\nthe database\n%+v", archived, live)
			}
			before[id] = live
		}
		// Meanwhile a late payment refunds the canceled order.
		step(t, db, canceled, pay)

		// The next pass writes the batch again, the refunded copy replacing
		// the canceled one, and deletes it.
		moved := prometheus.NewCounter(prometheus.CounterOpts{Name: "moved"})
		took := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "took"})
		backlog := prometheus.NewGauge(prometheus.GaugeOpts{Name: "backlog"})
		m := NewMigrator(db, hist, MigrateAfter(0), MigrateMetrics(moved, took, backlog), MigrateLogger(testLogger(t)))
		if n, err := m.Pass(ctx(t)); err != nil || n != 3 {
			t.Fatalf("the pass after the crash moved %d, %v; want 3", n, err)
		}
		for _, id := range finals {
			if _, err := db.Order(ctx(t), id); !errors.Is(err, orderdb.ErrOrderNotFound) {
				t.Errorf("order %s still in the database: %v", id, err)
			}
		}
		if o, err := db.Order(ctx(t), placed); err != nil || o.Status != lifecycle.Placed {
			t.Errorf("the placed order: %+v, %v", o, err)
		}
		if got := get(t, hist, canceled); got.Status != lifecycle.Refunded || len(got.Timeline) != 3 || got.PaymentID == "" {
			t.Errorf("history keeps the canceled copy: %+v", got)
		}
		for _, id := range []string{delivered, refunded} {
			if got := get(t, hist, id); !reflect.DeepEqual(got, before[id]) {
				t.Errorf("order %s in history\n%+v\nwant\n%+v", id, got, before[id])
			}
		}
		if got := metric(t, moved).GetCounter().GetValue(); got != 3 {
			t.Errorf("migrated counter %v, want 3", got)
		}
		if got := metric(t, backlog).GetGauge().GetValue(); got != 0 {
			t.Errorf("backlog %v, want 0", got)
		}
		// Two steps: the batch written, then deleted (nothing left to read).
		if got := metric(t, took).GetHistogram().GetSampleCount(); got != 2 {
			t.Errorf("%d step durations, want 2", got)
		}
		if n, err := m.Pass(ctx(t)); err != nil || n != 0 {
			t.Errorf("a pass with nothing to move: %d, %v", n, err)
		}
	})

	// Checkouts and transitions run while migrators are killed at random
	// moments (their context canceled) and right between their write and
	// their delete; then one pass runs to the end. Every order must be in
	// exactly one store, as the workload left it.
	t.Run("migration-survives-kills", func(t *testing.T) {
		db := openDB(t, b)
		hist := migrated(t, b)
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		w := &workload{db: db, want: map[string]lifecycle.Status{}}
		const workers, users, rounds = 4, 10, 80
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(seed, uint64(g)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := w.order(ctx(t), rng, fmt.Sprintf("u%d", rng.IntN(users))); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}

		// Each round's migrator dies either at a random moment or right
		// after its n-th call of a step picked at random.
		rng := rand.New(rand.NewPCG(seed, workers))
		steps := []string{"FinalBacklog", "FinalOrders", "Put", "DeleteOrders"}
		fired := new(sync.Map)
		for range rounds {
			mctx, kill := context.WithCancel(ctx(t))
			k := &killSwitch{at: steps[rng.IntN(len(steps))], n: 1 + rng.Int64N(3), kill: kill, fired: fired}
			wait := 100 * time.Millisecond // for the switch, when there is work
			if rng.IntN(2) == 0 {
				k.at, wait = "", time.Duration(rng.IntN(20_000))*time.Microsecond
			}
			kdb, khist := killing(db, hist, k)
			m := NewMigrator(kdb, khist, MigrateAfter(0), MigrateBatch(1+rng.IntN(40)), MigrateInterval(time.Millisecond), MigrateLogger(testLogger(t)))
			stopped := make(chan error, 1)
			go func() { stopped <- m.Run(mctx) }()
			select {
			case <-time.After(wait):
			case <-mctx.Done():
			}
			kill()
			if err := <-stopped; err != nil {
				t.Fatalf("Run after a kill: %v", err)
			}
		}
		close(stop)
		wg.Wait()
		var at []string
		for _, s := range steps {
			at = append(at, fmt.Sprintf("%s %d", s, killed(fired, s)))
		}
		if killed(fired, "Put") == 0 || killed(fired, "DeleteOrders") == 0 {
			t.Fatalf("kills after each step: %v; none between the write and the delete, or none after the delete: raise the rounds", at)
		}
		inHistory := countAll(t, hist)
		if _, err := NewMigrator(db, hist, MigrateAfter(0), MigrateLogger(testLogger(t))).Pass(ctx(t)); err != nil {
			t.Fatalf("the pass after the kills: %v", err)
		}
		t.Logf("%d orders, %d kills (right after: %s), %d in history before the last pass", len(w.want), rounds, strings.Join(at, ", "), inHistory)
		checkExactlyOnce(t, db, hist, w.want)
	})
}

// killSwitch kills a migrator (cancels its context) right after the n-th
// successful call of one of its steps, the way a crash would stop it at
// that boundary: the step after fails at once, as a dead process would
// not run it.
type killSwitch struct {
	at    string // FinalBacklog, FinalOrders, Put, DeleteOrders, or "" never
	n     int64
	kill  context.CancelFunc
	calls atomic.Int64
	fired *sync.Map // step -> *atomic.Int64, across switches
}

func (k *killSwitch) after(step string, err error) error {
	if err == nil && step == k.at && k.calls.Add(1) == k.n {
		c, _ := k.fired.LoadOrStore(step, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		k.kill()
	}
	return err
}

// killed counts the kills at step.
func killed(fired *sync.Map, step string) int64 {
	if c, ok := fired.Load(step); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// killing wraps a migrator's stores with k.
func killing(db Source, store Store, k *killSwitch) (Source, Store) {
	return killingSource{db, k}, killingStore{store, k}
}

type killingSource struct {
	Source
	k *killSwitch
}

func (s killingSource) FinalBacklog(ctx context.Context, olderThan time.Time) (int64, error) {
	n, err := s.Source.FinalBacklog(ctx, olderThan)
	return n, s.k.after("FinalBacklog", err)
}

func (s killingSource) FinalOrders(ctx context.Context, olderThan time.Time, limit int) ([]orderdb.Order, error) {
	os, err := s.Source.FinalOrders(ctx, olderThan, limit)
	return os, s.k.after("FinalOrders", err)
}

func (s killingSource) DeleteOrders(ctx context.Context, orders []orderdb.Order) (int, error) {
	n, err := s.Source.DeleteOrders(ctx, orders)
	return n, s.k.after("DeleteOrders", err)
}

type killingStore struct {
	Store
	k *killSwitch
}

func (s killingStore) Put(ctx context.Context, orders []orderdb.Order) error {
	return s.k.after("Put", s.Store.Put(ctx, orders))
}

// items are what the tests sell, each with plenty of stock.
var items = []string{"item-0", "item-1", "item-2", "item-3", "item-4"}

func openDB(t testing.TB, b backend) orderdb.Store {
	t.Helper()
	cfg, dir := b.db(t)
	db, err := orderdb.Open(ctx(t), cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, item := range items {
		if _, err := db.ApplyStock(ctx(t), orderdb.StockChange{EventID: topics.NewID(), ItemID: item, OnHand: 1_000_000, Version: 1, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// buy checks out one unit of item-0 for user, due at once.
func buy(t *testing.T, db orderdb.Store, user string) string {
	t.Helper()
	res, err := db.Checkout(ctx(t), orderdb.CheckoutRequest{UserID: user, Currency: "USD", TTL: time.Microsecond,
		Lines: []orderdb.Line{{ItemID: items[0], Quantity: 1, PriceCents: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Order.OrderID
}

// A transition is one thing that can happen to an order.
type transition func(ctx context.Context, db orderdb.Store, orderID string) (orderdb.Applied, error)

func pay(ctx context.Context, db orderdb.Store, id string) (orderdb.Applied, error) {
	return db.ApplyPayment(ctx, orderdb.PaymentOutcome{EventID: topics.NewID(), OrderID: id, Succeeded: true, PaymentID: "pay-" + id})
}

func ship(ctx context.Context, db orderdb.Store, id string) (orderdb.Applied, error) {
	return db.ApplyShipment(ctx, orderdb.ShipmentStep{EventID: topics.NewID(), OrderID: id})
}

func deliver(ctx context.Context, db orderdb.Store, id string) (orderdb.Applied, error) {
	return db.ApplyShipment(ctx, orderdb.ShipmentStep{EventID: topics.NewID(), OrderID: id, Delivered: true})
}

func cancel(ctx context.Context, db orderdb.Store, id string) (orderdb.Applied, error) {
	return db.Cancel(ctx, id)
}

func step(t *testing.T, db orderdb.Store, id string, steps ...transition) {
	t.Helper()
	for _, s := range steps {
		if a, err := s(ctx(t), db, id); err != nil || !a.Effect.Changed {
			t.Fatalf("order %s: %+v, %v", id, a, err)
		}
	}
}

// workload takes orders and moves them along, and remembers where each
// one ended.
type workload struct {
	db   orderdb.Store
	mu   sync.Mutex
	want map[string]lifecycle.Status
}

// order takes one order of up to three items for user and gives it one
// of the lifecycle's stories, at random.
func (w *workload) order(ctx context.Context, rng *rand.Rand, user string) error {
	var lines []orderdb.Line
	for _, i := range rng.Perm(len(items))[:1+rng.IntN(3)] {
		lines = append(lines, orderdb.Line{ItemID: items[i], Quantity: int64(1 + rng.IntN(3)), PriceCents: int64(100 + rng.IntN(900))})
	}
	res, err := w.db.Checkout(ctx, orderdb.CheckoutRequest{UserID: user, Lines: lines, Currency: "USD", TTL: time.Microsecond})
	if err != nil {
		return err
	}
	id, status := res.Order.OrderID, res.Order.Status
	var story []transition
	switch r := rng.IntN(100); {
	case r < 30:
		story = []transition{pay, ship, deliver}
	case r < 50:
		// A payment after the cancel refunds the order, unless the order
		// already left for history: the migration age here is 0, not
		// beyond the payment's latency.
		story = []transition{cancel, pay}
	case r < 60:
		story = []transition{cancel}
	case r < 75:
		story = []transition{pay, cancel}
	case r < 85:
		story = []transition{pay}
	case r < 92:
		story = []transition{pay, ship}
	}
	for _, s := range story {
		a, err := s(ctx, w.db, id)
		if errors.Is(err, orderdb.ErrOrderNotFound) && lifecycle.Final(status) {
			break
		}
		if err != nil {
			return fmt.Errorf("order %s (%s): %w", id, status, err)
		}
		status = a.Order.Status
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.want[id] = status
	return nil
}

// checkExactlyOnce checks, after a whole pass with age 0, that every order
// the workload took is in exactly one store with the status it ended in:
// final ones whole in history, the others in the database; that each
// user's history pages hold their orders once, newest first; and that
// committed stock still equals the units of the orders holding it, live
// or in history (delivered ones keep theirs).
func checkExactlyOnce(t *testing.T, db orderdb.Store, hist Store, want map[string]lifecycle.Status) {
	t.Helper()
	live := map[string]orderdb.Order{}
	if err := db.EachOrder(ctx(t), func(o orderdb.Order) error { live[o.OrderID] = o; return nil }); err != nil {
		t.Fatal(err)
	}
	archived := map[string]orderdb.Order{}
	err := hist.EachOrder(ctx(t), func(o orderdb.Order) error {
		if _, dup := archived[o.OrderID]; dup {
			t.Errorf("history holds order %s twice", o.OrderID)
		}
		archived[o.OrderID] = o
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, st := range want {
		l, inDB := live[id]
		h, inHistory := archived[id]
		switch {
		case inDB && inHistory:
			t.Errorf("order %s is in the database and in history", id)
		case !inDB && !inHistory:
			t.Errorf("order %s (%s) is lost", id, st)
		case inDB && (lifecycle.Final(st) || l.Status != st):
			t.Errorf("order %s is %s in the database after a whole pass; the workload left it %s", id, l.Status, st)
		case inHistory && (h.Status != st || !lifecycle.Final(st) || len(h.Lines) == 0 || len(h.Timeline) != int(h.Version) ||
			h.Timeline[len(h.Timeline)-1].Status != st):
			t.Errorf("order %s in history is not whole or not %s: %+v", id, st, h)
		}
	}
	if len(live)+len(archived) != len(want) {
		t.Errorf("%d orders in the database and %d in history, for %d taken", len(live), len(archived), len(want))
	}

	byUser := map[string][]orderdb.Order{}
	for _, o := range archived {
		byUser[o.UserID] = append(byUser[o.UserID], o)
	}
	for user, orders := range byUser {
		if got, want := allPages(t, hist, user, 7), ids(newestFirst(orders)); !slices.Equal(got, want) {
			t.Errorf("history pages of %s: %v\nwant %v", user, got, want)
		}
	}

	held := map[string]int64{}
	for _, m := range []map[string]orderdb.Order{live, archived} {
		for _, o := range m {
			if lifecycle.HoldsStock(o.Status) {
				for _, l := range o.Lines {
					held[l.ItemID] += l.Quantity
				}
			}
		}
	}
	for _, item := range items {
		if s, _, err := db.Stock(ctx(t), item); err != nil || s.Committed != held[item] {
			t.Errorf("item %s: committed %d (%v), the orders hold %d", item, s.Committed, err, held[item])
		}
	}
}

// newestFirst sorts orders as UserOrders pages them: created_at to the
// microsecond descending, then order id descending.
func newestFirst(orders []orderdb.Order) []orderdb.Order {
	orders = slices.Clone(orders)
	slices.SortFunc(orders, func(x, y orderdb.Order) int {
		if c := y.CreatedAt.Truncate(time.Microsecond).Compare(x.CreatedAt.Truncate(time.Microsecond)); c != 0 {
			return c
		}
		return strings.Compare(y.OrderID, x.OrderID)
	})
	return orders
}

func metric(t *testing.T, c prometheus.Metric) *dto.Metric {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return &m
}
