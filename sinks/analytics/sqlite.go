package analytics

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var sqliteDialect = &dialect{
	transactionalDDL: true,
	tableExists:      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
	versionTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER NOT NULL PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at DATETIME NOT NULL
	)`,
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
	path := filepath.Join(dataDir, "analytics.db")
	where := "sqlite file " + path
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("analytics: %s: a path containing '?' is not supported", where)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("analytics: %s: cannot create its directory: %w", where, err)
	}
	// SQLite falls back to read-only on a file it cannot write, and reports
	// a missing directory vaguely; the OS says plainly what is wrong.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("analytics: %s cannot be opened for writing: %w", where, err)
	}
	f.Close()

	db, err := sql.Open("sqlite", path+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("analytics: %s: %w", where, err)
	}
	// A few connections: WAL readers (cohort queries) run beside the one
	// writer.
	db.SetMaxOpenConns(4)
	s := newStore(db, sqliteDialect, where, "analytics "+where, o.timeout)
	if err := s.roundTrip(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("analytics: %s cannot be opened: %w", where, err)
	}
	return s, nil
}
