package orderdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shopstream/shopstream/internal/sqlstore"
)

var mysqlDialect = newDialect(dialect{
	Dialect: sqlstore.Dialect{
		TableExists: "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
		// MySQL commits each DDL statement on its own: the lock keeps two
		// migrating processes apart instead of a transaction.
		Lock: mysqlMigrationLock,
	},
	timestamp: "DATETIME(6)",
	// utf8mb4_bin compares ids byte by byte, as SQLite does; the server's
	// default *_ci collation would make "Item-1" and "item-1" one key.
	tableOptions: " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	key: func(column string, n int) string {
		return fmt.Sprintf("%s VARCHAR(%d) NOT NULL PRIMARY KEY", column, n)
	},
	varchar:       func(column string, n int) string { return fmt.Sprintf("%s VARCHAR(%d) NOT NULL", column, n) },
	serial:        func(column string) string { return column + " BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY" },
	blob:          "LONGBLOB",
	inlineIndexes: true,
	columnExists:  "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
	indexExists:   "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?",
	forUpdate:     " FOR UPDATE",
	skipLocked:    " FOR UPDATE SKIP LOCKED",
	// Assignments run left to right, each seeing the ones before: version
	// goes last so the comparisons see the old one.
	upsertStock: `INSERT INTO stock (item_id, on_hand, committed, version, updated_at) VALUES (?, ?, 0, ?, ?)
		ON DUPLICATE KEY UPDATE
		on_hand = IF(VALUES(version) > version, VALUES(on_hand), on_hand),
		updated_at = IF(VALUES(version) > version, VALUES(updated_at), updated_at),
		version = GREATEST(version, VALUES(version))`,
	// Read committed: every lock the store relies on is an explicit row
	// lock (FOR UPDATE, a conditional UPDATE); repeatable read would add
	// gap locks that only make checkouts and sweepers wait on each other.
	txOptions:       &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	retryable:       mysqlRetryable,
	duplicate:       func(err error) bool { return mysqlErrorIs(err, 1062) }, // ER_DUP_ENTRY
	checkoutWorkers: 4,
})

// mysqlRetryable: a deadlock (ER_LOCK_DEADLOCK) or a lock wait timeout
// (ER_LOCK_WAIT_TIMEOUT), after which the transaction may run again.
func mysqlRetryable(err error) bool { return mysqlErrorIs(err, 1213, 1205) }

func mysqlErrorIs(err error, numbers ...uint16) bool {
	var e *mysql.MySQLError
	if !errors.As(err, &e) {
		return false
	}
	for _, n := range numbers {
		if e.Number == n {
			return true
		}
	}
	return false
}

// migrationLockWait is how long Migrate waits for another process that is
// migrating the same database.
const migrationLockWait = 30 * time.Second

// openMySQL connects with a go-sql-driver/mysql DSN.
func openMySQL(ctx context.Context, dsn string, o options) (*sqlStore, error) {
	// ParseDSN errors never quote the password; the DSN itself is not printed.
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("orderdb: mysql DSN (stores.orders.dsn) is invalid: %w", err)
	}
	where := "mysql at " + mc.Addr
	if mc.DBName == "" {
		return nil, fmt.Errorf("orderdb: %s: the DSN names no database (user:password@tcp(host:port)/database)", where)
	}
	mc.ParseTime = true
	// Arguments go into the statement text on the client: one round trip
	// per statement instead of prepare, execute and close.
	mc.InterpolateParams = true
	// DATETIME has no zone: the store writes UTC and reads it back as UTC.
	mc.Loc = time.UTC
	if mc.Timeout == 0 || mc.Timeout > o.timeout {
		mc.Timeout = o.timeout // a dial never outlasts the store's bound
	}
	if _, ok := mc.Params["sql_mode"]; !ok {
		if mc.Params == nil {
			mc.Params = map[string]string{}
		}
		// Strict: a too-long id or an out-of-range number is an error, not
		// a silent truncation, whatever the server's default.
		mc.Params["sql_mode"] = "'TRADITIONAL'"
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("orderdb: %s: %w", where, err)
	}
	db := sql.OpenDB(conn)
	// Recycle connections before a server's wait_timeout or a proxy drops
	// them under the pool.
	db.SetConnMaxLifetime(3 * time.Minute)
	db.SetMaxIdleConns(10)
	name := fmt.Sprintf("orderdb database %s (%s)", mc.DBName, where)
	s := newSQLStore(sqlstore.New(db, where, name, storeConfig(mysqlDialect, o.timeout)), mysqlDialect, o)
	if err := s.Health(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// mysqlMigrationLock takes a named lock for this database, so two
// processes starting together migrate one after the other.
func mysqlMigrationLock(ctx context.Context, db *sql.DB) (func(), error) {
	l, err := mysqlLock(ctx, db, "orderdb", migrationLockWait)
	if errors.Is(err, ErrLeaseTaken) {
		return nil, errors.New("another process held the migration lock for " + migrationLockWait.String())
	}
	if err != nil {
		return nil, fmt.Errorf("take the migration lock: %w", err)
	}
	return l.Release, nil
}

// mysqlLease is a named lock (GET_LOCK) held by one pooled session.
type mysqlLease struct {
	conn *sql.Conn
	name string // an SQL expression: lock names are server-wide
}

// mysqlLock takes the lock shopstream.<purpose>:<database>, waiting up to
// wait; ErrLeaseTaken when another session holds it all that time.
func mysqlLock(ctx context.Context, db *sql.DB, purpose string, wait time.Duration) (*mysqlLease, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// Lock names are server-wide and at most 64 characters.
	l := &mysqlLease{conn: conn, name: "LEFT(CONCAT('shopstream." + purpose + ":', DATABASE()), 64)"}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+l.name+", ?)", int(wait.Seconds())).Scan(&got); err != nil {
		conn.Close()
		return nil, err
	}
	if got.Int64 != 1 {
		conn.Close()
		return nil, ErrLeaseTaken
	}
	return l, nil
}

// Held fails once the session holding the lock is gone (the server
// released the lock with it).
func (l *mysqlLease) Held(ctx context.Context) error {
	var mine sql.NullBool
	if err := l.conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK("+l.name+") = CONNECTION_ID()").Scan(&mine); err != nil {
		return fmt.Errorf("orderdb: check the lease: %w", err)
	}
	if !mine.Bool {
		return errors.New("orderdb: the lease was lost")
	}
	return nil
}

// Release gives the lock back and returns the session to the pool.
func (l *mysqlLease) Release() {
	// Bounded in case the server is gone.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.conn.ExecContext(ctx, "DO RELEASE_LOCK("+l.name+")"); err != nil {
		// Drop the session rather than pool it with the lock held.
		l.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	l.conn.Close()
}
