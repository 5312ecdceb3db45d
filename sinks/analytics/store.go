package analytics

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/internal/sqlstore"
)

// dialect is what differs between the adapters: the DDL and a few
// clauses. The queries written through database/sql are shared.
type dialect struct {
	// Dialect is what sqlstore needs. ClickHouse has no transactions; its
	// DDL is IF NOT EXISTS and its version table tolerates a duplicate.
	sqlstore.Dialect
	// ddl holds each migration's statements, one entry per name in steps.
	ddl [][]string
	// insertEvent writes one events row; a redelivered event id is not
	// counted twice (SQLite keeps the first row, ClickHouse merges to one).
	insertEvent string
	// final follows a table name in a query that must see every event
	// (or trial) once, even before ClickHouse has merged its duplicates.
	final string
	// insertTrial writes one trials row (trialColumns); of two rows of one
	// trial the store keeps the higher version.
	insertTrial string
	// inUsers is "IN" and the list of user ids of a lookup, which users
	// sends: as the context or the last argument of the query.
	inUsers string
	users   func(ctx context.Context, ids []string) (context.Context, []any, error)
	// cancelsOf selects (user_id, time) of the cancels of the users of a
	// lookup at or after one time and before another (the arguments).
	cancelsOf string
}

// steps names the migrations in order; each dialect's ddl gives their
// statements. Append only: a released migration never changes.
var steps = []string{
	"raw membership and order events",
	"trials with their first cancel, and the cancels to find them by",
}

// eventColumns are the columns of a raw event, in insertEvent's order.
const eventColumns = "event_id, type, user_id, order_id, occurred_at, amount_cents, currency"

// sqlStore is the Store of both adapters: sqlstore's lifecycle, with the
// dialect its writes and queries (and the contract suite) are spelt in.
type sqlStore struct {
	*sqlstore.Store
	d *dialect
	// where names the database in errors ("clickhouse at host:port").
	where string
	// native is ClickHouse's native connection, for batch inserts at full
	// speed; nil on SQLite.
	native driver.Conn
	// closeNative closes native once: clickhouse-go's Close blocks forever
	// the second time.
	closeNative func() error
}

// storeConfig is how sqlstore runs a store of dialect d.
func storeConfig(d *dialect, timeout time.Duration) sqlstore.Config {
	return sqlstore.Config{
		Prefix:     "analytics",
		Dialect:    &d.Dialect,
		Migrations: func(q sqlstore.Querier) []schema.Migration { return migrations(d, q) },
		Timeout:    timeout,
	}
}

// insert writes rows through one prepared INSERT ... VALUES (?, ...) in a
// transaction (q's, when q is one). On ClickHouse that is clickhouse-go's
// batch, the only insert 18.16 completes: an INSERT with inline values
// waits forever for a data block the driver never sends. On SQLite it is
// the fast path for many rows.
func insert(ctx context.Context, q sqlstore.Querier, query string, rows ...[]any) error {
	if db, ok := q.(*sql.DB); ok {
		return inTx(ctx, db, func(tx *sql.Tx) error { return insert(ctx, tx, query, rows...) })
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

// inTx runs fn in a transaction of db, committed when fn returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// migrations are d's schema versions, applied through q. Every statement
// is safe to run again (IF NOT EXISTS): without transactional DDL, a crash
// between a step and its record re-runs the step.
func migrations(d *dialect, q sqlstore.Querier) []schema.Migration {
	ms := make([]schema.Migration, len(steps))
	for i, name := range steps {
		ms[i] = schema.Migration{Version: i + 1, Name: name, Apply: sqlstore.Apply(q, d.ddl[i]...)}
	}
	return ms
}

// insertVersion records m through insert, the one way to write to
// ClickHouse. clickhouse-go appends only the exact Go type of a column:
// int64 for Int64, time.Time for DateTime.
func insertVersion(ctx context.Context, q sqlstore.Querier, m schema.Migration) error {
	return insert(ctx, q, sqlstore.InsertVersionSQL, []any{int64(m.Version), m.Name, time.Now().UTC().Truncate(time.Second)})
}

// Close closes the connection pool (and ClickHouse's native connection).
// Closing again is harmless.
func (s *sqlStore) Close() error {
	err := s.Store.Close()
	if s.closeNative != nil {
		err = errors.Join(err, s.closeNative())
	}
	return err
}
