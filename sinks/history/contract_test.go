package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/schema/schematest"
)

// order is what the suite writes through each adapter's v1 layout, in the
// shape the later history writes will have.
type order struct {
	OrderID    string
	UserID     string
	CreatedAt  time.Time
	Status     string
	TotalCents int64
	Currency   string
	Body       []byte
}

// backend is one adapter under the contract suite, with the raw reads and
// writes that prove its v1 layout serves the history reads.
type backend struct {
	// fresh returns the config and data dir of a namespace no test used,
	// removed when t ends.
	fresh  func(t *testing.T) (config.HistoryStore, string)
	put    func(t *testing.T, a adapter, o order)
	get    func(t *testing.T, a adapter, orderID string) order
	byUser func(t *testing.T, a adapter, userID string) []string
}

func TestContract(t *testing.T) {
	t.Run("embedded-leveldb", func(t *testing.T) { runContract(t, levelDBBackend()) })
	t.Run("real-cassandra", func(t *testing.T) {
		runContract(t, cassandraBackend(realserver.Addr(t, realserver.Cassandra)))
	})
}

func runContract(t *testing.T, b backend) {
	t.Run("lifecycle", func(t *testing.T) {
		cfg, dir := b.fresh(t)
		a := openT(t, cfg, dir)
		schematest.Lifecycle(t, a, a.recorder(), len(a.migrations()))
	})

	cfg, dir := b.fresh(t)
	created := time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)
	orders := []order{
		{"o1", "u1", created, "delivered", 12999, "USD", []byte(`{"lines":1}`)},
		{"o2", "u1", created.Add(time.Hour), "canceled", 500, "USD", []byte(`{"lines":2}`)},
		// Same time as o2: the order id breaks the tie, descending.
		{"o3", "u1", created.Add(time.Hour), "delivered", 0, "EUR", nil},
		{"o4", "u2", created.Add(2 * time.Hour), "delivered", 100, "USD", []byte{}},
	}
	check := func(t *testing.T, a adapter) {
		t.Helper()
		for _, want := range orders {
			if got := b.get(t, a, want.OrderID); !equalOrders(got, want) {
				t.Errorf("order %s: got %+v, want %+v", want.OrderID, got, want)
			}
		}
		if got := b.byUser(t, a, "u1"); !slices.Equal(got, []string{"o3", "o2", "o1"}) {
			t.Errorf("orders of u1, newest first: got %v, want [o3 o2 o1]", got)
		}
	}

	t.Run("v1-serves-orders-by-id-and-by-user", func(t *testing.T) {
		a := openT(t, cfg, dir)
		if err := a.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, o := range orders {
			b.put(t, a, o)
		}
		check(t, a)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("second-open-and-migrate-is-a-no-op", func(t *testing.T) {
		a := openT(t, cfg, dir)
		if err := a.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if v, err := a.SchemaVersion(context.Background()); err != nil || v != len(a.migrations()) {
			t.Fatalf("version %d, %v; want %d", v, err, len(a.migrations()))
		}
		check(t, a)
	})
}

func equalOrders(a, b order) bool {
	return a.OrderID == b.OrderID && a.UserID == b.UserID && a.CreatedAt.Equal(b.CreatedAt) &&
		a.Status == b.Status && a.TotalCents == b.TotalCents && a.Currency == b.Currency && bytes.Equal(a.Body, b.Body)
}

func openT(t *testing.T, cfg config.HistoryStore, dir string) adapter {
	t.Helper()
	a, err := open(context.Background(), cfg, dir, Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func levelDBBackend() backend {
	db := func(a adapter) *leveldb.DB { return a.(*levelDB).db }
	return backend{
		fresh: func(t *testing.T) (config.HistoryStore, string) {
			return config.HistoryStore{Driver: "embedded"}, t.TempDir()
		},
		put: func(t *testing.T, a adapter, o order) {
			body, _ := json.Marshal(o)
			if err := db(a).Put(orderKey(o.OrderID), body, nil); err != nil {
				t.Fatal(err)
			}
			if err := db(a).Put(userOrderKey(o.UserID, o.CreatedAt, o.OrderID), nil, nil); err != nil {
				t.Fatal(err)
			}
		},
		get: func(t *testing.T, a adapter, id string) order {
			body, err := db(a).Get(orderKey(id), nil)
			if err != nil {
				t.Fatalf("get %s: %v", id, err)
			}
			var o order
			if err := json.Unmarshal(body, &o); err != nil {
				t.Fatal(err)
			}
			return o
		},
		byUser: func(t *testing.T, a adapter, userID string) []string {
			it := db(a).NewIterator(util.BytesPrefix(userPrefix(userID)), nil)
			defer it.Release()
			var ids []string
			for ok := it.Last(); ok; ok = it.Prev() {
				ids = append(ids, string(it.Key()[bytes.LastIndexByte(it.Key(), '/')+1:]))
			}
			if err := it.Error(); err != nil {
				t.Fatal(err)
			}
			return ids
		},
	}
}

func cassandraBackend(addr string) backend {
	session := func(a adapter) (*gocql.Session, string) { c := a.(*cassandra); return c.session, c.ks }
	return backend{
		fresh: func(t *testing.T) (config.HistoryStore, string) {
			ks := realserver.ScratchKeyspace(t, addr)
			return config.HistoryStore{Driver: "cassandra", Hosts: []string{addr}, Keyspace: ks, ReplicationFactor: 1, Consistency: "one"}, t.TempDir()
		},
		put: func(t *testing.T, a adapter, o order) {
			s, ks := session(a)
			if err := s.Query(`INSERT INTO `+ks+`.orders_by_id (order_id, user_id, created_at, status, total_cents, currency, body) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				o.OrderID, o.UserID, o.CreatedAt, o.Status, o.TotalCents, o.Currency, o.Body).Exec(); err != nil {
				t.Fatal(err)
			}
			if err := s.Query(`INSERT INTO `+ks+`.orders_by_user (user_id, created_at, order_id, status, total_cents, currency) VALUES (?, ?, ?, ?, ?, ?)`,
				o.UserID, o.CreatedAt, o.OrderID, o.Status, o.TotalCents, o.Currency).Exec(); err != nil {
				t.Fatal(err)
			}
		},
		get: func(t *testing.T, a adapter, id string) order {
			s, ks := session(a)
			o := order{OrderID: id}
			if err := s.Query(`SELECT user_id, created_at, status, total_cents, currency, body FROM `+ks+`.orders_by_id WHERE order_id = ?`, id).
				Scan(&o.UserID, &o.CreatedAt, &o.Status, &o.TotalCents, &o.Currency, &o.Body); err != nil {
				t.Fatalf("get %s: %v", id, err)
			}
			return o
		},
		byUser: func(t *testing.T, a adapter, userID string) []string {
			s, ks := session(a)
			it := s.Query(`SELECT order_id FROM `+ks+`.orders_by_user WHERE user_id = ?`, userID).Iter()
			var ids []string
			var id string
			for it.Scan(&id) {
				ids = append(ids, id)
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			return ids
		},
	}
}

func TestOpenCassandraDeadAddressFailsFast(t *testing.T) {
	start := time.Now()
	_, err := Open(context.Background(), config.HistoryStore{
		Driver: "cassandra", Hosts: []string{"127.0.0.1:1"}, Keyspace: "shopstream", ReplicationFactor: 1, Consistency: "one",
	}, t.TempDir(), Logger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err == nil || !strings.Contains(err.Error(), "history: cassandra at 127.0.0.1:1 did not answer within 5s") {
		t.Fatalf("got %v, want an error naming 127.0.0.1:1 and the 5s bound", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("took %s", d)
	}
	t.Logf("%s after %s", err, time.Since(start).Round(time.Millisecond))
}

// A server that accepts connections and never answers must not hang Open.
func TestOpenCassandraSilentServerTimesOut(t *testing.T) {
	addr := realserver.Silent(t)
	start := time.Now()
	_, err := Open(context.Background(), config.HistoryStore{
		Driver: "cassandra", Hosts: []string{addr}, Keyspace: "shopstream", ReplicationFactor: 1, Consistency: "one",
	}, t.TempDir(), Timeout(300*time.Millisecond), Logger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err == nil || !strings.Contains(err.Error(), addr+" did not answer within 300ms") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}

	// The caller's context bounds it too.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = Open(ctx, config.HistoryStore{
		Driver: "cassandra", Hosts: []string{addr}, Keyspace: "shopstream", ReplicationFactor: 1, Consistency: "one",
	}, t.TempDir(), Logger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("got %v after %s", err, time.Since(start))
	}
}

func TestOpenEmbeddedRefusesUnusablePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), config.HistoryStore{Driver: "embedded"}, file)
	if err == nil || !strings.Contains(err.Error(), "history: embedded store at "+filepath.Join(file, "history")) {
		t.Fatalf("got %v", err)
	}

	// A store another process (here: another Open) holds is refused, not waited for.
	dir := t.TempDir()
	s, err := Open(context.Background(), config.HistoryStore{Driver: "embedded"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(context.Background(), config.HistoryStore{Driver: "embedded"}, dir); err == nil || !strings.Contains(err.Error(), "another shopstream") {
		t.Fatalf("second open of a store in use: %v", err)
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.HistoryStore
		want string
	}{
		{config.HistoryStore{Driver: "mongo"}, `unknown driver "mongo"`},
		{config.HistoryStore{Driver: "cassandra", Keyspace: "k", Consistency: "one"}, "at least one host"},
		{config.HistoryStore{Driver: "cassandra", Hosts: []string{"127.0.0.1:1"}, Keyspace: "k", Consistency: "most"}, `consistency "most"`},
	} {
		if _, err := Open(context.Background(), tc.cfg, t.TempDir()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// Both adapters must reach the same schema version with the same build.
func TestAdaptersCarryTheSameMigrations(t *testing.T) {
	if l, c := len((&levelDB{}).migrations()), len((&cassandra{}).migrations()); l != c {
		t.Fatalf("embedded has %d migrations, cassandra %d", l, c)
	}
}

func TestUserOrderKeysSortByTime(t *testing.T) {
	times := []time.Time{time.UnixMilli(-5), time.UnixMilli(0), time.UnixMilli(1), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := 1; i < len(times); i++ {
		if bytes.Compare(userOrderKey("u", times[i-1], "z"), userOrderKey("u", times[i], "a")) >= 0 {
			t.Errorf("key for %v does not sort before %v", times[i-1], times[i])
		}
	}
	// "u" must not cover "u2"'s orders.
	if bytes.HasPrefix(userOrderKey("u2", times[0], "a"), userPrefix("u")) {
		t.Error("user prefix covers another user")
	}
}
