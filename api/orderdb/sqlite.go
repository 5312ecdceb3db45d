package orderdb

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
	// Stored as text "2006-01-02 15:04:05.999999-07:00" (see the DSN), which
	// sorts in time order and SQLite's date functions read.
	timestamp:        "DATETIME",
	transactionalDDL: true,
	tableExists:      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
	key: func(column string, n int) string {
		// SQLite ignores VARCHAR lengths; refuse what MySQL would refuse.
		return fmt.Sprintf("%[1]s VARCHAR(%[2]d) NOT NULL PRIMARY KEY CHECK (length(%[1]s) <= %[2]d)", column, n)
	},
}

// sqliteParams: WAL lets readers run beside the writer; busy_timeout waits
// for a lock instead of failing at once; immediate transactions take the
// write lock at BEGIN, so two writers never deadlock upgrading a read lock;
// times are written in UTC in a format SQLite's date functions read.
const sqliteParams = "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
	"&_txlock=immediate&_time_format=sqlite&_timezone=UTC"

// openSQLite opens (creating it if needed) the database file path, or
// dataDir/orders.db when path is empty.
func openSQLite(ctx context.Context, path, dataDir string, o options) (*sqlStore, error) {
	if path == "" {
		if dataDir == "" {
			return nil, fmt.Errorf("orderdb: sqlite needs a file: set stores.orders.dsn or data_dir")
		}
		path = filepath.Join(dataDir, "orders.db")
	}
	where := "sqlite file " + path
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("orderdb: %s: a path containing '?' is not supported", where)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("orderdb: %s: cannot create its directory: %w", where, err)
	}
	// SQLite falls back to read-only on a file it cannot write, and reports
	// a missing directory vaguely; the OS says plainly what is wrong.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("orderdb: %s cannot be opened for writing: %w", where, err)
	}
	f.Close()

	db, err := sql.Open("sqlite", path+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("orderdb: %s: %w", where, err)
	}
	// One connection: SQLite has one writer anyway, and every statement
	// then sees the pragmas and the transactions of the one before.
	db.SetMaxOpenConns(1)
	s := newStore(db, sqliteDialect, where, "orderdb "+where, o.timeout)
	if err := s.roundTrip(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("orderdb: %s cannot be opened: %w", where, err)
	}
	return s, nil
}
