package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/api/ordertaking"
	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/payment"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/membership"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/reconcile"
	"github.com/shopstream/shopstream/shipping"
	"github.com/shopstream/shopstream/sinks/history"
	"github.com/shopstream/shopstream/topics"
)

// Checkouts run through the REST edge while history migrators are killed
// in a loop, at random instants and right between their write to history
// and their delete from the database; then one migration runs to the end,
// and reconcile finds every order exactly once, as order.events and the
// order table tell it (and, embedded, the analytics counts equal the
// topics'). Embedded: SQLite, LevelDB and the embedded broker; real:
// Kafka, MariaDB and Cassandra.
func TestContractHistoryMigrationUnderKills(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		migrateUnderKills(t, embeddedConfig(t.TempDir()))
	})
	t.Run("real-cassandra", func(t *testing.T) {
		realserver.Addr(t, realserver.MySQL)
		realserver.Addr(t, realserver.Cassandra)
		if _, ok := testkafka.Real(); !ok {
			msg := testkafka.EnvVar + " is not set: no real Kafka to test against; run `deploy/local/up kafka` and `make test-real`"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		migrateUnderKills(t, testConfig(t, t.TempDir()))
	})
}

func migrateUnderKills(t *testing.T, cfg config.Config) {
	ctx := context.Background()
	// The migration age exceeds the payment's answer (a late payment must
	// find a canceled order in the database); orders are final within
	// half a second, and old enough to move a little later.
	const after = 300 * time.Millisecond
	cfg.Orders.TTL = 200 * time.Millisecond
	cfg.Orders.SweepInterval = 50 * time.Millisecond
	cfg.Payments = config.Payments{SuccessRate: 0.75, FailureRate: 0.25, Latency: 20 * time.Millisecond, Seed: 3}
	cfg.Shipping = config.Shipping{ShipAfter: 50 * time.Millisecond, DeliverAfter: 50 * time.Millisecond}
	cfg.HistoryMigration.After = after
	_, shared := testkafka.Real()
	if shared {
		// The roles that act on orders start at the end of the shared
		// topics, past the earlier suites' orders.
		k := &pt.Kafka{Brokers: cfg.Kafka.Brokers}
		k.StartGroupAtEnd(t, goka.Group(ordertaking.InboundGroup), ordertaking.InboundTopics...)
		k.StartGroupAtEnd(t, payment.Name, topics.OrderEvents)
		k.StartGroupAtEnd(t, shipping.Name, shipping.Inputs...)
		k.StartGroupAtEnd(t, membership.Group, topics.MembershipCommands)
	}
	// Every role of all-in-one but the listing processor and the search
	// sink, which no order needs, and the history migration, which the
	// test runs itself. The analytics sink's group is shared on a shared
	// Kafka: it runs embedded only.
	r := start(t, cfg, func(a *app.App) error {
		for _, name := range app.ProcessorNames() {
			if name == "listing" {
				continue
			}
			if err := a.RunProcessor(name); err != nil {
				return err
			}
		}
		roles := []func() error{a.RunPayment, a.RunShipping, a.ServeAPI}
		if !shared {
			roles = append(roles, a.RunAnalyticsSink)
		}
		for _, run := range roles {
			if err := run(); err != nil {
				return err
			}
		}
		return nil
	})
	f := &orderFlow{t: t, r: r, cfg: cfg, base: "http://" + r.HTTPAddr(), run: testkafka.Unique("history")}
	items := []string{f.id("tv"), f.id("mug"), f.id("lamp")}
	levels := map[string]int64{}
	for _, id := range items {
		levels[id] = 1_000_000
	}
	f.stock(levels)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	const workers, perWorker = 4, 60
	var (
		mu     sync.Mutex
		orders = map[string]bool{}
		wg     sync.WaitGroup
		done   atomic.Int32
	)
	for w := range workers {
		wg.Go(func() {
			defer done.Add(1)
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for range perWorker {
				id, err := shopAndCancel(f.base, f.id(fmt.Sprintf("u%d", rng.IntN(20))), items, rng)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				orders[id] = true
				mu.Unlock()
			}
		})
	}

	// Migrators die in a loop while the checkouts run, and until enough
	// of them died, some between their write and their delete.
	rng := rand.New(rand.NewPCG(seed, workers))
	var rounds, afterPut atomic.Int64
	deadline := time.Now().Add(time.Minute)
	for done.Load() < workers || rounds.Load() < 40 || afterPut.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d rounds in a minute, %d killed right after their write to history: the migrators found too little to move", rounds.Load(), afterPut.Load())
		}
		rounds.Add(1)
		mctx, kill := context.WithCancel(ctx)
		store := history.Store(r.Stores.History)
		wait := time.Duration(rng.IntN(20_000)) * time.Microsecond
		if rng.IntN(2) == 0 {
			store = &crashAfterPut{Store: store, n: 1 + rng.Int64N(3), kill: kill, fired: &afterPut}
			wait = 100 * time.Millisecond
		}
		m := history.NewMigrator(r.Stores.Orders, store, history.MigrateAfter(after), history.MigrateBatch(1+rng.IntN(40)),
			history.MigrateInterval(5*time.Millisecond), history.MigrateLogger(quiet()))
		stopped := make(chan error, 1)
		go func() { stopped <- m.Run(mctx) }()
		select {
		case <-time.After(wait):
		case <-mctx.Done():
		}
		kill()
		if err := <-stopped; err != nil {
			t.Fatalf("a killed migrator: %v", err)
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d orders; %d migrators killed, %d right after a write to history; %d orders in history before the last migration",
		len(orders), rounds.Load(), afterPut.Load(), inHistory(t, r.Stores.History))

	// Every order finishes (delivered, canceled or refunded); then the
	// last migration moves them all.
	f.eventually("every order final", func() bool {
		final := true
		err := r.Stores.Orders.EachOrder(ctx, func(o orderdb.Order) error {
			final = final && lifecycle.Final(o.Status)
			return nil
		})
		return err == nil && final
	})
	m := history.NewMigrator(r.Stores.Orders, r.Stores.History, history.MigrateAfter(after), history.MigrateLogger(quiet()))
	f.eventually("every order in history", func() bool {
		if _, err := m.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		live := 0
		err := r.Stores.Orders.EachOrder(ctx, func(orderdb.Order) error { live++; return nil })
		return err == nil && live == 0
	})
	archived := 0
	err := r.Stores.History.EachOrder(ctx, func(o orderdb.Order) error {
		if !orders[o.OrderID] {
			return fmt.Errorf("history holds order %s, which no checkout took", o.OrderID)
		}
		archived++
		return nil
	})
	if err != nil || archived != len(orders) {
		t.Fatalf("history holds %d orders, want the %d taken (%v)", archived, len(orders), err)
	}

	kopts := eventlog.ClientOpts(r.Brokers, "history-test", 10*time.Second, quiet())
	opts := []app.ReconcileOption{app.ReconcileEvents(kopts), app.ReconcileLogger(quiet())}
	var only func(reconcile.Difference) bool
	var judged atomic.Int64
	if shared {
		// Other suites' orders, items and events share the topics.
		opts = append(opts, app.ReconcileUsers(func(user string) bool {
			ours := strings.HasPrefix(user, f.run)
			if ours {
				judged.Add(1)
			}
			return ours
		}))
		only = func(d reconcile.Difference) bool { return d.Kind != "stock" || strings.HasPrefix(d.ID, f.run) }
	} else {
		opts = append(opts, app.ReconcileAnalytics(r.Stores.Analytics, kopts))
	}
	rt := processors.NewRuntime(r.Brokers, t.TempDir(), 10*time.Second, processors.Logger(quiet()))
	diffs, err := app.Reconcile(ctx, r.Stores.Orders, r.Stores.History, rt, time.Minute, only, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("reconcile found %d difference(s):\n%v", len(diffs), diffs)
	}
	if shared && judged.Load() == 0 {
		t.Fatal("reconcile judged none of the test's orders")
	}
}

// inHistory counts the orders in history.
func inHistory(t *testing.T, hist history.Store) int {
	n := 0
	if err := hist.EachOrder(context.Background(), func(orderdb.Order) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// crashAfterPut is the history store of a migrator that dies right after
// its n-th write: the orders are in history, and their delete from the
// database never runs (it fails at once on the dead context).
type crashAfterPut struct {
	history.Store
	n     int64
	calls atomic.Int64
	kill  context.CancelFunc
	fired *atomic.Int64
}

func (s *crashAfterPut) Put(ctx context.Context, orders []orderdb.Order) error {
	err := s.Store.Put(ctx, orders)
	if err == nil && s.calls.Add(1) == s.n {
		s.fired.Add(1)
		s.kill()
	}
	return err
}

// shopAndCancel checks out one to three items for user through the REST edge, and
// cancels one order in four at once: before its payment (canceled, or
// refunded when the payment succeeds after) or after it (refunded).
func shopAndCancel(base, user string, items []string, rng *rand.Rand) (string, error) {
	var lines []map[string]any
	for _, i := range rng.Perm(len(items))[:1+rng.IntN(len(items))] {
		lines = append(lines, map[string]any{"item_id": items[i], "quantity": 1 + rng.IntN(3)})
	}
	code, out, err := postJSON(base+"/v1/orders", map[string]any{"user_id": user, "lines": lines})
	if err != nil || code != http.StatusCreated {
		return "", fmt.Errorf("checkout for %s: %d %v %v", user, code, out, err)
	}
	id, _ := out["order_id"].(string)
	if rng.IntN(4) == 0 {
		// A shipped order can no longer be canceled: 409.
		if code, out, err := postJSON(base+"/v1/orders/"+id+"/cancel", nil); err != nil || (code != http.StatusOK && code != http.StatusConflict) {
			return "", fmt.Errorf("cancel %s: %d %v %v", id, code, out, err)
		}
	}
	return id, nil
}

// postJSON sends a JSON POST and decodes the answer, for goroutines that may
// not fail the test themselves.
func postJSON(url string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	err = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, err
}
