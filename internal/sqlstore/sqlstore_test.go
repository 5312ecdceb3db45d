package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/internal/sqlstore"
)

// The roles' contract suites (api/orderdb, sinks/analytics) test the Store
// on every engine; these test what they cannot reach: a migration that
// fails halfway and the lock of an engine without transactional DDL.

func testDialect(transactional bool) *sqlstore.Dialect {
	return &sqlstore.Dialect{
		TransactionalDDL: transactional,
		TableExists:      sqlstore.SQLiteTableExists,
		VersionTable:     "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at DATETIME)",
		InsertVersion: func(ctx context.Context, q sqlstore.Querier, m schema.Migration) error {
			_, err := q.ExecContext(ctx, sqlstore.InsertVersionSQL, m.Version, m.Name, time.Now().UTC())
			return err
		},
	}
}

func open(t *testing.T, d *sqlstore.Dialect, ms func(q sqlstore.Querier) []schema.Migration) *sqlstore.Store {
	t.Helper()
	f := sqlstore.SQLite{Path: filepath.Join(t.TempDir(), "test.db"), Params: "?_txlock=immediate", MaxOpenConns: 1}
	s, err := sqlstore.OpenSQLite(t.Context(), f, sqlstore.Config{Prefix: "test", Dialect: d, Migrations: ms, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrateWithTransactionalDDLIsAllOrNothing(t *testing.T) {
	s := open(t, testDialect(true), func(q sqlstore.Querier) []schema.Migration {
		return []schema.Migration{
			{Version: 1, Name: "a table", Apply: sqlstore.Apply(q, "CREATE TABLE a (x INTEGER)")},
			{Version: 2, Name: "a broken statement", Apply: sqlstore.Apply(q, "CREATE TABLE b (")},
		}
	})
	if err := s.Migrate(t.Context()); err == nil || !strings.Contains(err.Error(), "migration 2") {
		t.Fatalf("migrate: %v, want migration 2 to fail", err)
	}
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != 0 {
		t.Fatalf("after a failed migrate: version %d, %v; want 0", v, err)
	}
	var tables int
	if err := s.DB().QueryRow(sqlstore.SQLiteTableExists, "a").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("migration 1's table survived the rollback: %d, %v", tables, err)
	}
}

func TestMigrateWithoutTransactionalDDLHoldsTheLock(t *testing.T) {
	d := testDialect(false)
	held := false
	d.Lock = func(context.Context, *sql.DB) (func(), error) {
		held = true
		return func() { held = false }, nil
	}
	s := open(t, d, func(q sqlstore.Querier) []schema.Migration {
		return []schema.Migration{{Version: 1, Name: "under the lock", Apply: func(context.Context) error {
			if !held {
				return errors.New("applied without the lock")
			}
			return nil
		}}}
	})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if held {
		t.Fatal("the lock is still held after Migrate")
	}
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != 1 {
		t.Fatalf("version %d, %v; want 1", v, err)
	}

	d.Lock = func(context.Context, *sql.DB) (func(), error) { return nil, errors.New("lock busy") }
	err := s.Migrate(t.Context())
	if want := "test: migrate test sqlite file "; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "lock busy") {
		t.Fatalf("migrate without the lock: %v, want %q... lock busy", err, want)
	}
}
