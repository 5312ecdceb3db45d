package analytics

import (
	"context"
	"testing"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/schema/schematest"
)

// target is where one database lives: what Open takes.
type target struct {
	cfg     config.AnalyticsStore
	dataDir string
}

// freshDB gives a new, empty database of one adapter, removed when the
// test ends.
type freshDB func(t testing.TB) target

// TestContract runs the same suite on every adapter. Real-server subtests
// are named real-<server>: make runs them apart with -run/-skip '/real-'.
// server finds the adapter's server (or skips) and says how to get a fresh
// database on it.
func TestContract(t *testing.T) {
	adapters := []struct {
		name   string
		server func(t testing.TB) freshDB
	}{
		{"embedded-sqlite", embeddedSQLite},
		{"real-clickhouse", realClickHouse},
	}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) { contract(t, a.server(t)) })
	}
}

// event is one raw events row.
type event struct {
	id, typ, user, order string
	at                   time.Time
	amountCents          int64
	currency             string
}

func contract(t *testing.T, fresh freshDB) {
	t.Run("lifecycle", func(t *testing.T) {
		s := open(t, fresh(t))
		schematest.Lifecycle(t, s, s.Recorder(), len(steps))
	})

	t.Run("v1-events", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		// Stored to the second in UTC, whatever the zone written.
		at := time.Date(2026, 11, 23, 10, 4, 5, 0, time.FixedZone("IST", 5*3600+1800))
		want := event{"0193a1c2-7f00-7000-8000-000000000001", "order.created", "u-1", "o-1", at, 12999, "USD"}
		insertEvent(t, s, want)
		insertEvent(t, s, event{"0193a1c2-7f00-7000-8000-000000000002", "membership.trial.started", "u-1", "", at, 0, ""})

		var got event
		if err := s.DB().QueryRowContext(ctx(t), "SELECT "+eventColumns+" FROM events"+s.d.final+" WHERE event_id = ?", want.id).
			Scan(&got.id, &got.typ, &got.user, &got.order, &got.at, &got.amountCents, &got.currency); err != nil {
			t.Fatalf("read back the event: %v", err)
		}
		if got.id != want.id || got.typ != want.typ || got.user != want.user || got.order != want.order ||
			!got.at.Equal(want.at) || got.amountCents != want.amountCents || got.currency != want.currency {
			t.Fatalf("read back %+v\nwant %+v", got, want)
		}
		if got.at.UTC() != time.Date(2026, 11, 23, 4, 34, 5, 0, time.UTC) {
			t.Errorf("occurred_at reads back as %v", got.at)
		}
	})

	t.Run("a-redelivered-event-counts-once", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		e := event{"0193a1c2-7f00-7000-8000-000000000003", "order.created", "u-2", "o-2", time.Unix(1_800_000_000, 0), 500, "USD"}
		insertEvent(t, s, e)
		insertEvent(t, s, e)
		var n, sum int64
		if err := s.DB().QueryRowContext(ctx(t), "SELECT COUNT(*), SUM(amount_cents) FROM events"+s.d.final).Scan(&n, &sum); err != nil {
			t.Fatalf("count events: %v", err)
		}
		if n != 1 || sum != 500 {
			t.Fatalf("%d events, %d cents after a redelivery; want 1, 500", n, sum)
		}
	})

	cohortContract(t, fresh)

	t.Run("concurrent-migrations-apply-once", func(t *testing.T) {
		db := fresh(t)
		s := open(t, db)
		schematest.MigrateTogether(t, ctx(t), s, open(t, db), open(t, db))
		if n := versions(t, s); n != len(steps) {
			t.Fatalf("%d versions recorded, want %d", n, len(steps))
		}
	})

	t.Run("second-open-and-migrate-is-a-no-op", func(t *testing.T) {
		db := fresh(t)
		s := openMigrated(t, db)
		insertEvent(t, s, event{"0193a1c2-7f00-7000-8000-000000000004", "order.created", "u-3", "o-3", time.Unix(1_800_000_000, 0), 1, "EUR"})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s = open(t, db)
		if v, err := s.SchemaVersion(ctx(t)); err != nil || v != len(steps) {
			t.Fatalf("reopened at version %d, %v; want %d", v, err, len(steps))
		}
		if err := s.Migrate(ctx(t)); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
		if v, _ := s.SchemaVersion(ctx(t)); v != len(steps) {
			t.Fatalf("migrate again moved the version to %d", v)
		}
		if n := versions(t, s); n != len(steps) {
			t.Fatalf("migrate again left %d versions recorded, want %d", n, len(steps))
		}
		var n int
		if err := s.DB().QueryRowContext(ctx(t), "SELECT COUNT(*) FROM events").Scan(&n); err != nil || n != 1 {
			t.Fatalf("migrate again left %d events, %v; want 1", n, err)
		}
	})
}

// embeddedSQLite gives each fresh database its own temporary directory.
func embeddedSQLite(testing.TB) freshDB {
	return func(t testing.TB) target { return target{config.AnalyticsStore{Driver: "sqlite"}, t.TempDir()} }
}

// realClickHouse takes the server from SHOPSTREAM_TEST_CLICKHOUSE (native
// host:port, user default without password). Each fresh database is a
// scratch shopstream_<random hex>, created by Open and dropped at the end,
// so runs never collide.
func realClickHouse(t testing.TB) freshDB {
	addr := realserver.Addr(t, realserver.ClickHouse)
	return func(t testing.TB) target {
		return target{cfg: config.AnalyticsStore{Driver: "clickhouse", Addrs: []string{addr},
			Database: realserver.ScratchClickHouse(t, addr), Username: "default"}}
	}
}

// open opens the adapter under test; the test closes it at the end (a
// second Close is harmless).
func open(t testing.TB, db target) *sqlStore {
	t.Helper()
	st, err := Open(ctx(t), db.cfg, db.dataDir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqlStore)
}

func openMigrated(t testing.TB, db target) *sqlStore {
	t.Helper()
	s := open(t, db)
	if err := s.Migrate(ctx(t)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func insertEvent(t *testing.T, s *sqlStore, e event) {
	t.Helper()
	if err := insert(ctx(t), s.DB(), s.d.insertEvent, []any{e.id, e.typ, e.user, e.order, e.at, e.amountCents, e.currency}); err != nil {
		t.Fatalf("insert event %s: %v", e.id, err)
	}
}

// versions counts the distinct versions recorded.
func versions(t *testing.T, s *sqlStore) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(ctx(t), "SELECT COUNT(DISTINCT version) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatalf("count versions: %v", err)
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
