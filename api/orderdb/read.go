package orderdb

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// orderColumns are what scanOrder reads, in its order.
const orderColumns = "order_id, user_id, status, total_cents, currency, prime_trial, payment_id, created_at, updated_at, expires_at, version"

func scanOrder(rows *sql.Rows) (Order, error) {
	var o Order
	err := rows.Scan(&o.OrderID, &o.UserID, &o.Status, &o.TotalCents, &o.Currency, &o.PrimeTrial, &o.PaymentID,
		&o.CreatedAt, &o.UpdatedAt, &o.ExpiresAt, &o.Version)
	o.CreatedAt, o.UpdatedAt, o.ExpiresAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC(), o.ExpiresAt.UTC()
	return o, err
}

// queryOrders runs a SELECT of orderColumns and returns its rows in order.
func queryOrders(ctx context.Context, q querier, query string, args ...any) ([]Order, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// idChunk bounds the ids of one IN list.
const idChunk = 500

// loadOrders reads the orders ids names that exist, in the order of ids,
// with their lines and, if timeline, their timelines. lock holds the
// order rows (FOR UPDATE) until the transaction q ends.
func loadOrders(ctx context.Context, q querier, d *dialect, ids []string, timeline, lock bool) ([]Order, error) {
	byID := make(map[string]*Order, len(ids))
	found := make([]Order, 0, len(ids))
	err := chunks(ids, idChunk, func(part []string) error {
		suffix := ""
		if lock {
			suffix = d.forUpdate
		}
		os, err := queryOrders(ctx, q, "SELECT "+orderColumns+" FROM orders WHERE order_id IN ("+placeholders(len(part))+")"+suffix, anys(part)...)
		found = append(found, os...)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range found {
		byID[found[i].OrderID] = &found[i]
	}
	if err := fillOrders(ctx, q, byID, timeline); err != nil {
		return nil, err
	}
	out := make([]Order, 0, len(found))
	for _, id := range ids {
		if o, ok := byID[id]; ok {
			out = append(out, *o)
			delete(byID, id) // an id asked twice gives the order once
		}
	}
	return out, nil
}

// fillOrders reads the lines (in item order) and, if timeline, the
// timelines of the orders in byID.
func fillOrders(ctx context.Context, q querier, byID map[string]*Order, timeline bool) error {
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return chunks(ids, idChunk, func(part []string) error {
		in := " WHERE order_id IN (" + placeholders(len(part)) + ")"
		err := each(ctx, q, "SELECT order_id, item_id, quantity, price_cents FROM order_lines"+in+" ORDER BY order_id, item_id", anys(part),
			func(rows *sql.Rows) error {
				var id string
				var l Line
				if err := rows.Scan(&id, &l.ItemID, &l.Quantity, &l.PriceCents); err != nil {
					return err
				}
				byID[id].Lines = append(byID[id].Lines, l)
				return nil
			})
		if err != nil || !timeline {
			return err
		}
		return each(ctx, q, "SELECT order_id, status, reason, at FROM order_timeline"+in+" ORDER BY order_id, seq", anys(part),
			func(rows *sql.Rows) error {
				var id string
				var t Transition
				if err := rows.Scan(&id, &t.Status, &t.Reason, &t.At); err != nil {
					return err
				}
				t.At = t.At.UTC()
				byID[id].Timeline = append(byID[id].Timeline, t)
				return nil
			})
	})
}

// each runs query and calls fn on every row.
func each(ctx context.Context, q querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s *sqlStore) Order(ctx context.Context, orderID string) (Order, error) {
	var os []Order
	err := s.read(ctx, func(q querier) (err error) {
		os, err = loadOrders(ctx, q, s.d, []string{orderID}, true, false)
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("orderdb: read order %s: %w", orderID, err)
	}
	if len(os) == 0 {
		return Order{}, fmt.Errorf("orderdb: order %s: %w", orderID, ErrOrderNotFound)
	}
	return os[0], nil
}

// A page cursor is the (created_at, order_id) of the last order shown:
// the next page starts strictly after it in (created_at desc, order_id
// desc), so orders taken meanwhile (newer) never shift the pages.
// EncodeCursor and DecodeCursor are exported for the orders view that
// pages this store and history as one (api).
func EncodeCursor(createdAt time.Time, orderID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(createdAt.UnixMicro(), 10) + "|" + orderID))
}

func encodeCursor(o Order) string { return EncodeCursor(o.CreatedAt, o.OrderID) }

// DecodeCursor reads a cursor EncodeCursor wrote; any other is ErrInvalid.
func DecodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		micros, id, ok := strings.Cut(string(b), "|")
		if us, perr := strconv.ParseInt(micros, 10, 64); ok && perr == nil && id != "" {
			return time.UnixMicro(us).UTC(), id, nil
		}
	}
	return time.Time{}, "", invalidf("orderdb: page cursor %q is not one this store gave", c)
}

// MaxPage bounds a page of UserOrders; a larger limit gets MaxPage.
const MaxPage = 1000

func (s *sqlStore) UserOrders(ctx context.Context, userID, cursor string, limit int) ([]Order, string, error) {
	if limit <= 0 {
		return nil, "", invalidf("orderdb: orders of user %s: page size %d is not positive", userID, limit)
	}
	limit = min(limit, MaxPage)
	query := "SELECT " + orderColumns + " FROM orders WHERE user_id = ?"
	args := []any{userID}
	if cursor != "" {
		at, id, err := DecodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		query += " AND (created_at < ? OR (created_at = ? AND order_id < ?))"
		args = append(args, at, at, id)
	}
	query += " ORDER BY created_at DESC, order_id DESC LIMIT ?"
	args = append(args, limit+1)
	var page []Order
	err := s.read(ctx, func(q querier) error {
		os, err := queryOrders(ctx, q, query, args...)
		if err != nil {
			return err
		}
		page = os
		byID := make(map[string]*Order, len(page))
		for i := range page {
			byID[page[i].OrderID] = &page[i]
		}
		return fillOrders(ctx, q, byID, true)
	})
	if err != nil {
		return nil, "", fmt.Errorf("orderdb: orders of user %s: %w", userID, err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = encodeCursor(page[limit-1])
	}
	return page, next, nil
}

func (s *sqlStore) Stock(ctx context.Context, itemID string) (StockRow, bool, error) {
	var r StockRow
	err := s.DB().QueryRowContext(ctx, "SELECT item_id, on_hand, committed, version FROM stock WHERE item_id = ?", itemID).
		Scan(&r.ItemID, &r.OnHand, &r.Committed, &r.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return StockRow{}, false, nil
	}
	if err != nil {
		return StockRow{}, false, fmt.Errorf("orderdb: read stock of %s: %w", itemID, err)
	}
	return r, true, nil
}

// pageSize is how many rows EachStock and EachOrder read at a time.
const pageSize = 500

// EachStock reads a page at a time in item order and calls fn between
// reads, so fn may use the store (SQLite has one connection). It is not a
// snapshot: a row changed meanwhile shows as it was when its page was read.
func (s *sqlStore) EachStock(ctx context.Context, fn func(StockRow) error) error {
	return eachPage(func(after string) ([]StockRow, error) {
		var page []StockRow
		err := each(ctx, s.DB(), "SELECT item_id, on_hand, committed, version FROM stock WHERE item_id > ? ORDER BY item_id LIMIT ?",
			[]any{after, pageSize}, func(rows *sql.Rows) error {
				var r StockRow
				err := rows.Scan(&r.ItemID, &r.OnHand, &r.Committed, &r.Version)
				page = append(page, r)
				return err
			})
		if err != nil {
			return nil, fmt.Errorf("orderdb: read stock after %q: %w", after, err)
		}
		return page, nil
	}, func(r StockRow) string { return r.ItemID }, fn)
}

// EachOrder visits every order with its lines, without its timeline, in
// order id order, a page at a time as EachStock does.
func (s *sqlStore) EachOrder(ctx context.Context, fn func(Order) error) error {
	return eachPage(func(after string) ([]Order, error) {
		var page []Order
		err := s.read(ctx, func(q querier) error {
			os, err := queryOrders(ctx, q, "SELECT "+orderColumns+" FROM orders WHERE order_id > ? ORDER BY order_id LIMIT ?", after, pageSize)
			if err != nil {
				return err
			}
			page = os
			byID := make(map[string]*Order, len(page))
			for i := range page {
				byID[page[i].OrderID] = &page[i]
			}
			return fillOrders(ctx, q, byID, false)
		})
		if err != nil {
			return nil, fmt.Errorf("orderdb: read orders after %q: %w", after, err)
		}
		return page, nil
	}, func(o Order) string { return o.OrderID }, fn)
}

// eachPage reads pages of at most pageSize rows in key order, each after
// the last key of the one before, and calls fn on every row between reads.
func eachPage[T any](read func(after string) ([]T, error), key func(T) string, fn func(T) error) error {
	after := ""
	for {
		page, err := read(after)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		after = key(page[len(page)-1])
	}
}
