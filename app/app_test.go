package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/broker"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/topics"
)

// testConfig is the all-in-one config on free ports, pointed at the real
// brokers when the test run names them.
func testConfig(t *testing.T, dataDir string) config.Config {
	cfg := embeddedConfig(dataDir)
	if real, ok := testkafka.Real(); ok {
		cfg.Kafka.Embedded.Enabled = false
		cfg.Kafka.Brokers = real
	}
	// With the real servers named, all-in-one runs on them as in local.yaml,
	// each test in its own database, keyspace and index.
	if dsn := os.Getenv(realserver.MySQL); dsn != "" {
		cfg.Stores.Orders = config.OrdersStore{Driver: "mysql", DSN: realserver.ScratchMySQL(t, dsn)}
	}
	if addr := os.Getenv(realserver.Cassandra); addr != "" {
		cfg.Stores.History = config.HistoryStore{Driver: "cassandra", Hosts: []string{addr}, Keyspace: realserver.ScratchKeyspace(t, addr),
			ReplicationFactor: 1, Consistency: "one"}
	}
	if url := os.Getenv(realserver.Elasticsearch); url != "" {
		cfg.Stores.Search = config.SearchStore{Driver: "elasticsearch", URLs: []string{url}, Index: realserver.ScratchIndex(t, url)}
	}
	if addr := os.Getenv(realserver.ClickHouse); addr != "" {
		cfg.Stores.Analytics = config.AnalyticsStore{Driver: "clickhouse", Addrs: []string{addr}, Database: realserver.ScratchClickHouse(t, addr), Username: "default"}
	}
	return cfg
}

// embeddedConfig always uses the embedded broker, for tests of all-in-one's
// own persistence.
func embeddedConfig(dataDir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.Kafka.Embedded.Port = 0
	cfg.HTTP.Addr = "127.0.0.1:0"
	return cfg
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running is an App serving in the background.
type running struct {
	*app.App
	stop func() error
}

// start starts an App on cfg with every store, lets setup add roles, and
// runs it until the test ends.
func start(t testing.TB, cfg config.Config, setup ...func(*app.App) error) *running {
	t.Helper()
	a, err := app.Start(context.Background(), cfg, quiet(), app.AllStores...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range setup {
		if err := s(a); err != nil {
			a.Close(context.Background())
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return &running{a, stop}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAllInOneStartsReadyWithTheCatalog(t *testing.T) {
	r := start(t, testConfig(t, t.TempDir()))
	base := "http://" + r.HTTPAddr()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, base+"/readyz")
		if code == http.StatusOK && strings.Contains(body, `"ready"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never turned ready: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := topics.Verify(context.Background(), cl, r.Catalog); err != nil {
		t.Fatalf("catalog not as declared: %v", err)
	}
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{`shopstream_http_request_duration_seconds_bucket{code="200",method="GET",route="GET /readyz"`, "process_resident_memory_bytes", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := r.stop(); err != nil {
		t.Errorf("clean stop returned %v", err)
	}
}

// A processor that has not recovered keeps /readyz at 503, naming it.
func TestReadyzWaitsForEveryCheck(t *testing.T) {
	r := start(t, testConfig(t, t.TempDir()))
	r.Health.Register("processor demo", func() error { return errors.New("recovering tables") })
	code, body := get(t, "http://"+r.HTTPAddr()+"/readyz")
	var got struct {
		Failing map[string]string `json:"failing"`
	}
	json.Unmarshal([]byte(body), &got)
	if code != http.StatusServiceUnavailable || got.Failing["processor demo"] != "recovering tables" {
		t.Errorf("/readyz = %d %s", code, body)
	}
}

// Records produced before a stop are all there after a start, and a
// consumer group resumes at its committed offsets.
func TestProduceStopStartConsume(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := testkafka.Unique("order")
	group := testkafka.Unique("resume")
	events := func(n int) []topics.Event {
		var out []topics.Event
		for i := 0; i < n; i++ {
			ev, err := topics.New(topics.TypeOrderPlaced, key, topics.OrderTransition{OrderID: key, UserID: "u"})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
		return out
	}
	consume := func(r *running, group string, want int) map[string]bool {
		seen := map[string]bool{}
		var mu sync.Mutex
		c, err := eventlog.NewConsumer(eventlog.ClientOpts(r.Brokers, "t", 5*time.Second, nil), group, []string{topics.OrderEvents},
			func(_ context.Context, b []eventlog.Delivery) error {
				mu.Lock()
				defer mu.Unlock()
				for _, d := range b {
					seen[d.Event.ID] = true
				}
				return nil
			}, r.Producer)
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { c.Run(cctx); close(done) }()
		deadline := time.Now().Add(15 * time.Second)
		for {
			mu.Lock()
			n := len(seen)
			mu.Unlock()
			if n >= want || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Give an over-delivery the chance to show before stopping.
		time.Sleep(300 * time.Millisecond)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return seen
	}

	r := start(t, embeddedConfig(dir))
	first := events(200)
	if err := r.Producer.Publish(ctx, topics.OrderEvents, first...); err != nil {
		t.Fatal(err)
	}
	if got := consume(r, group, 200); len(got) != 200 {
		t.Fatalf("before restart the group saw %d of 200", len(got))
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	r = start(t, embeddedConfig(dir))
	second := events(50)
	if err := r.Producer.Publish(ctx, topics.OrderEvents, second...); err != nil {
		t.Fatal(err)
	}
	resumed := consume(r, group, 50)
	if len(resumed) != 50 {
		t.Errorf("resumed group saw %d records, want only the 50 new ones", len(resumed))
	}
	for _, ev := range second {
		if !resumed[ev.ID] {
			t.Fatalf("resumed group missed %s", ev.ID)
		}
	}
	all := consume(r, testkafka.Unique("fresh"), 250)
	for _, ev := range append(first, second...) {
		if !all[ev.ID] {
			t.Fatalf("record %s was lost across the restart", ev.ID)
		}
	}
}

func TestIncompatibleTopicStopsStart(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Start(filepath.Join(dir, "kafka"))
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, topics.OrderEvents); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	b.Close()

	_, err = app.Start(context.Background(), embeddedConfig(dir), quiet())
	var inc *topics.IncompatibleError
	if !errors.As(err, &inc) || !strings.Contains(err.Error(), `topic "order.events": partitions is 1, expected 3`) {
		t.Fatalf("got %v", err)
	}
}

func TestSecondProcessOnTheSameDataDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	start(t, testConfig(t, dir))
	_, err := app.Start(context.Background(), testConfig(t, dir), quiet())
	if err == nil || !strings.Contains(err.Error(), "in use by another shopstream process") {
		t.Fatalf("got %v", err)
	}
}

func TestUnreachableBrokerFailsFastNamingIt(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Kafka.Embedded.Enabled = false
	cfg.Kafka.Brokers = []string{"127.0.0.1:1"}
	cfg.Kafka.DialTimeout = time.Second
	began := time.Now()
	_, err := app.Start(context.Background(), cfg, quiet())
	if err == nil || !strings.Contains(err.Error(), "Kafka at 127.0.0.1:1 did not answer") {
		t.Fatalf("got %v", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("took %s to fail", took)
	}
}

// A store that stops answering takes /readyz down, named with its driver.
func TestStoresAreOpenMigratedAndInReadiness(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	r := start(t, cfg)
	if failing := r.Health.Ready(); len(failing) != 0 {
		t.Fatalf("not ready with every store open: %v", failing)
	}
	for name, s := range map[string]interface {
		SchemaVersion(context.Context) (int, error)
	}{
		"orders": r.Stores.Orders, "history": r.Stores.History, "search": r.Stores.Search, "analytics": r.Stores.Analytics,
	} {
		if v, err := s.SchemaVersion(context.Background()); err != nil || v < 1 {
			t.Errorf("%s store not migrated: version %d, %v", name, v, err)
		}
	}
	r.Stores.Orders.Close()
	code, body := get(t, "http://"+r.HTTPAddr()+"/readyz")
	if want := "store orders (" + cfg.Stores.Orders.Driver + ")"; code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Errorf("/readyz after closing the orders store = %d %s, want 503 naming %q", code, body, want)
	}
}

func TestDownStoreStopsStartNamingIt(t *testing.T) {
	cfg := embeddedConfig(t.TempDir())
	cfg.Stores.Orders = config.OrdersStore{Driver: "mysql", DSN: "shopstream:secret@tcp(127.0.0.1:1)/shopstream"}
	began := time.Now()
	_, err := app.Start(context.Background(), cfg, quiet(), app.AllStores...)
	if err == nil || !strings.Contains(err.Error(), "orders store (mysql)") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error leaks the password: %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("took %s to fail", took)
	}
}
