package replay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/api/ordertaking"
	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/lifecycle"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/replay"
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/sinks/history"
	"github.com/shopstream/shopstream/sinks/search"
	"github.com/shopstream/shopstream/topics"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// result is a value and the error that came with it: must(f()).of(t)
// fails the test on the error.
type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) of(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func eventually(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stores are one store of each target.
type stores struct {
	search    search.Store
	analytics analytics.Store
	history   history.Store
}

// storeConfigs name one store of each target.
type storeConfigs struct {
	search    config.SearchStore
	analytics config.AnalyticsStore
	history   config.HistoryStore
}

// storeKind names empty stores, a target at a time: embedded ones, empty
// in a new data directory, or scratch ones on the real servers.
type storeKind struct {
	search    func(t testing.TB) config.SearchStore
	analytics func(t testing.TB) config.AnalyticsStore
	history   func(t testing.TB) config.HistoryStore
}

// fresh names an empty store of each target.
func (k storeKind) fresh(t testing.TB) storeConfigs {
	t.Helper()
	return storeConfigs{search: k.search(t), analytics: k.analytics(t), history: k.history(t)}
}

var embeddedStores = storeKind{
	search:    func(testing.TB) config.SearchStore { return config.SearchStore{Driver: "bleve", Index: "items"} },
	analytics: func(testing.TB) config.AnalyticsStore { return config.AnalyticsStore{Driver: "sqlite"} },
	history:   func(testing.TB) config.HistoryStore { return config.HistoryStore{Driver: "embedded"} },
}

// realStores are on the servers the environment names; without one of
// them the test skips (fails under CI) before it names any store.
func realStores(t testing.TB) storeKind {
	t.Helper()
	url := realserver.Addr(t, realserver.Elasticsearch)
	clickhouse := realserver.Addr(t, realserver.ClickHouse)
	cassandra := realserver.Addr(t, realserver.Cassandra)
	return storeKind{
		search:    func(t testing.TB) config.SearchStore { return scratchSearch(t, url) },
		analytics: func(t testing.TB) config.AnalyticsStore { return scratchAnalytics(t, clickhouse) },
		history:   func(t testing.TB) config.HistoryStore { return scratchHistory(t, cassandra) },
	}
}

// scratchSearch is a new index on the Elasticsearch at url.
func scratchSearch(t testing.TB, url string) config.SearchStore {
	return config.SearchStore{Driver: "elasticsearch", URLs: []string{url}, Index: realserver.ScratchIndex(t, url)}
}

// scratchAnalytics is a new database on the ClickHouse at addr.
func scratchAnalytics(t testing.TB, addr string) config.AnalyticsStore {
	return config.AnalyticsStore{Driver: "clickhouse", Addrs: []string{addr}, Database: realserver.ScratchClickHouse(t, addr), Username: "default"}
}

// scratchHistory is a new keyspace on the Cassandra at addr, read and
// written at one replica, its only one.
func scratchHistory(t testing.TB, addr string) config.HistoryStore {
	return config.HistoryStore{Driver: "cassandra", Hosts: []string{addr}, Keyspace: realserver.ScratchKeyspace(t, addr),
		ReplicationFactor: 1, Consistency: "one"}
}

// openStoresOn opens and migrates the stores cs names.
func openStoresOn(t testing.TB, dir string, cs storeConfigs) stores {
	t.Helper()
	ctx := context.Background()
	s := stores{
		search:    must(search.Open(ctx, cs.search, dir)).of(t),
		analytics: must(analytics.Open(ctx, cs.analytics, dir)).of(t),
		history:   must(history.Open(ctx, cs.history, dir)).of(t),
	}
	for _, st := range []interface {
		Migrate(context.Context) error
		Close() error
	}{s.search, s.analytics, s.history} {
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// snapshot is everything the live run left in the stores that a replay
// must reproduce.
type snapshot struct {
	listings map[string]topics.Listing
	cohorts  []analytics.CohortWeek
	counts   map[string]int64
	orders   map[string]orderdb.Order
}

// Cohorts are read over a fixed span as of a fixed time, some weeks still
// pending.
var (
	t0       = time.Date(2024, 5, 6, 9, 0, 0, 0, time.UTC) // a Monday
	cohortAt = t0.Add(25 * 24 * time.Hour)
)

func (s stores) snapshot(t testing.TB, items []string) snapshot {
	t.Helper()
	ctx := context.Background()
	snap := snapshot{listings: map[string]topics.Listing{}, orders: map[string]orderdb.Order{}}
	for _, id := range items {
		if l, ok, err := s.search.Get(ctx, id); err != nil {
			t.Fatal(err)
		} else if ok {
			snap.listings[id] = l
		}
	}
	snap.cohorts = must(s.analytics.PrimeCohorts(ctx, t0.Add(-7*24*time.Hour), t0.Add(70*24*time.Hour), cohortAt)).of(t)
	snap.counts = must(s.analytics.EventCounts(ctx)).of(t)
	err := s.history.EachOrder(ctx, func(o orderdb.Order) error {
		snap.orders[o.OrderID] = o
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func (s snapshot) diff(t *testing.T, want snapshot) {
	t.Helper()
	if !reflect.DeepEqual(s.listings, want.listings) {
		t.Errorf("search documents differ:\n got %v\nwant %v", s.listings, want.listings)
	}
	if !reflect.DeepEqual(s.cohorts, want.cohorts) {
		t.Errorf("prime cohorts differ:\n got %+v\nwant %+v", s.cohorts, want.cohorts)
	}
	if !maps.Equal(s.counts, want.counts) {
		t.Errorf("analytics event counts differ:\n got %v\nwant %v", s.counts, want.counts)
	}
	if !reflect.DeepEqual(s.orders, want.orders) {
		t.Errorf("history orders differ:\n got %+v\nwant %+v", s.orders, want.orders)
	}
}

// liveRun is the live pipeline's part of the test: the events it wrote
// and the stores its real write paths filled.
type liveRun struct {
	k      *pt.Kafka
	kopts  []kgo.Opt
	p      *eventlog.Producer
	stores stores
	items  []string
	// mid falls between the two halves of the membership events; after
	// counts the second half's distinct events by type, records their
	// records.
	mid     time.Time
	after   map[string]int64
	records int64
}

// The replay into empty stores of each target gives what the live
// pipeline wrote through its own paths (the search and analytics sinks,
// the order-taking database's outbox and the history migration); a replay
// over the live stores changes nothing; a replay from a time skips what
// came before; a dry run writes nothing. The stores are the embedded
// ones; TestContractReplay runs the same on the real servers.
func TestReplayGivesTheLiveRun(t *testing.T) {
	if _, shared := testkafka.Real(); shared {
		t.Skip("compares replays of whole topics with the live run, which the other records of a shared Kafka would make differ; runs on the embedded broker")
	}
	replayGivesTheLiveRun(t, embeddedStores)
}

// TestContractReplay is TestReplayGivesTheLiveRun on Elasticsearch,
// ClickHouse and Cassandra, each live store and each replay's target in a
// scratch index, database or keyspace of its own; its name puts
// real-servers in make's real pass.
func TestContractReplay(t *testing.T) {
	t.Run("real-servers", func(t *testing.T) {
		// The real pass names a shared Kafka too: the topics replayed
		// whole must hold this run's records only.
		t.Setenv(testkafka.EnvVar, "")
		replayGivesTheLiveRun(t, realStores(t))
	})
}

func replayGivesTheLiveRun(t *testing.T, kind storeKind) {
	ctx := context.Background()
	live := startLive(t, kind)
	want := live.stores.snapshot(t, live.items)
	if len(want.listings) != 30 || len(want.orders) != 12 || len(want.cohorts) < 3 || want.counts[topics.TypeMembershipTrialStarted] != 40 {
		t.Fatalf("the live run left %d listings, %d history orders, %d cohort weeks, counts %v", len(want.listings), len(want.orders), len(want.cohorts), want.counts)
	}

	cfg := config.Default()
	cfg.Kafka.Embedded.Enabled = false
	cfg.Kafka.Brokers = live.k.Brokers
	cfg.HistoryMigration.After = 0 // as the live migration ran
	// run replays target into the stores cs names (only the target's is
	// opened), as the command does.
	run := func(t *testing.T, dir string, cs storeConfigs, target string, from replay.Position, topics ...string) replay.Summary {
		t.Helper()
		cfg := cfg
		cfg.DataDir = dir
		cfg.Stores.Search, cfg.Stores.Analytics, cfg.Stores.History = cs.search, cs.analytics, cs.history
		r, err := app.OpenReplay(ctx, cfg, quiet(), app.ReplayRequest{Target: target, Topics: topics})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		plan := must(replay.Resolve(ctx, r.Admin, r.Topics, from, replay.End())).of(t)
		var progress bytes.Buffer
		sum, err := replay.Run(ctx, r.KafkaOpts, plan, r.Apply, append(r.Options, replay.Progress(&progress, false, time.Hour), replay.Logger(quiet()))...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(progress.String(), "100%") || !strings.Contains(progress.String(), "lag 0") {
			t.Errorf("final progress line %q", progress.String())
		}
		return sum
	}

	t.Run("into-empty-stores", func(t *testing.T) {
		dir, cs := t.TempDir(), kind.fresh(t)
		for _, target := range []string{app.ReplaySearch, app.ReplayAnalytics, app.ReplayHistory} {
			sum := run(t, dir, cs, target, replay.Start())
			if target == app.ReplaySearch && sum.Undecodable != 1 {
				t.Errorf("search replay: %s, want the one garbage record undecodable", sum)
			}
		}
		openStoresOn(t, dir, cs).snapshot(t, live.items).diff(t, want)
	})

	t.Run("over-the-live-stores", func(t *testing.T) {
		s := live.stores
		for _, c := range []struct {
			target replay.Target
			topics []string
		}{
			{replay.Handler(search.Handler(s.search, live.p, search.SinkLogger(quiet()))), []string{topics.Listings}},
			{replay.Handler(analytics.Handler(s.analytics, live.p, analytics.SinkLogger(quiet()))), []string{topics.MembershipEvents, topics.OrderEvents}},
			{replay.NewHistory(s.history), replay.HistoryTopics},
		} {
			adm := kadm.NewClient(live.k.Client(t))
			plan := must(replay.Resolve(ctx, adm, c.topics, replay.Start(), replay.End())).of(t)
			if _, err := replay.Run(ctx, live.kopts, plan, c.target, replay.Logger(quiet())); err != nil {
				t.Fatal(err)
			}
		}
		s.snapshot(t, live.items).diff(t, want)
	})

	t.Run("from-a-time", func(t *testing.T) {
		dir, cs := t.TempDir(), storeConfigs{analytics: kind.analytics(t)}
		sum := run(t, dir, cs, app.ReplayAnalytics, replay.Time(live.mid))
		if sum.Records != live.records {
			t.Errorf("read %d records from the time, want the %d of the second half", sum.Records, live.records)
		}
		a := must(analytics.Open(ctx, cs.analytics, dir)).of(t)
		defer a.Close()
		got := must(a.EventCounts(ctx)).of(t)
		if !maps.Equal(got, live.after) {
			t.Errorf("events replayed from the time: %v, want %v", got, live.after)
		}
	})

	t.Run("dry-run-writes-nothing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "never")
		cfg := cfg
		cfg.DataDir = dir
		r, err := app.OpenReplay(ctx, cfg, quiet(), app.ReplayRequest{Target: app.ReplayAnalytics, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Apply != nil {
			t.Errorf("a dry run opened a target")
		}
		plan := must(replay.Resolve(ctx, r.Admin, r.Topics, replay.Start(), replay.End())).of(t)
		var out bytes.Buffer
		if err := plan.Write(&out); err != nil {
			t.Fatal(err)
		}
		total := want.counts[topics.TypeMembershipTrialStarted] // at least
		if plan.Offsets() < total || !strings.Contains(out.String(), fmt.Sprintf("total: %d records in %d partitions", plan.Offsets(), 2*pt.Partitions)) {
			t.Errorf("dry run plan:\n%s", out.String())
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a dry run made the data directory %s: %v", dir, err)
		}

		rb, err := app.OpenReplay(ctx, cfg, quiet(), app.ReplayRequest{Target: "processor:inventory", DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rb.Close()
		if b := rb.Rebuild; b == nil || b.Group != "inventory" || !reflect.DeepEqual(b.Inputs, []string{topics.SupplierStock}) || b.Table != "inventory-table" ||
			!reflect.DeepEqual(b.Dirs, []string{filepath.Join(dir, "state", "processors", "inventory"), filepath.Join(dir, "state", "views", "inventory-table")}) {
			t.Errorf("processor:inventory rebuilds %+v", rb.Rebuild)
		}
		for _, bad := range []app.ReplayRequest{
			{Target: "bogus", DryRun: true},
			{Target: app.ReplayAnalytics, Topics: []string{topics.Listings}, DryRun: true},
			{Target: "processor:inventory", Topics: []string{topics.SupplierItems}, DryRun: true},
		} {
			if _, err := app.OpenReplay(ctx, cfg, quiet(), bad); !errors.Is(err, app.ErrReplayRequest) {
				t.Errorf("%+v: %v, want a refused request", bad, err)
			}
		}
	})
}

// startLive runs the live pipeline's write paths over events it writes,
// into empty stores of kind, until each store has them all, and stops the
// sinks.
func startLive(t *testing.T, kind storeKind) *liveRun {
	ctx := context.Background()
	k := pt.StartKafka(t)
	kopts, p := k.Producer(t, "replay-test")
	dir := t.TempDir()
	live := &liveRun{k: k, kopts: kopts, p: p, stores: openStoresOn(t, dir, kind.fresh(t))}
	orderTypes := liveOrders(t, live, dir)
	liveListings(t, live)
	memberTypes := liveMemberships(t, live)

	runSink := func(run func(context.Context) error) (stop func()) {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- run(rctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("sink: %v", err)
			}
		}
	}
	analyticsGroup := testkafka.Unique("analytics-sink")
	ss := must(search.NewSink(live.stores.search, kopts, testkafka.Unique("search-sink"), p, search.SinkLogger(quiet()))).of(t)
	as := must(analytics.NewSink(live.stores.analytics, kopts, analyticsGroup, p, analytics.SinkLogger(quiet()))).of(t)
	stopSearch, stopAnalytics := runSink(ss.Run), runSink(as.Run)
	defer stopSearch()
	defer stopAnalytics()
	eventually(t, "every listing indexed at its last version", func() bool {
		for _, id := range live.items {
			if l, ok, err := live.stores.search.Get(ctx, id); err != nil || !ok || l.Version != 3 {
				return false
			}
		}
		return true
	})
	want := maps.Clone(memberTypes)
	maps.Copy(want, orderTypes)
	eventually(t, "every membership and order event in analytics", func() bool {
		got, err := live.stores.analytics.EventCounts(ctx)
		return err == nil && maps.Equal(got, want)
	})
	// On ClickHouse a batch's events and trials are two inserts at once:
	// the events can all be there while the last trials are not, and
	// stopping the sink then would cancel their insert. The sink commits a
	// batch once both are in.
	adm := kadm.NewClient(k.Client(t))
	eventually(t, "the analytics sink committed every record", func() bool {
		return committed(ctx, adm, analyticsGroup, topics.MembershipEvents, topics.OrderEvents)
	})
	return live
}

// committed reports whether group has committed the end of every
// partition of the topics.
func committed(ctx context.Context, adm *kadm.Client, group string, topicNames ...string) bool {
	ends, err := adm.ListEndOffsets(ctx, topicNames...)
	if err != nil {
		return false
	}
	at, err := adm.FetchOffsetsForTopics(ctx, group, topicNames...)
	if err != nil {
		return false
	}
	all := true
	ends.Each(func(end kadm.ListedOffset) {
		o, ok := at.Lookup(end.Topic, end.Partition)
		all = all && end.Err == nil && ok && o.Err == nil && o.At >= end.Offset
	})
	return all
}

// liveOrders takes orders in the order-taking database and moves them
// through every path to a final status, the payment role's events beside
// them; relays the outbox to Kafka; and migrates the final orders to the
// history store. It returns the order events by type.
func liveOrders(t *testing.T, live *liveRun, dir string) map[string]int64 {
	ctx := context.Background()
	db := must(orderdb.Open(ctx, config.OrdersStore{Driver: "sqlite"}, dir)).of(t)
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, item := range []string{"i-1", "i-2", "i-3"} {
		must(db.ApplyStock(ctx, orderdb.StockChange{EventID: "stock-" + item, ItemID: item, OnHand: 1000, Version: 1})).of(t)
	}
	var ids []string
	for i := range 14 {
		lines := []orderdb.Line{{ItemID: fmt.Sprintf("i-%d", i%3+1), Quantity: int64(1 + i%2), PriceCents: 1500}}
		if i%2 == 0 {
			lines = append(lines, orderdb.Line{ItemID: "i-3", Quantity: 1, PriceCents: 12000})
			if i%3 == 2 {
				lines = lines[1:]
			}
		}
		res := must(db.Checkout(ctx, orderdb.CheckoutRequest{UserID: fmt.Sprintf("u-%d", i%4), Lines: lines, Currency: "USD",
			PrimeTrial: i == 3, TTL: time.Millisecond})).of(t)
		ids = append(ids, res.Order.OrderID)
	}
	time.Sleep(5 * time.Millisecond) // every order's payment deadline has passed
	pay := func(id string, ok bool) {
		typ, paymentID := topics.TypePaymentFailed, ""
		if ok {
			typ, paymentID = topics.TypePaymentSucceeded, "pay-"+id
		}
		ev := must(topics.New(typ, id, topics.Payment{OrderID: id, PaymentID: paymentID, AmountCents: 1, Currency: "USD"})).of(t)
		if err := live.p.Publish(ctx, topics.PaymentEvents, ev); err != nil {
			t.Fatal(err)
		}
		must(db.ApplyPayment(ctx, orderdb.PaymentOutcome{EventID: ev.ID, OrderID: id, Succeeded: ok, PaymentID: paymentID, At: ev.OccurredAt})).of(t)
	}
	ship := func(id string, delivered bool) {
		must(db.ApplyShipment(ctx, orderdb.ShipmentStep{EventID: topics.NewID(), OrderID: id, Delivered: delivered})).of(t)
	}
	// Seven paths, twice each: delivered; payment failed; expired;
	// canceled by the shopper; canceled after payment (refunded);
	// expired, then paid late (refunded); placed and still open.
	for i, id := range ids {
		switch i % 7 {
		case 0, 4, 6:
			pay(id, true)
		case 1:
			pay(id, false)
		case 3:
			must(db.Cancel(ctx, id)).of(t)
		}
	}
	must(db.ExpireDue(ctx, time.Now(), 100)).of(t)
	for i, id := range ids {
		switch i % 7 {
		case 0:
			ship(id, false)
			ship(id, true)
		case 4:
			must(db.Cancel(ctx, id)).of(t)
		case 5:
			pay(id, true)
		}
	}
	types := map[string]int64{}
	final := []lifecycle.Status{lifecycle.Delivered, lifecycle.Canceled, lifecycle.Canceled, lifecycle.Canceled, lifecycle.Refunded, lifecycle.Refunded, lifecycle.Placed}
	for i, id := range ids {
		o := must(db.Order(ctx, id)).of(t)
		if o.Status != final[i%7] {
			t.Fatalf("order %d (%s) is %s, want %s", i, id, o.Status, final[i%7])
		}
		for _, tr := range o.Timeline {
			types["order."+string(tr.Status)]++
		}
	}
	relay := ordertaking.NewRelay(db, live.p)
	for {
		n, err := relay.Once(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	moved := must(history.NewMigrator(db, live.stores.history, history.MigrateAfter(0), history.MigrateLogger(quiet())).Pass(ctx)).of(t)
	if moved != 12 {
		t.Fatalf("migrated %d orders, want the 12 final ones", moved)
	}
	return types
}

// liveListings writes 30 listings, each at versions 1 to 3, some out of
// order, and a record that is not an event.
func liveListings(t *testing.T, live *liveRun) {
	ctx := context.Background()
	base := time.Date(2024, 4, 1, 8, 0, 0, 0, time.UTC)
	var evs []topics.Event
	for i := range 30 {
		id := fmt.Sprintf("item-%02d", i)
		live.items = append(live.items, id)
		versions := []int64{1, 2, 3}
		if i%4 == 0 {
			versions = []int64{1, 3, 2} // a reordering: 3 stays
		}
		for _, v := range versions {
			l := topics.Listing{ItemID: id, Version: v, CatalogVersion: v, InventoryVersion: 1, SupplierID: "sup-1",
				Title: fmt.Sprintf("Thing %d v%d", i, v), Category: []string{"Books", "Toys", "Sports"}[i%3], Brand: "Acme",
				PriceCents: int64(1000 + 100*i + int(v)), Currency: "USD", OnHand: int64((i + int(v)) % 4),
				CreatedAt: base.Add(time.Duration(i) * time.Hour), UpdatedAt: base.Add(time.Duration(i)*time.Hour + time.Duration(v)*time.Minute)}
			evs = append(evs, must(topics.New(topics.TypeListingChanged, id, l)).of(t))
		}
	}
	if err := live.p.Publish(ctx, topics.Listings, evs...); err != nil {
		t.Fatal(err)
	}
	if err := live.p.PublishRecords(ctx, &kgo.Record{Topic: topics.Listings, Key: []byte("item-07"), Value: []byte("not an event")}); err != nil {
		t.Fatal(err)
	}
}

// liveMemberships writes the membership events of 40 trials, started 13
// hours apart from t0 with spends around $100, converted, canceled in the
// trial, or canceled after it; some converts come before their trial
// event, some events twice. It returns the distinct events by type, and
// marks the middle.
func liveMemberships(t *testing.T, live *liveRun) map[string]int64 {
	ctx := context.Background()
	half := func(users []int) (records int64, types map[string]int64) {
		types = map[string]int64{}
		var evs []topics.Event
		for _, i := range users {
			user := fmt.Sprintf("m-%02d", i)
			start := t0.Add(time.Duration(i*13) * time.Hour)
			trial := must(topics.New(topics.TypeMembershipTrialStarted, user, topics.MembershipTrialStarted{UserID: user,
				TrialEndsAt: start.Add(30 * 24 * time.Hour), SpendCents: []int64{0, 5000, 10000, 10001, 25000}[i%5], Currency: "USD", TrialPeriodDays: 30},
				topics.At(start))).of(t)
			change := func(typ string, after time.Duration) topics.Event {
				return must(topics.New(typ, user, topics.MembershipChanged{UserID: user}, topics.At(start.Add(after)))).of(t)
			}
			var mine []topics.Event
			switch i % 4 {
			case 0:
				mine = []topics.Event{trial, change(topics.TypeMembershipConverted, 10*24*time.Hour)}
			case 1:
				mine = []topics.Event{trial, change(topics.TypeMembershipCanceled, 5*24*time.Hour)}
			case 2:
				mine = []topics.Event{trial, change(topics.TypeMembershipConverted, 3*24*time.Hour), change(topics.TypeMembershipCanceled, 40*24*time.Hour)}
			case 3:
				mine = []topics.Event{trial}
			}
			for _, ev := range mine {
				types[ev.Type]++
			}
			if i%7 == 0 && len(mine) > 1 {
				mine[0], mine[1] = mine[1], mine[0] // the convert or cancel first
			}
			if i%5 == 0 {
				mine = append(mine, mine[0]) // redelivered
			}
			evs = append(evs, mine...)
		}
		if err := live.p.Publish(ctx, topics.MembershipEvents, evs...); err != nil {
			t.Fatal(err)
		}
		return int64(len(evs)), types
	}
	var first, second []int
	for i := range 40 {
		if i < 20 {
			first = append(first, i)
		} else {
			second = append(second, i)
		}
	}
	_, all := half(first)
	// Kafka timestamps are milliseconds: the halves are apart.
	time.Sleep(10 * time.Millisecond)
	live.mid = time.Now()
	time.Sleep(10 * time.Millisecond)
	live.records, live.after = half(second)
	for typ, n := range live.after {
		all[typ] += n
	}
	return all
}
