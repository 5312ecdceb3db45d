package orderdb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shopstream/shopstream/internal/sqlstore"
)

var sqliteDialect = newDialect(dialect{
	Dialect: sqlstore.Dialect{
		TransactionalDDL: true,
		TableExists:      sqlstore.SQLiteTableExists,
	},
	// Stored as text "2006-01-02 15:04:05.999999-07:00" (see the DSN), which
	// sorts in time order and SQLite's date functions read.
	timestamp: "DATETIME",
	key: func(column string, n int) string {
		// SQLite ignores VARCHAR lengths; refuse what MySQL would refuse.
		return fmt.Sprintf("%[1]s VARCHAR(%[2]d) NOT NULL PRIMARY KEY CHECK (length(%[1]s) <= %[2]d)", column, n)
	},
	varchar: func(column string, n int) string {
		return fmt.Sprintf("%[1]s VARCHAR(%[2]d) NOT NULL CHECK (length(%[1]s) <= %[2]d)", column, n)
	},
	// AUTOINCREMENT: a deleted (published) seq is never handed out again.
	serial:       func(column string) string { return column + " INTEGER PRIMARY KEY AUTOINCREMENT" },
	blob:         "BLOB",
	columnExists: "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?",
	indexExists:  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name = ?",
	// Every writing transaction is immediate (see sqliteParams): it holds
	// the database's one write lock from BEGIN, so reads in it are locked.
	forUpdate:  "",
	skipLocked: "",
	upsertStock: `INSERT INTO stock (item_id, on_hand, committed, version, updated_at) VALUES (?, ?, 0, ?, ?)
		ON CONFLICT (item_id) DO UPDATE SET on_hand = excluded.on_hand, version = excluded.version, updated_at = excluded.updated_at
		WHERE excluded.version > stock.version`,
	retryable:       sqliteRetryable,
	duplicate:       sqliteDuplicate,
	checkoutWorkers: 1, // one connection: more workers would only queue for it
})

// sqliteRetryable: the database stayed locked by another process past
// busy_timeout.
func sqliteRetryable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	code := e.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

func sqliteDuplicate(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE)
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
	// One connection: SQLite has one writer anyway, and every statement
	// then sees the pragmas and the transactions of the one before.
	f := sqlstore.SQLite{Path: path, Params: sqliteParams, MaxOpenConns: 1}
	s, err := sqlstore.OpenSQLite(ctx, f, storeConfig(sqliteDialect, o.timeout))
	if err != nil {
		return nil, err
	}
	return newSQLStore(s, sqliteDialect, o), nil
}
