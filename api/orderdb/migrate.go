package orderdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopstream/shopstream/lifecycle"
)

// finalStatuses are the statuses in which an order may leave the database
// for the history store: lifecycle.Final (delivered, canceled, refunded).
var finalStatuses = func() []any {
	var out []any
	for _, s := range lifecycle.Statuses {
		if lifecycle.Final(s) {
			out = append(out, s)
		}
	}
	return out
}()

// finalIn is the SQL guard "status IN (<final statuses>)", to take
// finalStatuses as arguments.
var finalIn = "status IN (" + placeholders(len(finalStatuses)) + ")"

// oldFinal selects one final status's orders whose payment deadline and
// last transition are both not after a time. Asked once per status, it
// walks the index orders_by_status_expiry in its order, so a batch reads
// only the rows it returns however large the backlog is.
const oldFinal = " FROM orders WHERE status = ? AND expires_at <= ? AND updated_at <= ?"

// FinalOrders returns up to limit orders ready for the history store, whole
// (lines and timeline), oldest payment deadline first (ties by order id).
// An order is ready once it is final and both its expires_at and its
// updated_at are not after olderThan: no payment answer is still due for
// it once the migration age exceeds the payment role's latency.
func (s *sqlStore) FinalOrders(ctx context.Context, olderThan time.Time, limit int) ([]Order, error) {
	if limit <= 0 {
		return nil, invalidf("orderdb: final orders: limit %d is not positive", limit)
	}
	at := olderThan.UTC().Truncate(time.Microsecond)
	var out []Order
	err := s.read(ctx, func(q querier) error {
		out = nil
		for _, st := range finalStatuses {
			os, err := queryOrders(ctx, q, "SELECT "+orderColumns+oldFinal+" ORDER BY expires_at, order_id LIMIT ?", st, at, at, limit)
			if err != nil {
				return err
			}
			out = append(out, os...)
		}
		slices.SortFunc(out, func(a, b Order) int {
			if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
				return c
			}
			return strings.Compare(a.OrderID, b.OrderID)
		})
		out = out[:min(limit, len(out))]
		byID := make(map[string]*Order, len(out))
		for i := range out {
			byID[out[i].OrderID] = &out[i]
		}
		return fillOrders(ctx, q, byID, true)
	})
	if err != nil {
		return nil, fmt.Errorf("orderdb: read final orders older than %s: %w", at.Format(time.RFC3339Nano), err)
	}
	return out, nil
}

// FinalBacklog counts the orders FinalOrders would return without a limit.
func (s *sqlStore) FinalBacklog(ctx context.Context, olderThan time.Time) (int64, error) {
	at := olderThan.UTC().Truncate(time.Microsecond)
	var total int64
	for _, st := range finalStatuses {
		var n int64
		if err := s.DB().QueryRowContext(ctx, "SELECT COUNT(*)"+oldFinal, st, at, at).Scan(&n); err != nil {
			return 0, fmt.Errorf("orderdb: count %s orders older than %s: %w", st, at.Format(time.RFC3339Nano), err)
		}
		total += n
	}
	return total, nil
}

// DeleteOrders removes orders the history store now holds: each order row
// with its lines and timeline, in one transaction, and returns how many
// orders it removed. It removes an order only while the row is final and
// still at the Version given (under the row lock, and the DELETE repeats
// the final-status guard), so an order that changed since it was read
// (a late payment refunding a canceled order) stays to be written to
// history again. Orders already gone count zero: a retry is harmless.
// Stock is untouched: final orders hold none, except delivered ones,
// whose units stay committed (see the package comment) wherever the
// order lives.
func (s *sqlStore) DeleteOrders(ctx context.Context, orders []Order) (int, error) {
	if len(orders) == 0 {
		return 0, nil
	}
	version := make(map[string]int64, len(orders))
	ids := make([]string, 0, len(orders))
	for _, o := range orders {
		if _, ok := version[o.OrderID]; !ok {
			ids = append(ids, o.OrderID)
		}
		version[o.OrderID] = o.Version
	}
	slices.Sort(ids) // lock in key order, as every transaction does
	var deleted int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		deleted = 0
		var gone []string
		err := chunks(ids, idChunk, func(part []string) error {
			return each(ctx, tx, "SELECT order_id, version FROM orders WHERE order_id IN ("+placeholders(len(part))+") AND "+finalIn+s.d.forUpdate,
				append(anys(part), finalStatuses...), func(rows *sql.Rows) error {
					var id string
					var v int64
					if err := rows.Scan(&id, &v); err != nil {
						return err
					}
					if v == version[id] {
						gone = append(gone, id)
					}
					return nil
				})
		})
		if err != nil {
			return err
		}
		return chunks(gone, idChunk, func(part []string) error {
			in := " WHERE order_id IN (" + placeholders(len(part)) + ")"
			for _, table := range []string{"order_lines", "order_timeline"} {
				if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+in, anys(part)...); err != nil {
					return fmt.Errorf("delete from %s: %w", table, err)
				}
			}
			res, err := tx.ExecContext(ctx, "DELETE FROM orders"+in+" AND "+finalIn, append(anys(part), finalStatuses...)...)
			if err != nil {
				return fmt.Errorf("delete from orders: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil || n != int64(len(part)) {
				return fmt.Errorf("delete %d locked final orders removed %d (%v)", len(part), n, err)
			}
			deleted += len(part)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("orderdb: delete %d orders moved to history: %w", len(ids), err)
	}
	return deleted, nil
}

// RestoreOrders puts orders that moved to history back, whole (lines and
// timeline), when an outside event arrives for one after it moved: a
// payment that answers after the order was canceled and migrated must
// still refund it, through the same transition, outbox and exactly-once
// record as any other. It never touches stock (a final order holds none)
// and leaves an order already here as it is; it says how many it put back.
// The migrator moves a restored order again once it is old enough.
func (s *sqlStore) RestoreOrders(ctx context.Context, orders []Order) (int, error) {
	for _, o := range orders {
		if !lifecycle.Final(o.Status) || len(o.Timeline) == 0 || int64(len(o.Timeline)) != o.Version {
			return 0, invalidf("orderdb: restore order %s: only a whole final order comes back (status %s, version %d, %d transitions)", o.OrderID, o.Status, o.Version, len(o.Timeline))
		}
	}
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ids := make([]string, len(orders))
		for i, o := range orders {
			ids[i] = o.OrderID
		}
		here, err := loadOrders(ctx, tx, s.d, ids, false, true)
		if err != nil {
			return err
		}
		present := map[string]bool{}
		for _, o := range here {
			present[o.OrderID] = true
		}
		var rows orderRows
		n = 0
		for i := range orders {
			if present[orders[i].OrderID] {
				continue
			}
			present[orders[i].OrderID] = true
			n++
			rows.add(&orders[i])
		}
		return rows.insert(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("orderdb: restore %d orders from history: %w", len(orders), err)
	}
	return n, nil
}
