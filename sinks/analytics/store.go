package analytics

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/schema"
)

// dialect is what differs between the adapters: the DDL and a few clauses.
// The queries written through database/sql are shared.
type dialect struct {
	// transactionalDDL: Migrate runs in one transaction, which also keeps
	// two migrating processes apart. ClickHouse has no transactions; its
	// DDL is IF NOT EXISTS and its version table tolerates a duplicate.
	transactionalDDL bool
	// tableExists counts the tables named by its one argument.
	tableExists string
	// versionTable creates schema_migrations(version, name, applied_at).
	versionTable string
	// ddl holds each migration's statements, one entry per name in steps.
	ddl [][]string
	// insertEvent writes one events row; a redelivered event id is not
	// counted twice (SQLite keeps the first row, ClickHouse merges to one).
	insertEvent string
	// final follows a table name in a query that must see every event
	// once, even before ClickHouse has merged its duplicates.
	final string
}

// steps names the migrations in order; each dialect's ddl gives their
// statements. Append only: a released migration never changes.
var steps = []string{
	"raw membership and order events",
}

// eventColumns are the columns of a raw event, in insertEvent's order.
const eventColumns = "event_id, type, user_id, order_id, occurred_at, amount_cents, currency"

// sqlStore is the Store of both adapters.
type sqlStore struct {
	db      *sql.DB
	d       *dialect
	where   string // "clickhouse at host:port", for errors
	name    string // the store as schema errors name it
	timeout time.Duration
	rec     *recorder
}

func newStore(db *sql.DB, d *dialect, where, name string, timeout time.Duration) *sqlStore {
	return &sqlStore{db: db, d: d, where: where, name: name, timeout: timeout, rec: &recorder{q: db, d: d}}
}

// roundTrip runs SELECT 1, bounded by the store's timeout.
func (s *sqlStore) roundTrip(ctx context.Context) error {
	return roundTrip(ctx, s.db, s.timeout)
}

func roundTrip(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Health answers nil when SELECT 1 comes back in time.
func (s *sqlStore) Health(ctx context.Context) error {
	if err := s.roundTrip(ctx); err != nil {
		return fmt.Errorf("analytics: %s did not answer within %s: %w", s.where, s.timeout, err)
	}
	return nil
}

// Migrate brings the schema to the version this build knows: all of it or
// nothing where DDL is transactional, else one idempotent step at a time.
func (s *sqlStore) Migrate(ctx context.Context) error {
	if !s.d.transactionalDDL {
		return schema.Migrate(ctx, s.name, s.rec, migrations(s.d, s.db))
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("analytics: migrate %s: begin: %w", s.name, err)
	}
	if err := schema.Migrate(ctx, s.name, &recorder{q: tx, d: s.d}, migrations(s.d, tx)); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("analytics: migrate %s: commit: %w", s.name, err)
	}
	return nil
}

// SchemaVersion is the version recorded in schema_migrations.
func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	v, err := s.rec.Version(ctx)
	if err != nil {
		return 0, fmt.Errorf("analytics: read schema version of %s: %w", s.name, err)
	}
	return v, nil
}

// Close closes the connection pool.
func (s *sqlStore) Close() error { return s.db.Close() }

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// insert writes rows through one prepared INSERT ... VALUES (?, ...) in a
// transaction (q's, when q is one). On ClickHouse that is clickhouse-go's
// batch, the only insert 18.16 completes: an INSERT with inline values
// waits forever for a data block the driver never sends. On SQLite it is
// the fast path for many rows.
func insert(ctx context.Context, q querier, query string, rows ...[]any) error {
	if db, ok := q.(*sql.DB); ok {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := insert(ctx, tx, query, rows...); err != nil {
			return errors.Join(err, tx.Rollback())
		}
		return tx.Commit()
	}
	stmt, err := q.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, row := range rows {
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			return err
		}
	}
	return nil
}

// migrations are d's schema versions, applied through q. Every statement
// is safe to run again (IF NOT EXISTS): without transactional DDL, a crash
// between a step and its record re-runs the step.
func migrations(d *dialect, q querier) []schema.Migration {
	ms := make([]schema.Migration, len(steps))
	for i, name := range steps {
		stmts := d.ddl[i]
		ms[i] = schema.Migration{Version: i + 1, Name: name, Apply: func(ctx context.Context) error {
			for _, stmt := range stmts {
				if _, err := q.ExecContext(ctx, stmt); err != nil {
					return err
				}
			}
			return nil
		}}
	}
	return ms
}

// recorder keeps the schema version in schema_migrations, one row per
// applied migration; the version is the highest row.
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
	if _, err := r.q.ExecContext(ctx, r.d.versionTable); err != nil {
		return err
	}
	// clickhouse-go appends only the exact Go type of a column: int64 for
	// Int64, time.Time for DateTime.
	return insert(ctx, r.q, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		[]any{int64(m.Version), m.Name, time.Now().UTC().Truncate(time.Second)})
}
