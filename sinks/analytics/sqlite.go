package analytics

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/shopstream/shopstream/internal/sqlstore"
)

var sqliteDialect = &dialect{
	Dialect: sqlstore.Dialect{
		TransactionalDDL: true,
		TableExists:      sqlstore.SQLiteTableExists,
		VersionTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER NOT NULL PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at DATETIME NOT NULL
	)`,
		InsertVersion: insertVersion,
	},
	ddl: [][]string{{
		// Times are text "2006-01-02 15:04:05" in UTC (see the DSN): the
		// second precision of ClickHouse's DateTime, read by SQLite's date
		// functions. Empty strings, not NULL, for absent ids, as ClickHouse.
		`CREATE TABLE IF NOT EXISTS events (
			event_id TEXT NOT NULL PRIMARY KEY,
			type TEXT NOT NULL,
			user_id TEXT NOT NULL DEFAULT '',
			order_id TEXT NOT NULL DEFAULT '',
			occurred_at DATETIME NOT NULL,
			amount_cents INTEGER NOT NULL DEFAULT 0,
			currency TEXT NOT NULL DEFAULT ''
		)`,
		// Cohorts select by type and time, then group by user.
		`CREATE INDEX IF NOT EXISTS events_type_occurred_at ON events (type, occurred_at)`,
	}},
	insertEvent: "INSERT OR IGNORE INTO events (" + eventColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)",
}

// sqliteParams: WAL lets the dashboard read while the sink writes;
// busy_timeout waits for the write lock instead of failing at once;
// immediate transactions take it at BEGIN, so writers never deadlock;
// synchronous=NORMAL is safe in WAL and the store is rebuilt by replay
// anyway; times are written in UTC to the second.
const sqliteParams = "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
	"&_txlock=immediate&_time_format=datetime&_timezone=UTC"

// openSQLite opens (creating it if needed) dataDir/analytics.db.
func openSQLite(ctx context.Context, dataDir string, o options) (*sqlStore, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("analytics: sqlite needs a data_dir for analytics.db")
	}
	// A few connections: WAL readers (cohort queries) run beside the one
	// writer.
	f := sqlstore.SQLite{Path: filepath.Join(dataDir, "analytics.db"), Params: sqliteParams, MaxOpenConns: 4}
	s, err := sqlstore.OpenSQLite(ctx, f, storeConfig(sqliteDialect, o.timeout))
	if err != nil {
		return nil, err
	}
	return &sqlStore{s, sqliteDialect}, nil
}
