package replay

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/order"
	"github.com/shopstream/shopstream/sinks/history"
	"github.com/shopstream/shopstream/topics"
)

// HistoryTopics are what the history target reads: the order events, and
// the payment events for the one thing order events do not carry, the
// payment id.
var HistoryTopics = []string{topics.OrderEvents, topics.PaymentEvents}

// History is the history store as a replay target. No live sink writes
// the store (the migrator moves orders from the order-taking database), so
// it rebuilds each order from its events with the order processor's own
// rules (order.Apply: the lifecycle state machine, once per event id) and
// writes the final ones (delivered, canceled, refunded) with the store's
// idempotent Put, where of two copies of an order the later updated_at
// wins: a replay over a live store changes nothing.
//
// Order events carry everything of orderdb.Order the history store keeps
// except the payment id: status, lines, total, currency, prime_trial and
// expires_at come from order.created; created_at, updated_at and the
// timeline (status, time, reason) from the events' times, which are the
// database's transition times; version is the number of transitions. The
// payment id is read from payment.succeeded on payment.events: an order
// that was paid (placed, or refunded after a late payment) waits for its
// payment event before it is written, and at the end of the replay is
// written without one if none was read (HistoryStats.NoPaymentID).
//
// An order is rebuilt only if its order.created is in the replay: events
// of orders created before the start are refused by the rules and counted
// in Refused. It holds every order not yet final in memory, and the ids of
// those written.
type History struct {
	store     history.Store
	olderThan time.Time
	payments  bool
	orders    map[string]*historyOrder
	paid      map[string]string // payment id of each order's first payment.succeeded
	done      map[string]bool   // orders written in a state nothing follows
	stats     HistoryStats
}

type historyOrder struct {
	o order.Order
	// waiting: final and old enough, but paid and its payment id not read
	// yet.
	waiting bool
}

// HistoryStats counts what the history target did.
type HistoryStats struct {
	// Written counts orders written, an order once per state.
	Written int
	// Refused counts order events the order rules refused: events of
	// orders created before the start, or events the live order processor
	// dead-lettered too. RefusedSamples holds the first few reasons.
	Refused        int
	RefusedSamples []string
	// NoPaymentID counts paid orders written without a payment id: their
	// payment.succeeded was not in the replay.
	NoPaymentID int
	// Young counts final orders younger than the migration age: they are
	// still in the order-taking database, and not written.
	Young int
	// Open counts orders not final at the end, which the history store
	// does not hold.
	Open int
}

func (s HistoryStats) String() string {
	msg := fmt.Sprintf("history: %d orders written, %d still open, %d final but younger than the migration age, %d without a payment id, %d order events refused",
		s.Written, s.Open, s.Young, s.NoPaymentID, s.Refused)
	if len(s.RefusedSamples) > 0 {
		msg += " (" + strings.Join(s.RefusedSamples, "; ") + ")"
	}
	return msg
}

// HistoryOption configures NewHistory.
type HistoryOption func(*History)

// OlderThan writes only orders whose expires_at and updated_at are not
// after t, as the migrator moves them (history_migration.after before
// now): a younger final order is still in the order-taking database.
func OlderThan(t time.Time) HistoryOption { return func(h *History) { h.olderThan = t } }

// WithoutPayments says payment.events is not replayed: orders are written
// as soon as they are final, without payment ids.
func WithoutPayments() HistoryOption { return func(h *History) { h.payments = false } }

// NewHistory returns the history target over store, which must be
// migrated. By default every final order is written.
func NewHistory(store history.Store, opts ...HistoryOption) *History {
	h := &History{store: store, olderThan: time.Unix(1<<62, 0), payments: true,
		orders: map[string]*historyOrder{}, paid: map[string]string{}, done: map[string]bool{}}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Stats is what the target did so far.
func (h *History) Stats() HistoryStats { return h.stats }

const maxSamples = 5

// Apply folds the batch's order and payment events into their orders and
// writes the orders that became ready, in one Put.
func (h *History) Apply(ctx context.Context, batch []eventlog.Delivery) error {
	ready := map[string]bool{}
	for _, d := range batch {
		switch d.Record.Topic {
		case topics.OrderEvents:
			key := string(d.Record.Key)
			if h.done[key] {
				continue
			}
			cur := h.orders[key]
			if cur == nil {
				cur = &historyOrder{}
			}
			in := processors.In{ID: d.Event.ID, Key: key, At: d.Event.OccurredAt,
				Pos: processors.Position{Topic: d.Record.Topic, Partition: d.Record.Partition, Offset: d.Record.Offset}}
			next, v := order.Apply(cur.o, in, d.Event)
			switch v.Outcome {
			case processors.Reject:
				h.stats.Refused++
				if len(h.stats.RefusedSamples) < maxSamples {
					h.stats.RefusedSamples = append(h.stats.RefusedSamples, fmt.Sprintf("%s %s: %s", d.Event.Type, key, v.Reason))
				}
			case processors.Change, processors.Store:
				cur.o = next
				h.orders[key] = cur
				ready[key] = true
			}
		case topics.PaymentEvents:
			p, ok := d.Event.Data.(topics.Payment)
			if !ok || d.Event.Type != topics.TypePaymentSucceeded || h.paid[p.OrderID] != "" {
				continue
			}
			h.paid[p.OrderID] = p.PaymentID
			if cur := h.orders[p.OrderID]; cur != nil && cur.waiting {
				ready[p.OrderID] = true
			}
		}
	}
	var put []orderdb.Order
	for id := range ready {
		cur := h.orders[id]
		cur.waiting = false
		if !lifecycle.Final(cur.o.Status) || !h.oldEnough(cur.o) {
			continue
		}
		pay := h.paid[id]
		if pay == "" && h.payments && Paid(cur.o) {
			cur.waiting = true
			continue
		}
		put = append(put, HistoryOrder(cur.o, pay))
	}
	return h.put(ctx, put)
}

// Finish writes the paid orders whose payment id never came, and counts
// the orders left out.
func (h *History) Finish(ctx context.Context) error {
	var put []orderdb.Order
	for _, cur := range h.orders {
		switch {
		case cur.waiting:
			h.stats.NoPaymentID++
			cur.waiting = false
			put = append(put, HistoryOrder(cur.o, ""))
		case !lifecycle.Final(cur.o.Status):
			h.stats.Open++
		case !h.oldEnough(cur.o):
			h.stats.Young++
		}
	}
	return h.put(ctx, put)
}

func (h *History) oldEnough(o order.Order) bool {
	return !o.ExpiresAt.After(h.olderThan) && !HistoryOrder(o, "").UpdatedAt.After(h.olderThan)
}

// put writes orders in one Put, by order id, and forgets the ones nothing
// can change any more (a canceled order can still be refunded).
func (h *History) put(ctx context.Context, orders []orderdb.Order) error {
	if len(orders) == 0 {
		return nil
	}
	slices.SortFunc(orders, func(a, b orderdb.Order) int { return strings.Compare(a.OrderID, b.OrderID) })
	if err := h.store.Put(ctx, orders); err != nil {
		return fmt.Errorf("replay: history: %w", err)
	}
	h.stats.Written += len(orders)
	for _, o := range orders {
		if o.Status != lifecycle.Canceled {
			h.done[o.OrderID] = true
			delete(h.orders, o.OrderID)
			delete(h.paid, o.OrderID)
		}
	}
	return nil
}

// Paid reports whether the order-taking database recorded a payment id
// on o: it does on the transition a payment.succeeded makes, to placed,
// or to refunded when the payment came after the order was canceled.
func Paid(o order.Order) bool {
	for _, t := range o.Timeline {
		if t.Status == lifecycle.Placed || (t.Status == lifecycle.Refunded && t.Reason == lifecycle.ReasonLatePayment) {
			return true
		}
	}
	return false
}

// HistoryOrder is the order-taking database's copy of an order rebuilt
// from its events (o, as order.Apply folds them), with the payment id
// paymentID: the database stamps every transition, and its created_at
// and updated_at, with the time its event carries.
func HistoryOrder(o order.Order, paymentID string) orderdb.Order {
	out := orderdb.Order{
		OrderID: o.OrderID, UserID: o.UserID, Status: o.Status,
		Lines:      make([]orderdb.Line, len(o.Lines)),
		TotalCents: o.TotalCents, Currency: o.Currency, PrimeTrial: o.PrimeTrial, PaymentID: paymentID,
		CreatedAt: o.CreatedAt, UpdatedAt: o.CreatedAt, ExpiresAt: o.ExpiresAt, Version: o.Version,
		Timeline: make([]orderdb.Transition, len(o.Timeline)),
	}
	for i, l := range o.Lines {
		out.Lines[i] = orderdb.Line(l)
	}
	for i, t := range o.Timeline {
		out.Timeline[i] = orderdb.Transition{Status: t.Status, At: t.At, Reason: t.Reason}
		out.UpdatedAt = t.At
	}
	return out
}
