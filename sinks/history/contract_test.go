package history

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/schema/schematest"
	"github.com/shopstream/shopstream/lifecycle"
)

// backend is one adapter under the contract suite.
type backend struct {
	// fresh returns the config and data dir of a namespace no test used,
	// removed when t ends.
	fresh func(t testing.TB) (config.HistoryStore, string)
	// db returns a fresh order-taking database of the kind deployed with
	// this store (SQLite with the embedded one, MySQL with Cassandra), for
	// the migration; it skips without its server.
	db func(t testing.TB) (config.OrdersStore, string)
	// putV2 writes orders as a build at schema version 2 did: by created_at
	// to the millisecond.
	putV2 func(t testing.TB, a adapter, orders ...orderdb.Order)
}

// TestContract runs the same suite on both adapters. Real-server subtests
// are named real-<server>: make runs them apart with -run/-skip '/real-'.
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

	t.Run("put-and-read-whole-orders", func(t *testing.T) {
		a := migrated(t, b)
		orders := []orderdb.Order{
			testOrder("o1", "u1", at(0), lifecycle.Delivered),
			testOrder("o2", "u1", at(1), lifecycle.Canceled),
			testOrder("o3", "u2", at(2), lifecycle.Refunded),
		}
		orders[1].Lines, orders[1].TotalCents = orders[1].Lines[:1], 500
		orders[2].PrimeTrial, orders[2].PaymentID, orders[2].Currency = true, "pay-3", "EUR"
		put(t, a, orders...)
		for _, want := range orders {
			if got := get(t, a, want.OrderID); !reflect.DeepEqual(got, want) {
				t.Errorf("order %s read back\n%+v\nwant\n%+v", want.OrderID, got, want)
			}
		}
		if got, _ := page(t, a, "u1", Cursor{}, 10); !reflect.DeepEqual(got, []orderdb.Order{orders[1], orders[0]}) {
			t.Errorf("orders of u1 read back\n%+v\nwant o2, o1 whole", got)
		}
		if err := a.Put(ctx(t), nil); err != nil {
			t.Errorf("put nothing: %v", err)
		}
	})

	t.Run("not-found", func(t *testing.T) {
		a := migrated(t, b)
		put(t, a, testOrder("o1", "u1", at(0), lifecycle.Delivered))
		if _, err := a.Order(ctx(t), "o2"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "o2") {
			t.Errorf("unknown order: %v, want ErrNotFound naming it", err)
		}
		if got, next := page(t, a, "u2", Cursor{}, 10); len(got) != 0 || !next.IsZero() {
			t.Errorf("a user without orders: %d orders, next %+v", len(got), next)
		}
		// "u" is a prefix of "u1": none of u1's orders are u's.
		if got, _ := page(t, a, "u", Cursor{}, 10); len(got) != 0 {
			t.Errorf("user u gets %d orders of another user", len(got))
		}
	})

	t.Run("user-orders-newest-first-in-pages", func(t *testing.T) {
		a := migrated(t, b)
		var orders []orderdb.Order
		for i := range 23 {
			orders = append(orders, testOrder(fmt.Sprintf("o%02d", i), "u1", at(i%17), lifecycle.Delivered))
		}
		// One millisecond: created_at to the microsecond decides, as in the
		// order-taking database; o-a, created 600µs after o-b, sorts first
		// though its id sorts last.
		ms := at(40).Truncate(time.Millisecond)
		orders = append(orders, testOrder("o-a", "u1", ms.Add(700*time.Microsecond), lifecycle.Delivered),
			testOrder("o-b", "u1", ms.Add(100*time.Microsecond), lifecycle.Canceled),
			testOrder("o-other", "u10", at(5), lifecycle.Delivered))
		put(t, a, orders...)

		want := ids(newestFirst(slices.DeleteFunc(slices.Clone(orders), func(o orderdb.Order) bool { return o.UserID != "u1" })))
		if want[0] != "o-a" || want[1] != "o-b" {
			t.Fatalf("the suite's own order is wrong: %v", want)
		}
		for _, size := range []int{1, 7, 25, 26, 1000} {
			if got := allPages(t, a, "u1", size); !slices.Equal(got, want) {
				t.Errorf("pages of %d: %v\nwant %v", size, got, want)
			}
		}
		// The last page ends the walk: a full page with nothing after it
		// says so.
		if got, next := page(t, a, "u1", Cursor{}, len(want)); len(got) != len(want) || !next.IsZero() {
			t.Errorf("one page of all %d orders: %d, next %+v", len(want), len(got), next)
		}
	})

	t.Run("microseconds-read-back-and-page-within-one-millisecond", func(t *testing.T) {
		a := migrated(t, b)
		// 300µs apart in one millisecond, the older with the greater id:
		// only the microseconds put the newer first.
		ms := at(7).Truncate(time.Millisecond)
		newer := testOrder("o-1", "u1", ms.Add(400*time.Microsecond), lifecycle.Delivered)
		older := testOrder("o-9", "u1", ms.Add(100*time.Microsecond), lifecycle.Canceled)
		put(t, a, older, newer)
		for _, want := range []orderdb.Order{newer, older} {
			if got := get(t, a, want.OrderID); !reflect.DeepEqual(got, want) || !got.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("order %s read back created %s, want %s", want.OrderID, got.CreatedAt.Format(time.RFC3339Nano), want.CreatedAt.Format(time.RFC3339Nano))
			}
		}
		first, next := page(t, a, "u1", Cursor{}, 1)
		if !reflect.DeepEqual(first, []orderdb.Order{newer}) || next != CursorOf(newer) {
			t.Fatalf("first page of 1: %v, next %+v; want o-1 whole, next after it", ids(first), next)
		}
		second, last := page(t, a, "u1", next, 1)
		if !reflect.DeepEqual(second, []orderdb.Order{older}) || !last.IsZero() {
			t.Errorf("page after o-1: %v, next %+v; want o-9 whole, the last page", ids(second), last)
		}
		// A cursor between the two, in the same millisecond, keeps only the
		// older one.
		if got, _ := page(t, a, "u1", Cursor{CreatedAt: ms.Add(250 * time.Microsecond), OrderID: "zzz"}, 10); !slices.Equal(ids(got), []string{"o-9"}) {
			t.Errorf("after %s: %v, want [o-9]", ms.Add(250*time.Microsecond).Format(time.RFC3339Nano), ids(got))
		}
	})

	t.Run("cursor-pages-are-stable", func(t *testing.T) {
		a := migrated(t, b)
		for i := range 10 {
			put(t, a, testOrder(fmt.Sprintf("o%d", i), "u1", at(i), lifecycle.Delivered))
		}
		first, next := page(t, a, "u1", Cursor{}, 4)
		if ids(first)[0] != "o9" || next != CursorOf(first[3]) {
			t.Fatalf("first page %v, next %+v", ids(first), next)
		}
		// Newer orders and one between the pages: the next page starts
		// after the cursor regardless.
		put(t, a, testOrder("new", "u1", at(100), lifecycle.Delivered), testOrder("o5b", "u1", at(5), lifecycle.Canceled))
		rest, _ := page(t, a, "u1", next, 100)
		if got := ids(rest); !slices.Equal(got, []string{"o5b", "o5", "o4", "o3", "o2", "o1", "o0"}) {
			t.Errorf("after the cursor: %v", got)
		}
		// A cursor past the oldest order gives an empty last page.
		if got, next := page(t, a, "u1", Cursor{CreatedAt: at(-1), OrderID: "zzz"}, 10); len(got) != 0 || !next.IsZero() {
			t.Errorf("past the end: %v %+v", ids(got), next)
		}
		// A cursor after the newest gives everything.
		if got, _ := page(t, a, "u1", Cursor{CreatedAt: at(1000), OrderID: "a"}, 100); len(got) != 12 {
			t.Errorf("from the future: %d orders, want 12", len(got))
		}
	})

	t.Run("idempotent-rewrites-and-the-newest-copy-wins", func(t *testing.T) {
		a := migrated(t, b)
		canceled := testOrder("o1", "u1", at(0), lifecycle.Canceled)
		other := testOrder("o2", "u1", at(1), lifecycle.Delivered)
		put(t, a, canceled, other)
		put(t, a, canceled, other)
		put(t, a, other)

		refunded := canceled
		refunded.Status, refunded.Version, refunded.PaymentID = lifecycle.Refunded, canceled.Version+1, "pay-late"
		refunded.UpdatedAt = canceled.UpdatedAt.Add(time.Second)
		refunded.Timeline = append(slices.Clip(canceled.Timeline), orderdb.Transition{Status: lifecycle.Refunded, At: refunded.UpdatedAt, Reason: lifecycle.ReasonLatePayment})
		put(t, a, refunded)
		// The stale copy comes late, alone and in one batch with the new.
		put(t, a, canceled)
		put(t, a, refunded, canceled)
		if got := get(t, a, "o1"); !reflect.DeepEqual(got, refunded) {
			t.Errorf("after a stale rewrite: %+v, want the refunded copy", got)
		}
		got, _ := page(t, a, "u1", Cursor{}, 10)
		if !reflect.DeepEqual(got, []orderdb.Order{other, refunded}) {
			t.Errorf("orders of u1 after rewrites: %+v", got)
		}
		if n := countAll(t, a); n != 2 {
			t.Errorf("EachOrder visits %d orders after rewrites, want 2", n)
		}
	})

	t.Run("each-order-visits-every-order-once", func(t *testing.T) {
		a := migrated(t, b)
		want := map[string]bool{}
		var orders []orderdb.Order
		for i := range 1234 {
			o := testOrder(fmt.Sprintf("o%04d", i), fmt.Sprintf("u%d", i%7), at(i), lifecycle.Delivered)
			orders = append(orders, o)
			want[o.OrderID] = true
		}
		put(t, a, orders...)
		seen := map[string]bool{}
		err := a.EachOrder(ctx(t), func(o orderdb.Order) error {
			if seen[o.OrderID] || !want[o.OrderID] {
				t.Errorf("EachOrder visits %s again or unasked", o.OrderID)
			}
			seen[o.OrderID] = true
			return nil
		})
		if err != nil || len(seen) != len(want) {
			t.Fatalf("EachOrder visited %d of %d: %v", len(seen), len(want), err)
		}
		stop := errors.New("stop")
		if err := a.EachOrder(ctx(t), func(orderdb.Order) error { return stop }); err != stop {
			t.Errorf("fn's error comes back as %v", err)
		}
	})

	t.Run("bad-puts-and-page-sizes-are-refused", func(t *testing.T) {
		a := migrated(t, b)
		for _, o := range []orderdb.Order{testOrder("", "u1", at(0), lifecycle.Delivered), testOrder("o1", "", at(0), lifecycle.Delivered), testOrder("o1", "u\x00", at(0), lifecycle.Delivered)} {
			if err := a.Put(ctx(t), []orderdb.Order{o}); !errors.Is(err, orderdb.ErrInvalid) {
				t.Errorf("put order %q of user %q: %v, want ErrInvalid", o.OrderID, o.UserID, err)
			}
		}
		if _, _, err := a.UserOrders(ctx(t), "u1", Cursor{}, 0); !errors.Is(err, orderdb.ErrInvalid) {
			t.Errorf("page size 0: %v", err)
		}
		if n := countAll(t, a); n != 0 {
			t.Errorf("refused puts wrote %d orders", n)
		}
	})

	t.Run("v1-store-migrates-to-the-current-schema", func(t *testing.T) {
		cfg, dir := b.fresh(t)
		a := openT(t, cfg, dir)
		if err := a.migrateTo(ctx(t), 1); err != nil {
			t.Fatal(err)
		}
		if err := a.Migrate(ctx(t)); err != nil {
			t.Fatalf("migrate v1 to current: %v", err)
		}
		o := testOrder("o1", "u1", at(0), lifecycle.Delivered)
		put(t, a, o)
		if got, _ := page(t, a, "u1", Cursor{}, 1); !reflect.DeepEqual(got, []orderdb.Order{o}) {
			t.Errorf("after v1 to current: %+v", got)
		}
	})

	// A store at v2 holds orders by created_at to the millisecond. The
	// move to microseconds keeps every order, pages them by microseconds,
	// keeps last-write-wins, and runs again cleanly after a crash before
	// it was recorded.
	t.Run("v2-store-with-orders-moves-to-microseconds", func(t *testing.T) {
		cfg, dir := b.fresh(t)
		a := openT(t, cfg, dir)
		if err := a.migrateTo(ctx(t), 2); err != nil {
			t.Fatal(err)
		}
		ms := at(3).Truncate(time.Millisecond)
		orders := []orderdb.Order{
			testOrder("o-a", "u1", ms.Add(700*time.Microsecond), lifecycle.Delivered),
			testOrder("o-b", "u1", ms.Add(400*time.Microsecond), lifecycle.Canceled),
			testOrder("o-c", "u1", at(1), lifecycle.Refunded),
			testOrder("o-d", "u2", at(2), lifecycle.Delivered),
		}
		for i := range 30 {
			orders = append(orders, testOrder(fmt.Sprintf("o%02d", i), fmt.Sprintf("u%d", 1+i%2), at(i%4).Add(time.Duration(i)*time.Microsecond), lifecycle.Delivered))
		}
		b.putV2(t, a, orders...)
		if err := a.migrations()[2].Apply(ctx(t)); err != nil {
			t.Fatalf("migration 3, cut short before its record: %v", err)
		}
		if err := a.Migrate(ctx(t)); err != nil {
			t.Fatalf("migrate v2 to current, again: %v", err)
		}
		if v, err := a.SchemaVersion(ctx(t)); err != nil || v != len(a.migrations()) {
			t.Fatalf("version %d, %v; want %d", v, err, len(a.migrations()))
		}
		for _, user := range []string{"u1", "u2"} {
			mine := slices.DeleteFunc(slices.Clone(orders), func(o orderdb.Order) bool { return o.UserID != user })
			if got, want := allPages(t, a, user, 4), ids(newestFirst(mine)); !slices.Equal(got, want) {
				t.Errorf("pages of %s after the move: %v\nwant %v", user, got, want)
			}
		}
		if got, _ := page(t, a, "u1", Cursor{}, 2); !reflect.DeepEqual(got, orders[:2]) {
			t.Errorf("first page of u1 after the move: %v, want o-a, o-b whole", ids(got))
		}
		if n := countAll(t, a); n != len(orders) {
			t.Errorf("%d orders after the move, want %d", n, len(orders))
		}
		// Last-write-wins still holds for a moved order.
		stale, newer := orders[1], orders[1]
		stale.UpdatedAt = stale.UpdatedAt.Add(-time.Second)
		stale.Status = lifecycle.Delivered
		newer.Status, newer.Version, newer.PaymentID = lifecycle.Refunded, newer.Version+1, "pay-late"
		newer.UpdatedAt = newer.UpdatedAt.Add(time.Second)
		put(t, a, stale)
		if got, _ := page(t, a, "u1", CursorOf(orders[0]), 1); !reflect.DeepEqual(got, orders[1:2]) {
			t.Errorf("a stale copy replaced the moved one: %+v", got)
		}
		put(t, a, newer)
		if got, _ := page(t, a, "u1", CursorOf(orders[0]), 1); !reflect.DeepEqual(got, []orderdb.Order{newer}) {
			t.Errorf("a newer copy did not replace the moved one: %+v", got)
		}
	})

	t.Run("second-open-and-migrate-is-a-no-op", func(t *testing.T) {
		cfg, dir := b.fresh(t)
		a := openT(t, cfg, dir)
		if err := a.Migrate(ctx(t)); err != nil {
			t.Fatal(err)
		}
		o := testOrder("o1", "u1", at(0), lifecycle.Delivered)
		put(t, a, o)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		a = openT(t, cfg, dir)
		if err := a.Migrate(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if v, err := a.SchemaVersion(ctx(t)); err != nil || v != len(a.migrations()) {
			t.Fatalf("version %d, %v; want %d", v, err, len(a.migrations()))
		}
		if got := get(t, a, "o1"); !reflect.DeepEqual(got, o) {
			t.Errorf("after reopening: %+v", got)
		}
	})

	migrationContract(t, b)
}

// base is the suite's clock: at(i) is i seconds after it, at a microsecond
// offset as the order-taking database writes them.
var base = time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)

func at(i int) time.Time { return base.Add(time.Duration(i)*time.Second + 123456*time.Microsecond) }

// testOrder is a finished order as the order-taking database would hand
// it over: two lines, a timeline from created to status.
func testOrder(id, user string, created time.Time, status lifecycle.Status) orderdb.Order {
	lines := []orderdb.Line{{ItemID: "item-a", Quantity: 2, PriceCents: 250}, {ItemID: "item-b", Quantity: 1, PriceCents: 999}}
	done := created.Add(90 * time.Second)
	return orderdb.Order{
		OrderID: id, UserID: user, Status: status, Lines: lines, TotalCents: 1499, Currency: "USD",
		CreatedAt: created, UpdatedAt: done, ExpiresAt: created.Add(5 * time.Minute), Version: 2,
		Timeline: []orderdb.Transition{{Status: lifecycle.Created, At: created}, {Status: status, At: done, Reason: "test"}},
	}
}

func ids(orders []orderdb.Order) []string {
	out := make([]string, len(orders))
	for i, o := range orders {
		out[i] = o.OrderID
	}
	return out
}

func put(t *testing.T, a Store, orders ...orderdb.Order) {
	t.Helper()
	if err := a.Put(ctx(t), orders); err != nil {
		t.Fatalf("put %v: %v", ids(orders), err)
	}
}

func get(t *testing.T, a Store, id string) orderdb.Order {
	t.Helper()
	o, err := a.Order(ctx(t), id)
	if err != nil {
		t.Fatalf("order %s: %v", id, err)
	}
	return o
}

func page(t *testing.T, a Store, user string, before Cursor, limit int) ([]orderdb.Order, Cursor) {
	t.Helper()
	orders, next, err := a.UserOrders(ctx(t), user, before, limit)
	if err != nil {
		t.Fatalf("orders of %s from %+v: %v", user, before, err)
	}
	return orders, next
}

// allPages walks a user's orders in pages of size and returns their ids;
// a page short of size must be the last.
func allPages(t *testing.T, a Store, user string, size int) []string {
	t.Helper()
	var out []string
	var c Cursor
	for {
		orders, next := page(t, a, user, c, size)
		out = append(out, ids(orders)...)
		if next.IsZero() {
			return out
		}
		if len(orders) != size || next != CursorOf(orders[len(orders)-1]) {
			t.Fatalf("a page of %d of %d orders says more follow after %+v", len(orders), size, next)
		}
		if next == c {
			t.Fatalf("the page after %+v ends where it started", c)
		}
		c = next
	}
}

func countAll(t *testing.T, a Store) int {
	t.Helper()
	n := 0
	if err := a.EachOrder(ctx(t), func(orderdb.Order) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func openT(t testing.TB, cfg config.HistoryStore, dir string) adapter {
	t.Helper()
	a, err := open(context.Background(), cfg, dir, Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// migrated opens a fresh store at the current schema.
func migrated(t testing.TB, b backend) adapter {
	t.Helper()
	cfg, dir := b.fresh(t)
	a := openT(t, cfg, dir)
	if err := a.Migrate(ctx(t)); err != nil {
		t.Fatal(err)
	}
	return a
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// ctx bounds one step of a test, so a stuck server fails it instead of
// hanging until the go test timeout.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func levelDBBackend() backend {
	return backend{
		fresh: func(t testing.TB) (config.HistoryStore, string) {
			return config.HistoryStore{Driver: "embedded"}, t.TempDir()
		},
		db: func(t testing.TB) (config.OrdersStore, string) {
			return config.OrdersStore{Driver: "sqlite"}, t.TempDir()
		},
		putV2: func(t testing.TB, a adapter, orders ...orderdb.Order) {
			s := a.(*levelDB)
			b := new(leveldb.Batch)
			for _, o := range orders {
				body, err := encode(o)
				if err != nil {
					t.Fatal(err)
				}
				// v2's user key: created_at in Unix milliseconds.
				ts := uint64(o.CreatedAt.UnixMilli()) ^ (1 << 63)
				k := hex.AppendEncode(userPrefix(o.UserID), binary.BigEndian.AppendUint64(nil, ts))
				b.Put(orderKey(o.OrderID), body)
				b.Put(append(append(k, '/'), o.OrderID...), body)
			}
			if err := s.db.Write(b, synced); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func cassandraBackend(addr string) backend {
	return backend{
		fresh: func(t testing.TB) (config.HistoryStore, string) {
			ks := realserver.ScratchKeyspace(t, addr)
			return config.HistoryStore{Driver: "cassandra", Hosts: []string{addr}, Keyspace: ks, ReplicationFactor: 1, Consistency: "one"}, t.TempDir()
		},
		db: func(t testing.TB) (config.OrdersStore, string) {
			return config.OrdersStore{Driver: "mysql", DSN: realserver.ScratchMySQL(t, realserver.Addr(t, realserver.MySQL))}, ""
		},
		putV2: func(t testing.TB, a adapter, orders ...orderdb.Order) {
			c := a.(*cassandra)
			// v2's orders_by_user: created_at a timestamp (milliseconds).
			for _, table := range []string{"orders_by_id", "orders_by_user"} {
				for _, o := range orders {
					body, err := encode(o)
					if err == nil {
						err = c.session.Query(`INSERT INTO `+c.ks+`.`+table+` (order_id, user_id, created_at, status, total_cents, currency, body) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
							o.OrderID, o.UserID, o.CreatedAt, string(o.Status), o.TotalCents, o.Currency, body, o.UpdatedAt.UnixMicro()).WithContext(ctx(t)).Exec()
					}
					if err != nil {
						t.Fatalf("write order %s to %s as v2 did: %v", o.OrderID, table, err)
					}
				}
			}
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
	times := []time.Time{time.UnixMilli(-5), time.UnixMicro(-1), time.UnixMilli(0), time.UnixMicro(1), time.UnixMicro(999), time.UnixMilli(1),
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 300_000, time.UTC)}
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
