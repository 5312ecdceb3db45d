package analytics

import (
	"context"
	"encoding/json"
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
	}, {
		// As on ClickHouse; one row per trial, which the upsert moves to a
		// higher version only.
		`CREATE TABLE IF NOT EXISTS trials (
			event_id TEXT NOT NULL PRIMARY KEY,
			user_id TEXT NOT NULL,
			week DATETIME NOT NULL,
			over_100 INTEGER NOT NULL,
			started_at DATETIME NOT NULL,
			ends_at DATETIME NOT NULL,
			spend_cents INTEGER NOT NULL,
			currency TEXT NOT NULL,
			canceled_at DATETIME NOT NULL,
			version INTEGER NOT NULL
		)`,
		// The sink's lookup by user; the cohort query, covered.
		`CREATE INDEX IF NOT EXISTS trials_user_id_ends_at ON trials (user_id, ends_at)`,
		`CREATE INDEX IF NOT EXISTS trials_cohort ON trials (week, over_100, ends_at, version)`,
		// The cancels by user, for the trial that arrives after its cancel.
		`CREATE INDEX IF NOT EXISTS events_cancels ON events (user_id, occurred_at) WHERE type = 'membership.canceled'`,
	}},
	insertEvent: "INSERT OR IGNORE INTO events (" + eventColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)",
	insertTrial: "INSERT INTO trials (" + trialColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" +
		" ON CONFLICT (event_id) DO UPDATE SET canceled_at = excluded.canceled_at, version = excluded.version" +
		" WHERE excluded.version > trials.version",
	// One JSON array argument, whatever the number of ids.
	inUsers: "IN (SELECT value FROM json_each(?))",
	users: func(ctx context.Context, ids []string) (context.Context, []any, error) {
		b, err := json.Marshal(ids)
		return ctx, []any{string(b)}, err
	},
	cancelsOf: "SELECT user_id, occurred_at FROM events WHERE type = 'membership.canceled'" +
		" AND occurred_at >= ? AND occurred_at < ? AND user_id IN (SELECT value FROM json_each(?))",
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
	return &sqlStore{Store: s, d: sqliteDialect, where: "sqlite file " + f.Path}, nil
}
