package orderdb

import (
	"context"
	"time"

	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/internal/sqlstore"
)

// dialect is what differs between the SQL adapters; everything else,
// queries included, is shared.
type dialect struct {
	// Dialect is what sqlstore needs: transactional DDL or a lock, and
	// schema_migrations (newDialect fills it in from the fields below).
	sqlstore.Dialect
	// timestamp is the column type of a point in time; the store writes
	// microseconds in UTC (see now).
	timestamp string
	// tableOptions follows the closing parenthesis of every CREATE TABLE.
	tableOptions string
	// key declares a VARCHAR(n) primary key column that refuses longer
	// values, as MySQL's strict mode does.
	key func(column string, n int) string
}

// newDialect completes d with schema_migrations in its spelling.
func newDialect(d dialect) *dialect {
	d.VersionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INT NOT NULL PRIMARY KEY,
		name VARCHAR(255) NOT NULL,
		applied_at ` + d.timestamp + ` NOT NULL
	)` + d.tableOptions
	d.InsertVersion = insertVersion
	return &d
}

// insertVersion records m, at the time now gives.
func insertVersion(ctx context.Context, q sqlstore.Querier, m schema.Migration) error {
	_, err := q.ExecContext(ctx, sqlstore.InsertVersionSQL, m.Version, m.Name, now())
	return err
}

// sqlStore is the Store of both adapters: sqlstore's lifecycle, with the
// dialect that later queries (and the contract suite) spell theirs in.
type sqlStore struct {
	*sqlstore.Store
	d *dialect
}

// storeConfig is how sqlstore runs a store of dialect d.
func storeConfig(d *dialect, timeout time.Duration) sqlstore.Config {
	return sqlstore.Config{
		Prefix:     "orderdb",
		Dialect:    &d.Dialect,
		Migrations: func(q sqlstore.Querier) []schema.Migration { return migrations(d, q) },
		Timeout:    timeout,
	}
}

// now is the time the store writes: UTC, at the microseconds both
// dialects keep, so a value reads back equal whichever adapter wrote it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
