// Package sqlstore is what the store roles kept in a database/sql database
// (api/orderdb, sinks/analytics) share, whatever the engine: the lifecycle
// of schema.Store (a bounded SELECT 1 as health, Migrate in one transaction
// or under a lock, the schema version, Close), the schema_migrations
// recorder, and opening an embedded SQLite file with errors that say what
// is wrong with it. Each role keeps its own dialects, its DDL and its
// server adapter; the Dialect says what this package needs of them.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/schema"
)

// Dialect is what the shared code needs to know of an engine.
type Dialect struct {
	// TransactionalDDL: Migrate runs in one transaction, which also keeps
	// two migrating processes apart. Without it every statement must be
	// safe to run again (IF NOT EXISTS), and Lock, if set, keeps them apart.
	TransactionalDDL bool
	// TableExists counts the tables named by its one argument.
	TableExists string
	// VersionTable creates schema_migrations (version, name, applied_at)
	// if it is missing.
	VersionTable string
	// InsertVersion writes m's row into schema_migrations through q, with
	// InsertVersionSQL and the Go types and precision the engine takes.
	InsertVersion func(ctx context.Context, q Querier, m schema.Migration) error
	// Lock serializes migrations between processes; nil when not needed.
	Lock func(ctx context.Context, db *sql.DB) (unlock func(), err error)
}

// SQLiteTableExists is Dialect.TableExists on SQLite.
const SQLiteTableExists = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"

// InsertVersionSQL records one applied migration.
const InsertVersionSQL = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"

// Querier is a *sql.DB or a *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// Config is what a store role gives the shared code.
type Config struct {
	// Prefix starts every error: the role's package, "orderdb".
	Prefix string
	// Dialect is the engine's.
	Dialect *Dialect
	// Migrations are the role's schema versions in the dialect, applied
	// through q.
	Migrations func(q Querier) []schema.Migration
	// Timeout bounds the first round trip and every health check.
	Timeout time.Duration
}

// Store is the lifecycle (schema.Store) of a store in a database/sql
// database.
type Store struct {
	db    *sql.DB
	c     Config
	where string // "mysql at host:port", for errors
	name  string // the store as schema errors name it
	rec   *Recorder
}

// New is the Store of db, which is open. where names the server or file
// in errors ("mysql at host:port"), name the store in schema errors.
func New(db *sql.DB, where, name string, c Config) *Store {
	return &Store{db: db, c: c, where: where, name: name, rec: &Recorder{q: db, d: c.Dialect}}
}

// DB is the connection pool.
func (s *Store) DB() *sql.DB { return s.db }

// Recorder is the store's schema_migrations outside any transaction.
func (s *Store) Recorder() *Recorder { return s.rec }

// RoundTrip runs SELECT 1 on db, bounded by timeout.
func RoundTrip(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Health answers nil when SELECT 1 comes back in time.
func (s *Store) Health(ctx context.Context) error {
	if err := RoundTrip(ctx, s.db, s.c.Timeout); err != nil {
		return fmt.Errorf("%s: %s did not answer within %s: %w", s.c.Prefix, s.where, s.c.Timeout, err)
	}
	return nil
}

// Migrate brings the schema to the version this build knows: all of it or
// nothing where DDL is transactional, else one idempotent step at a time,
// under the dialect's lock if it has one.
func (s *Store) Migrate(ctx context.Context) error {
	d := s.c.Dialect
	if d.TransactionalDDL {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("%s: migrate %s: begin: %w", s.c.Prefix, s.name, err)
		}
		if err := schema.Migrate(ctx, s.name, &Recorder{q: tx, d: d}, s.c.Migrations(tx)); err != nil {
			return errors.Join(err, tx.Rollback())
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("%s: migrate %s: commit: %w", s.c.Prefix, s.name, err)
		}
		return nil
	}
	if d.Lock != nil {
		unlock, err := d.Lock(ctx, s.db)
		if err != nil {
			return fmt.Errorf("%s: migrate %s: %w", s.c.Prefix, s.name, err)
		}
		defer unlock()
	}
	return schema.Migrate(ctx, s.name, s.rec, s.c.Migrations(s.db))
}

// SchemaVersion is the version recorded in schema_migrations.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := s.rec.Version(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: read schema version of %s: %w", s.c.Prefix, s.name, err)
	}
	return v, nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// Apply returns a migration step running stmts on q in order. Every
// statement must be safe to run again (IF NOT EXISTS): without
// transactional DDL, a crash between a step and its record re-runs the
// step.
func Apply(q Querier, stmts ...string) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, stmt := range stmts {
			if _, err := q.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}
}

// Recorder keeps the schema version in schema_migrations, one row per
// applied migration; the version is the highest row.
type Recorder struct {
	q Querier
	d *Dialect
}

// Version is the highest recorded version, 0 when nothing was recorded.
func (r *Recorder) Version(ctx context.Context) (int, error) {
	var tables int
	if err := r.q.QueryRowContext(ctx, r.d.TableExists, "schema_migrations").Scan(&tables); err != nil {
		return 0, err
	}
	if tables == 0 {
		return 0, nil
	}
	var v int
	err := r.q.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

// Record notes m as applied, creating schema_migrations on first use.
func (r *Recorder) Record(ctx context.Context, m schema.Migration) error {
	if _, err := r.q.ExecContext(ctx, r.d.VersionTable); err != nil {
		return err
	}
	return r.d.InsertVersion(ctx, r.q, m)
}
