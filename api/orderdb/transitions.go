package orderdb

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// itemUnits is a number of units of one item.
type itemUnits struct {
	item  string
	units int64
}

// unitsByItem sums units per item, in item order: the order every
// transaction locks stock rows in, so two of them never deadlock.
func unitsByItem(sum map[string]int64) []itemUnits {
	out := make([]itemUnits, 0, len(sum))
	for item, n := range sum {
		out = append(out, itemUnits{item, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].item < out[j].item })
	return out
}

// changeCommitted adds units to committed (take) or returns them, one
// UPDATE per chunk of items. Taking keeps the guard on_hand - committed >=
// units per row, so whatever a caller got wrong, stock is never oversold:
// a row the guard refuses fails the whole change.
func changeCommitted(ctx context.Context, q querier, us []itemUnits, take bool) error {
	return chunks(us, maxParams/5, func(part []itemUnits) error {
		var cases strings.Builder
		cases.WriteString("CASE item_id")
		caseArgs := make([]any, 0, 2*len(part))
		ids := make([]any, len(part))
		for i, u := range part {
			cases.WriteString(" WHEN ? THEN ?")
			caseArgs = append(caseArgs, u.item, u.units)
			ids[i] = u.item
		}
		cases.WriteString(" END")
		sign := "-"
		if take {
			sign = "+"
		}
		query := "UPDATE stock SET committed = committed " + sign + " " + cases.String() +
			" WHERE item_id IN (" + placeholders(len(part)) + ")"
		args := append(caseArgs, ids...)
		if take {
			query += " AND on_hand - committed >= " + cases.String()
			args = append(args, caseArgs...)
		}
		res, err := q.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("update committed stock: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(len(part)) {
			return fmt.Errorf("update committed stock of %d items changed %d rows (%v): a stock row is missing or short", len(part), n, err)
		}
		return nil
	})
}

// checkID refuses an empty id or one longer than its column.
func checkID(what, id string, max int) error {
	if id == "" || len(id) > max {
		return invalidf("orderdb: %s %q must be 1 to %d bytes", what, id, max)
	}
	return nil
}

func (s *sqlStore) Cancel(ctx context.Context, orderID string) (Applied, error) {
	if err := checkID("order id", orderID, 64); err != nil {
		return Applied{}, err
	}
	var out Applied
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		os, err := loadOrders(ctx, tx, s.d, []string{orderID}, true, true)
		if err != nil {
			return err
		}
		if len(os) == 0 {
			return ErrOrderNotFound
		}
		out = Applied{Order: os[0]}
		if out.Effect, err = lifecycle.Next(out.Order.Status, lifecycle.Cancel); err != nil || !out.Effect.Changed {
			return err
		}
		return applyChanges(ctx, tx, []change{{o: &out.Order, e: out.Effect}})
	})
	if err != nil {
		return Applied{}, fmt.Errorf("orderdb: cancel order %s: %w", orderID, err)
	}
	return out, nil
}

// ExpireDue takes the due orders with SKIP LOCKED on MySQL, so sweepers in
// several processes share them out instead of waiting on each other; on
// SQLite the transaction holds the write lock.
func (s *sqlStore) ExpireDue(ctx context.Context, due time.Time, limit int) ([]Applied, error) {
	if limit <= 0 {
		return nil, invalidf("orderdb: expire due orders: limit %d is not positive", limit)
	}
	due = due.UTC().Truncate(time.Microsecond)
	var out []Applied
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = nil
		var ids []string
		err := each(ctx, tx, "SELECT order_id FROM orders WHERE status = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?"+s.d.skipLocked,
			[]any{lifecycle.Created, due, limit}, func(rows *sql.Rows) error {
				var id string
				err := rows.Scan(&id)
				ids = append(ids, id)
				return err
			})
		if err != nil || len(ids) == 0 {
			return err
		}
		os, err := loadOrders(ctx, tx, s.d, ids, true, false)
		if err != nil {
			return err
		}
		var cs []change
		for i := range os {
			e, err := lifecycle.Next(os[i].Status, lifecycle.Expire)
			if err != nil {
				return err
			}
			if e.Changed {
				out = append(out, Applied{Order: os[i], Effect: e})
			}
		}
		for i := range out {
			cs = append(cs, change{o: &out[i].Order, e: out[i].Effect})
		}
		return applyChanges(ctx, tx, cs)
	})
	if err != nil {
		return nil, fmt.Errorf("orderdb: expire orders due by %s: %w", due.Format(time.RFC3339Nano), err)
	}
	return out, nil
}

// change is a transition lifecycle.Next decided for an order.
type change struct {
	o         *Order
	e         lifecycle.Effect
	paymentID string
}

// applyChanges writes changes (each Changed) in the transaction q: the
// order rows, their timelines, the restocks and the order events; and
// updates the orders in memory to match.
func applyChanges(ctx context.Context, q querier, cs []change) error {
	if len(cs) == 0 {
		return nil
	}
	at := now()
	// One UPDATE per (status, payment id): a sweep is one statement.
	type group struct {
		status    lifecycle.Status
		paymentID string
	}
	groups := map[group][]string{}
	restock := map[string]int64{}
	timeline := make([]any, 0, 5*len(cs))
	events := make([]outboxRow, 0, len(cs))
	for _, c := range cs {
		o := c.o
		g := group{c.e.Next, c.paymentID}
		groups[g] = append(groups[g], o.OrderID)
		o.Status, o.UpdatedAt = c.e.Next, at
		o.Version++
		if c.paymentID != "" {
			o.PaymentID = c.paymentID
		}
		o.Timeline = append(o.Timeline, Transition{Status: c.e.Next, At: at, Reason: c.e.Reason})
		timeline = append(timeline, o.OrderID, o.Version, c.e.Next, c.e.Reason, at)
		if c.e.Restock {
			for _, l := range o.Lines {
				restock[l.ItemID] += l.Quantity
			}
		}
		data := topics.OrderTransition{OrderID: o.OrderID, UserID: o.UserID, Reason: c.e.Reason, Restocked: c.e.Restock}
		if c.e.Refund {
			data.AmountCents, data.Currency = o.TotalCents, o.Currency
		}
		ev, err := newOutboxRow(topics.OrderEvents, c.e.Event, o.OrderID, data, at)
		if err != nil {
			return err
		}
		events = append(events, ev)
	}
	for g, ids := range groups {
		query := "UPDATE orders SET status = ?, version = version + 1, updated_at = ?"
		args := []any{g.status, at}
		if g.paymentID != "" {
			query += ", payment_id = ?"
			args = append(args, g.paymentID)
		}
		err := chunks(ids, idChunk, func(part []string) error {
			res, err := q.ExecContext(ctx, query+" WHERE order_id IN ("+placeholders(len(part))+")", append(args, anys(part)...)...)
			if err != nil {
				return fmt.Errorf("update orders: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n != int64(len(part)) {
				return fmt.Errorf("update %d orders changed %d (%v)", len(part), n, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := insertRows(ctx, q, "order_timeline", timelineColumns, timeline); err != nil {
		return err
	}
	if err := changeCommitted(ctx, q, unitsByItem(restock), false); err != nil {
		return err
	}
	return writeOutbox(ctx, q, events)
}

var timelineColumns = []string{"order_id", "seq", "status", "reason", "at"}
