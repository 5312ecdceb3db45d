package analytics

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shopstream/shopstream/topics"
)

// WriteEvents stores one batch: the raw events, then the trials rows the
// batch decides (resolve), after looking up what the store already knows of
// the batch's users. SQLite does it in one transaction. ClickHouse has
// none: a batch cut short is completed by writing it again, which the raw
// events (ReplacingMergeTree by event_id) and the trials (the highest
// version wins) absorb.
func (s *sqlStore) WriteEvents(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	b, err := newBatch(events)
	if err != nil {
		return err
	}
	defer b.cols.release()
	if s.native != nil {
		err = b.write(ctx, s.d, clickhouseWriter{db: s.DB(), conn: s.native})
	} else {
		err = inTx(ctx, s.DB(), func(tx *sql.Tx) error { return b.write(ctx, s.d, txWriter{tx}) })
	}
	if err != nil {
		return fmt.Errorf("analytics: write %d events to %s: %w", len(events), s.where, err)
	}
	return nil
}

// writer is where one batch goes.
type writer interface {
	// insert writes t through one prepared INSERT ... VALUES (?, ...).
	insert(ctx context.Context, query string, t table) error
	query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	// all runs steps that need not see each other's writes and joins
	// their errors.
	all(steps ...func() error) error
}

// txWriter writes in a SQLite transaction.
type txWriter struct{ tx *sql.Tx }

// sqliteRowsPerInsert is how many rows one SQLite INSERT carries: one
// statement per row spent most of a write in database/sql and the
// driver's per-call work.
const sqliteRowsPerInsert = 100

func (w txWriter) insert(ctx context.Context, query string, t table) error {
	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			stmt.Close()
		}
	}()
	// Rows in the order of the first column, the key (event_id), so that
	// SQLite's b-tree inserts walk its pages forward instead of at random.
	order := make([]int, t.n)
	for i := range order {
		order[i] = i
	}
	if key, ok := t.cols[0].([]string); ok {
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(key[a], key[b]) })
	}
	args := make([]any, 0, sqliteRowsPerInsert*len(t.cols))
	for from := 0; from < t.n; from += sqliteRowsPerInsert {
		k := min(sqliteRowsPerInsert, t.n-from)
		if stmt == nil || k < sqliteRowsPerInsert {
			if stmt != nil {
				stmt.Close()
			}
			var err error
			if stmt, err = w.tx.PrepareContext(ctx, multiRow(query, k)); err != nil {
				return err
			}
		}
		args = args[:0]
		for _, r := range order[from : from+k] {
			args = t.appendRow(args, r)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// multiRow is query, an INSERT ... VALUES (?, ...) of one row, made to
// insert k rows.
func multiRow(query string, k int) string {
	start := strings.Index(query, " VALUES (") + len(" VALUES ")
	end := start + strings.IndexByte(query[start:], ')') + 1
	group := query[start:end]
	return query[:start] + group + strings.Repeat(", "+group, k-1) + query[end:]
}

func (w txWriter) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return w.tx.QueryContext(ctx, query, args...)
}

// all runs the steps one after the other: a transaction is one connection.
func (w txWriter) all(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// clickhouseWriter inserts through clickhouse-go's native batch, a column
// at a time, and queries through the pool. The prepared statement of
// database/sql (the helper insert) converts and locks per value: 145k
// rows/s against the native batch's 244k, measured here on the events
// rows; appending whole columns instead of rows skips boxing each value
// and the batch's per-row type switch.
type clickhouseWriter struct {
	db   *sql.DB
	conn driver.Conn
}

func (w clickhouseWriter) insert(ctx context.Context, query string, t table) error {
	if t.n == 0 {
		return nil
	}
	b, err := w.conn.PrepareBatch(ctx, query)
	if err != nil {
		return err
	}
	for i, col := range t.cols {
		if err := b.Column(i).Append(col); err != nil {
			return errors.Join(fmt.Errorf("column %d: %w", i, err), b.Abort())
		}
	}
	return b.Send()
}

func (w clickhouseWriter) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return w.db.QueryContext(ctx, query, args...)
}

// all runs the steps at once, each on its own connection: the server
// works on them in parallel while the client waits.
func (w clickhouseWriter) all(steps ...func() error) error {
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() { errs[i] = step() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// table is rows to insert column by column, in the INSERT's column order:
// n values in each column, a []string, []int64, []uint8, []uint32 or
// []time.Time.
type table struct {
	n    int
	cols []any
}

// appendRow appends the r-th row's values to args.
func (t table) appendRow(args []any, r int) []any {
	for _, col := range t.cols {
		switch c := col.(type) {
		case []string:
			args = append(args, c[r])
		case []int64:
			args = append(args, c[r])
		case []uint8:
			args = append(args, c[r])
		case []uint32:
			args = append(args, c[r])
		case []time.Time:
			args = append(args, c[r])
		default:
			panic(fmt.Sprintf("analytics: table column of %T", col))
		}
	}
	return args
}

// eventCols are the columns of an events table, kept between batches
// (eventColumnsPool): a batch's run to megabytes, and allocating them
// afresh for each was a tenth of the sink's garbage.
type eventCols struct {
	ids, types, users, orders, currencies []string
	at                                    []time.Time
	amounts                               []int64
}

var eventColumnsPool = sync.Pool{New: func() any { return new(eventCols) }}

// resize makes each column n long.
func (c *eventCols) resize(n int) {
	for _, col := range []*[]string{&c.ids, &c.types, &c.users, &c.orders, &c.currencies} {
		*col = slices.Grow((*col)[:0], n)[:n]
	}
	c.at = slices.Grow(c.at[:0], n)[:n]
	c.amounts = slices.Grow(c.amounts[:0], n)[:n]
}

// release hands the columns back to the pool, cleared so that they keep
// no strings alive.
func (c *eventCols) release() {
	for _, col := range [][]string{c.ids, c.types, c.users, c.orders, c.currencies} {
		clear(col)
	}
	eventColumnsPool.Put(c)
}

// batch is one WriteEvents call, checked and in the store's form.
type batch struct {
	events table // the events rows (eventColumns)
	cols   *eventCols
	trials []trial
	// cancels are the batch's cancels by user; more join from the store.
	cancels map[string][]time.Time
	// The users to look up, with the window their rows can fall in.
	trialUsers, cancelUsers []string
	trialsFrom, trialsTo    time.Time // earliest start, latest end
	firstCancel             time.Time
}

func newBatch(events []Event) (*batch, error) {
	n := len(events)
	cols := eventColumnsPool.Get().(*eventCols)
	cols.resize(n)
	ids, types, users, orders, currencies, at, amounts := cols.ids, cols.types, cols.users, cols.orders, cols.currencies, cols.at, cols.amounts
	b := &batch{events: table{n: n, cols: []any{ids, types, users, orders, at, amounts, currencies}}, cols: cols, cancels: map[string][]time.Time{}}
	trialUsers, cancelUsers := map[string]bool{}, map[string]bool{}
	for i, e := range events {
		if err := e.Validate(); err != nil {
			cols.release()
			return nil, err
		}
		e = e.stored()
		ids[i], types[i], users[i], orders[i], at[i], amounts[i], currencies[i] = e.ID, e.Type, e.UserID, e.OrderID, e.OccurredAt, e.AmountCents, e.Currency
		switch e.Type {
		case topics.TypeMembershipTrialStarted:
			t := trialOf(e)
			b.trials = append(b.trials, t)
			trialUsers[t.userID] = true
			if b.trialsFrom.IsZero() || t.startedAt.Before(b.trialsFrom) {
				b.trialsFrom = t.startedAt
			}
			if t.endsAt.After(b.trialsTo) {
				b.trialsTo = t.endsAt
			}
		case topics.TypeMembershipCanceled:
			b.cancels[e.UserID] = append(b.cancels[e.UserID], e.OccurredAt)
			cancelUsers[e.UserID] = true
			if b.firstCancel.IsZero() || e.OccurredAt.Before(b.firstCancel) {
				b.firstCancel = e.OccurredAt
			}
		}
	}
	b.trialUsers, b.cancelUsers = slices.Collect(maps.Keys(trialUsers)), slices.Collect(maps.Keys(cancelUsers))
	return b, nil
}

// write stores b through w: the raw events, and the trials rows resolve
// decides from b and what the store knows of b's users. The lookups take
// b's own events from b, not from the store, so they need not see its
// insert: on ClickHouse the insert, and the two lookups, run at once.
func (b *batch) write(ctx context.Context, d *dialect, w writer) error {
	return w.all(
		func() error {
			if err := w.insert(ctx, d.insertEvent, b.events); err != nil {
				return fmt.Errorf("insert the events: %w", err)
			}
			return nil
		},
		func() error {
			var stored []trial
			var cancels map[string][]time.Time
			err := w.all(
				func() (err error) {
					if stored, err = b.storedTrials(ctx, d, w); err != nil {
						return fmt.Errorf("look up the trials of the users who canceled: %w", err)
					}
					return nil
				},
				func() (err error) {
					if cancels, err = b.storedCancels(ctx, d, w); err != nil {
						return fmt.Errorf("look up the cancels of the users who started a trial: %w", err)
					}
					return nil
				})
			if err != nil {
				return err
			}
			for user, at := range cancels {
				b.cancels[user] = append(b.cancels[user], at...)
			}
			resolved := resolve(b.trials, stored, b.cancels)
			if err := w.insert(ctx, d.insertTrial, trialTable(resolved)); err != nil {
				return fmt.Errorf("insert %d trials: %w", len(resolved), err)
			}
			return nil
		})
}

// storedTrials are the trials of the users who canceled in b that end
// after b's first cancel: the ones those cancels can fall in.
func (b *batch) storedTrials(ctx context.Context, d *dialect, w writer) ([]trial, error) {
	var out []trial
	// No FINAL on ClickHouse: resolve takes the most knowing row of each.
	query := "SELECT " + trialFields + " FROM trials WHERE ends_at > ? AND user_id " + d.inUsers
	err := lookup(ctx, w, d, query, b.cancelUsers, []any{b.firstCancel}, func(rows *sql.Rows) error {
		var t trial
		var over int64
		if err := rows.Scan(&t.eventID, &t.userID, &t.week, &over, &t.startedAt, &t.endsAt, &t.spendCents, &t.currency, &t.canceledAt); err != nil {
			return err
		}
		t.over = over != 0
		t.week, t.startedAt, t.endsAt, t.canceledAt = t.week.UTC(), t.startedAt.UTC(), t.endsAt.UTC(), t.canceledAt.UTC()
		if t.canceledAt.Equal(noCancel) {
			t.canceledAt = time.Time{}
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// storedCancels are the stored cancels of the users who started a trial
// in b, within the span of those trials, by user: the cancels that came
// before their trial.
func (b *batch) storedCancels(ctx context.Context, d *dialect, w writer) (map[string][]time.Time, error) {
	out := map[string][]time.Time{}
	err := lookup(ctx, w, d, d.cancelsOf, b.trialUsers, []any{b.trialsFrom, b.trialsTo}, func(rows *sql.Rows) error {
		var user string
		var at time.Time
		if err := rows.Scan(&user, &at); err != nil {
			return err
		}
		out[user] = append(out[user], at.UTC())
		return nil
	})
	return out, err
}

// lookup runs query for users, with args before the list, handing each
// row to scan.
func lookup(ctx context.Context, w writer, d *dialect, query string, users []string, args []any, scan func(*sql.Rows) error) error {
	if len(users) == 0 {
		return nil
	}
	ctx, list, err := d.users(ctx, users)
	if err != nil {
		return err
	}
	rows, err := w.query(ctx, query, append(args, list...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
