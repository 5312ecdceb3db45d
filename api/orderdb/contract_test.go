package orderdb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/schema/schematest"
)

// target is where one database lives: what Open takes.
type target struct {
	cfg     config.OrdersStore
	dataDir string
}

// freshDB gives a new, empty database of one adapter, removed when the
// test ends.
type freshDB func(t *testing.T) target

// TestContract runs the same suite on every adapter. Real-server subtests
// are named real-<server>: make runs them apart with -run/-skip '/real-'.
// server finds the adapter's server (or skips) and says how to get a fresh
// database on it.
func TestContract(t *testing.T) {
	adapters := []struct {
		name   string
		server func(t *testing.T) freshDB
	}{
		{"embedded-sqlite", func(*testing.T) freshDB {
			return func(t *testing.T) target { return target{config.OrdersStore{Driver: "sqlite"}, t.TempDir()} }
		}},
		{"real-mysql", realMySQL},
	}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) { contract(t, a.server(t)) })
	}
}

func contract(t *testing.T, fresh freshDB) {
	t.Run("lifecycle", func(t *testing.T) {
		s := open(t, fresh(t))
		schematest.Lifecycle(t, s, s.Recorder(), len(migrations(s.d, s.DB())))
	})

	t.Run("v1-stock", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		at := now()
		insertStock(t, s, "item-1", 5, at)
		var onHand, version int64
		var updated time.Time
		if err := s.DB().QueryRowContext(ctx(t), "SELECT on_hand, version, updated_at FROM stock WHERE item_id = ?", "item-1").
			Scan(&onHand, &version, &updated); err != nil {
			t.Fatalf("read back stock: %v", err)
		}
		if onHand != 5 || version != 1 || !updated.Equal(at) {
			t.Fatalf("read back on_hand %d version %d updated_at %v; want 5, 1, %v", onHand, version, updated, at)
		}
		// Ids compare byte by byte in both dialects.
		insertStock(t, s, "ITEM-1", 1, at)

		refused := map[string]string{
			"negative on_hand": "INSERT INTO stock (item_id, on_hand, version, updated_at) VALUES ('item-2', -1, 1, ?)",
			"65-character id":  "INSERT INTO stock (item_id, on_hand, version, updated_at) VALUES ('" + strings.Repeat("x", 65) + "', 1, 1, ?)",
			"duplicate id":     "INSERT INTO stock (item_id, on_hand, version, updated_at) VALUES ('item-1', 1, 1, ?)",
		}
		for what, q := range refused {
			if _, err := s.DB().ExecContext(ctx(t), q, at); err == nil {
				t.Errorf("%s accepted", what)
			}
		}
		if n := count(t, s, "stock"); n != 2 {
			t.Fatalf("%d stock rows, want 2", n)
		}
	})

	t.Run("v1-processed-events", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		q := "INSERT INTO processed_events (event_id, processed_at) VALUES (?, ?)"
		id := "0193a1c2-7f00-7000-8000-000000000001"
		if _, err := s.DB().ExecContext(ctx(t), q, id, now()); err != nil {
			t.Fatalf("insert processed event: %v", err)
		}
		// A redelivered event is refused: that is what makes it count once.
		if _, err := s.DB().ExecContext(ctx(t), q, id, now()); err == nil {
			t.Fatal("the same event id was recorded twice")
		}
		var got string
		if err := s.DB().QueryRowContext(ctx(t), "SELECT event_id FROM processed_events").Scan(&got); err != nil || got != id {
			t.Fatalf("read back %q, %v; want %q", got, err, id)
		}
	})

	t.Run("concurrent-migrations-apply-once", func(t *testing.T) {
		db := fresh(t)
		s := open(t, db)
		schematest.MigrateTogether(t, ctx(t), s, open(t, db), open(t, db))
		if n, latest := count(t, s, "schema_migrations"), len(migrations(s.d, nil)); n != latest {
			t.Fatalf("%d migrations recorded, want %d", n, latest)
		}
	})

	t.Run("second-open-and-migrate-is-a-no-op", func(t *testing.T) {
		db := fresh(t)
		s := openMigrated(t, db)
		insertStock(t, s, "item-1", 3, now())
		records := count(t, s, "schema_migrations")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s = open(t, db)
		latest := len(migrations(s.d, s.DB()))
		if v, err := s.SchemaVersion(ctx(t)); err != nil || v != latest {
			t.Fatalf("reopened at version %d, %v; want %d", v, err, latest)
		}
		if err := s.Migrate(ctx(t)); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
		if v, _ := s.SchemaVersion(ctx(t)); v != latest {
			t.Fatalf("migrate again moved the version to %d", v)
		}
		if n := count(t, s, "schema_migrations"); n != records {
			t.Fatalf("migrate again recorded %d migrations, had %d", n, records)
		}
		if n := count(t, s, "stock"); n != 1 {
			t.Fatalf("migrate again left %d stock rows, want 1", n)
		}
	})

	ordersContract(t, fresh)
	migrateContract(t, fresh)
}

// realMySQL takes the server from SHOPSTREAM_TEST_MYSQL (a DSN). Each
// fresh database is a scratch shopstream_<random hex>, dropped at the end,
// so runs never collide.
func realMySQL(t *testing.T) freshDB {
	dsn := realserver.Addr(t, realserver.MySQL)
	return func(t *testing.T) target {
		return target{cfg: config.OrdersStore{Driver: "mysql", DSN: realserver.ScratchMySQL(t, dsn)}}
	}
}

// open opens the adapter under test; the test closes it at the end (a
// second Close is harmless).
func open(t *testing.T, db target) *sqlStore {
	t.Helper()
	st, err := Open(ctx(t), db.cfg, db.dataDir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqlStore)
}

func openMigrated(t *testing.T, db target) *sqlStore {
	t.Helper()
	s := open(t, db)
	if err := s.Migrate(ctx(t)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func insertStock(t *testing.T, s *sqlStore, item string, onHand int64, at time.Time) {
	t.Helper()
	if _, err := s.DB().ExecContext(ctx(t), "INSERT INTO stock (item_id, on_hand, version, updated_at) VALUES (?, ?, 1, ?)",
		item, onHand, at); err != nil {
		t.Fatalf("insert stock %s: %v", item, err)
	}
}

func count(t testing.TB, s *sqlStore, table string) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(ctx(t), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// ctx bounds one step of a test, so a stuck server fails it instead of
// hanging until the go test timeout.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
