package orderdb

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
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
	// varchar declares a NOT NULL VARCHAR(n) column that refuses longer
	// values.
	varchar func(column string, n int) string
	// serial declares an auto-incrementing BIGINT primary key column whose
	// values are never reused.
	serial func(column string) string
	// blob is the column type of an encoded record.
	blob string
	// inlineIndexes: indexes are declared inside CREATE TABLE (MySQL has no
	// CREATE INDEX IF NOT EXISTS); otherwise by CREATE INDEX IF NOT EXISTS.
	inlineIndexes bool
	// columnExists counts the columns named by its second argument in the
	// table named by its first.
	columnExists string
	// indexExists counts the indexes named by its second argument on the
	// table named by its first.
	indexExists string
	// forUpdate locks the rows a SELECT reads until the transaction ends
	// ("" where the transaction already holds the database's write lock).
	forUpdate string
	// skipLocked is forUpdate, passing over rows another transaction holds.
	skipLocked string
	// upsertStock inserts (item_id, on_hand, version, updated_at) with
	// nothing committed, or sets on_hand, version and updated_at of the
	// existing row only when the given version is newer.
	upsertStock string
	// txOptions begin every writing transaction.
	txOptions *sql.TxOptions
	// retryable: the transaction lost a lock race (deadlock, lock wait
	// timeout, busy) and the same work may simply run again.
	retryable func(error) bool
	// duplicate: an insert hit an existing primary key.
	duplicate func(error) bool
	// checkoutWorkers is the default number of checkout batch workers.
	checkoutWorkers int
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

// index is a secondary index of a table: its name and its columns.
type index struct{ name, columns string }

// createTable is the DDL creating table name with columns (column and
// table constraints) and indexes, every statement safe to run again.
func (d *dialect) createTable(name string, columns []string, indexes ...index) []string {
	body := strings.Join(columns, ",\n\t")
	var after []string
	for _, ix := range indexes {
		if d.inlineIndexes {
			body += ",\n\tINDEX " + ix.name + " (" + ix.columns + ")"
		} else {
			after = append(after, "CREATE INDEX IF NOT EXISTS "+ix.name+" ON "+name+" ("+ix.columns+")")
		}
	}
	return append([]string{"CREATE TABLE IF NOT EXISTS " + name + " (\n\t" + body + "\n)" + d.tableOptions}, after...)
}

// insertVersion records m, at the time now gives.
func insertVersion(ctx context.Context, q sqlstore.Querier, m schema.Migration) error {
	_, err := q.ExecContext(ctx, sqlstore.InsertVersionSQL, m.Version, m.Name, now())
	return err
}

// sqlStore is the Store of both adapters: sqlstore's lifecycle, the
// dialect every query is spelled in, and the checkout batcher.
type sqlStore struct {
	*sqlstore.Store
	d *dialect
	b *batcher
}

// newSQLStore completes an open database with its checkout workers.
func newSQLStore(s *sqlstore.Store, d *dialect, o options) *sqlStore {
	st := &sqlStore{Store: s, d: d}
	workers := o.checkoutWorkers
	if workers == 0 {
		workers = d.checkoutWorkers
	}
	st.b = startBatcher(st, workers, o.maxBatch)
	return st
}

// Close fails the checkouts still waiting, lets the batches under way
// finish, then closes the database. A second Close is harmless.
func (s *sqlStore) Close() error {
	s.b.stop()
	return s.Store.Close()
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

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// txAttempts bounds how often a transaction that lost a lock race runs.
const txAttempts = 6

// inTx runs fn in a writing transaction and commits it, running it again
// (fn must be repeatable) when it lost a lock race.
func (s *sqlStore) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return retry(ctx, s.d.retryable, func() error { return s.tx(ctx, s.d.txOptions, fn) })
}

// tx runs fn in one transaction begun with opts and commits it.
func (s *sqlStore) tx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := s.DB().BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in a read-only transaction, so the queries it makes see
// one state of the database.
func (s *sqlStore) read(ctx context.Context, fn func(q querier) error) error {
	return s.tx(ctx, &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error { return fn(tx) })
}

// retry runs try up to txAttempts times while again says its error is
// worth another try, with a short random pause between tries.
func retry(ctx context.Context, again func(error) bool, try func() error) error {
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil || attempt == txAttempts || !again(err) || ctx.Err() != nil {
			return err
		}
		pause := time.Duration(attempt) * time.Millisecond
		select {
		case <-time.After(pause + rand.N(pause)):
		case <-ctx.Done():
			return err
		}
	}
}

// placeholders is "?, ?, ..., ?" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// maxParams bounds the values one statement carries: under SQLite's
// 32766 and small enough that a statement stays a few hundred KB.
const maxParams = 8000

// insertRows inserts rows of len(columns) values each, laid out one row
// after the other in vals, with as few multi-row INSERTs as maxParams
// allows.
func insertRows(ctx context.Context, q querier, table string, columns []string, vals []any) error {
	n := len(columns)
	head := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	row := "(" + placeholders(n) + ")"
	per := maxParams / n
	for len(vals) > 0 {
		rows := min(per, len(vals)/n)
		var b strings.Builder
		b.Grow(len(head) + rows*(len(row)+2))
		b.WriteString(head)
		for i := range rows {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
		}
		if _, err := q.ExecContext(ctx, b.String(), vals[:rows*n]...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		vals = vals[rows*n:]
	}
	return nil
}

// chunks calls fn with consecutive pieces of ids, size at most.
func chunks[T any](ids []T, size int, fn func(part []T) error) error {
	for len(ids) > 0 {
		n := min(size, len(ids))
		if err := fn(ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// anys converts ids to query arguments.
func anys[T any](ids []T) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
