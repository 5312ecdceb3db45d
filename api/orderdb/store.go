package orderdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/schema"
)

// dialect is what differs between the SQL adapters; everything else,
// queries included, is shared.
type dialect struct {
	// timestamp is the column type of a point in time; the store writes
	// microseconds in UTC (see now).
	timestamp string
	// tableOptions follows the closing parenthesis of every CREATE TABLE.
	tableOptions string
	// transactionalDDL: Migrate runs in one transaction, which also keeps
	// two migrating processes apart. MySQL commits each DDL statement on
	// its own, so it takes the lock instead.
	transactionalDDL bool
	// tableExists counts the tables named by its one argument.
	tableExists string
	// key declares a VARCHAR(n) primary key column that refuses longer
	// values, as MySQL's strict mode does.
	key func(column string, n int) string
	// lock serializes migrations between processes; nil when not needed.
	lock func(ctx context.Context, db *sql.DB) (unlock func(), err error)
}

// sqlStore is the Store of both adapters.
type sqlStore struct {
	db      *sql.DB
	d       *dialect
	where   string // "mysql at host:port", for errors
	name    string // the store as schema errors name it
	timeout time.Duration
	rec     *recorder
}

func newStore(db *sql.DB, d *dialect, where, name string, timeout time.Duration) *sqlStore {
	return &sqlStore{db: db, d: d, where: where, name: name, timeout: timeout, rec: &recorder{q: db, d: d}}
}

// roundTrip runs SELECT 1, bounded by the store's timeout.
func (s *sqlStore) roundTrip(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var one int
	return s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

func (s *sqlStore) ping(ctx context.Context) error {
	if err := s.roundTrip(ctx); err != nil {
		return fmt.Errorf("orderdb: %s did not answer within %s: %w", s.where, s.timeout, err)
	}
	return nil
}

// Health answers nil when SELECT 1 comes back in time.
func (s *sqlStore) Health(ctx context.Context) error { return s.ping(ctx) }

// Migrate brings the schema to the version this build knows: all of it or
// nothing where DDL is transactional, else one idempotent step at a time.
func (s *sqlStore) Migrate(ctx context.Context) error {
	if s.d.transactionalDDL {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("orderdb: migrate %s: begin: %w", s.name, err)
		}
		if err := schema.Migrate(ctx, s.name, &recorder{q: tx, d: s.d}, migrations(s.d, tx)); err != nil {
			return errors.Join(err, tx.Rollback())
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("orderdb: migrate %s: commit: %w", s.name, err)
		}
		return nil
	}
	if s.d.lock != nil {
		unlock, err := s.d.lock(ctx, s.db)
		if err != nil {
			return fmt.Errorf("orderdb: migrate %s: %w", s.name, err)
		}
		defer unlock()
	}
	return schema.Migrate(ctx, s.name, s.rec, migrations(s.d, s.db))
}

// SchemaVersion is the version recorded in schema_migrations.
func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	v, err := s.rec.Version(ctx)
	if err != nil {
		return 0, fmt.Errorf("orderdb: read schema version of %s: %w", s.name, err)
	}
	return v, nil
}

// Close closes the connection pool.
func (s *sqlStore) Close() error { return s.db.Close() }

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// apply returns a migration step running stmts on q. Every statement must
// be safe to run again (IF NOT EXISTS): without transactional DDL, a crash
// between a step and its record re-runs the step.
func apply(q querier, stmts ...string) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, stmt := range stmts {
			if _, err := q.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}
}

// recorder keeps the schema version in schema_migrations, one row per
// applied migration.
type recorder struct {
	q querier
	d *dialect
}

// Version is the highest recorded version, 0 when nothing was recorded.
func (r *recorder) Version(ctx context.Context) (int, error) {
	var tables int
	if err := r.q.QueryRowContext(ctx, r.d.tableExists, "schema_migrations").Scan(&tables); err != nil {
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
func (r *recorder) Record(ctx context.Context, m schema.Migration) error {
	create := `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INT NOT NULL PRIMARY KEY,
		name VARCHAR(255) NOT NULL,
		applied_at ` + r.d.timestamp + ` NOT NULL
	)` + r.d.tableOptions
	if _, err := r.q.ExecContext(ctx, create); err != nil {
		return err
	}
	_, err := r.q.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.Version, m.Name, now())
	return err
}

// now is the time the store writes: UTC, at the microseconds both
// dialects keep, so a value reads back equal whichever adapter wrote it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
