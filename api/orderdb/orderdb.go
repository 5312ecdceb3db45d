// Package orderdb is the order-taking database behind checkout: sellable
// stock, the supplier events already applied to it, orders with their
// lines and timelines, idempotency keys and the outbox, all changed in ACID
// transactions. It has two adapters with one schema: SQLite
// (modernc.org/sqlite, embedded, for all-in-one) and MySQL/MariaDB
// (production).
//
// Stock model. stock.on_hand is the supplier-reported total, set (never
// added to) by ApplyStock from inventory.item.changed events when their
// version is newer than the row's, so after quiescence it equals the
// inventory processor's view. stock.committed is the units held by orders
// whose status holds stock (lifecycle.HoldsStock: created, placed, shipped,
// delivered). Sellable is on_hand - committed. Checkout commits units only
// while every line stays within sellable (a conditional UPDATE, so nothing
// is ever oversold); a transition whose effect restocks (lifecycle.Next
// decides: cancel, payment failure, expiry) takes the order's units off
// committed. Delivered orders keep theirs: the supplier's next count no
// longer includes them.
//
// Checkout is group-committed: requests queue for a few workers, each of
// which takes every request waiting (up to MaxBatch) and runs one
// transaction for all of them, locking the stock rows in item order so two
// batches, even from two processes, never deadlock.
package orderdb

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
)

// Store is the order-taking database. Every method that changes an order
// decides with lifecycle.Next and writes, in the same transaction, the
// order events that record it to the outbox.
type Store interface {
	schema.Store

	// Checkout takes one order: in one transaction it commits the stock of
	// every line (never beyond sellable), inserts the order, its lines and
	// its first transition, and writes order.created (and cart.cleared when
	// FromCart) to the outbox. A stock refusal is *InsufficientStockError
	// and reserves nothing; a reused idempotency key with another body is
	// ErrIdempotencyConflict.
	Checkout(ctx context.Context, req CheckoutRequest) (CheckoutResult, error)
	// Replay returns the order an idempotency key already created (found
	// false for a new key; ErrIdempotencyConflict for another request).
	Replay(ctx context.Context, userID, key, requestHash string) (order Order, found bool, err error)
	// ApplyStock sets an item's on-hand from the inventory processor,
	// exactly once per event id; false means the event was seen before.
	ApplyStock(ctx context.Context, c StockChange) (bool, error)
	// ApplyPayment and ApplyShipment apply an outside event to its order
	// exactly once per event id. An unknown order is ErrOrderNotFound.
	ApplyPayment(ctx context.Context, p PaymentOutcome) (Applied, error)
	ApplyShipment(ctx context.Context, s ShipmentStep) (Applied, error)
	// ApplyEvents applies many such events in order, a few transactions
	// for all of them; a result per event says what it did or why it was
	// refused. A database failure is the error: the events may be applied
	// in part, and applying them again changes nothing more.
	ApplyEvents(ctx context.Context, evs []InboundEvent) ([]InboundResult, error)
	// Cancel is the shopper's cancel: lifecycle.ErrNotCancelable once
	// shipped, a no-op on an order already canceled or refunded.
	Cancel(ctx context.Context, orderID string) (Applied, error)
	// ExpireDue cancels up to limit created orders whose expires_at is not
	// after now and returns their stock. Several instances may sweep at
	// once: each order expires once.
	ExpireDue(ctx context.Context, now time.Time, limit int) ([]Applied, error)

	// Order reads one order with its lines and timeline.
	Order(ctx context.Context, orderID string) (Order, error)
	// UserOrders pages a user's orders, newest first; cursor is "" for the
	// first page and next is "" after the last.
	UserOrders(ctx context.Context, userID, cursor string, limit int) (orders []Order, next string, err error)
	Stock(ctx context.Context, itemID string) (StockRow, bool, error)
	// EachStock and EachOrder visit every row, for reconcile, a page at a
	// time (not a snapshot; fn may use the store). EachOrder gives each
	// order with its lines but without its timeline.
	EachStock(ctx context.Context, fn func(StockRow) error) error
	EachOrder(ctx context.Context, fn func(Order) error) error

	// FinalOrders, DeleteOrders and FinalBacklog move finished orders to
	// the history store (sinks/history), which writes them there first and
	// deletes them here second. FinalOrders returns up to limit final
	// orders (lifecycle.Final) whose expires_at and updated_at are both not
	// after olderThan, whole, oldest expires_at first. DeleteOrders removes
	// each given order with its lines and timeline while it is still final
	// and at the given Version, and says how many it removed; it never
	// touches stock. FinalBacklog counts what FinalOrders would return
	// without a limit.
	FinalOrders(ctx context.Context, olderThan time.Time, limit int) ([]Order, error)
	DeleteOrders(ctx context.Context, orders []Order) (int, error)
	FinalBacklog(ctx context.Context, olderThan time.Time) (int64, error)
	// Prune removes processed event ids and idempotency keys older than
	// the retention says.
	Prune(ctx context.Context, r Retention) (Pruned, error)
	// RestoreOrders puts whole final orders back from history for a late
	// outside event, leaving any already here; it says how many came back.
	RestoreOrders(ctx context.Context, orders []Order) (int, error)

	// PendingOutbox returns up to limit unpublished records in the order
	// they were written; MarkPublished removes them once Kafka has them.
	PendingOutbox(ctx context.Context, limit int) ([]OutboxRecord, error)
	MarkPublished(ctx context.Context, seqs []int64) error
	// OutboxBacklog is how many records wait and when the oldest was
	// written (zero when none), for the relay-lag metric.
	OutboxBacklog(ctx context.Context) (n int64, oldest time.Time, err error)
	// RelayLease makes one relay of many the publisher (see Lease).
	RelayLease(ctx context.Context, wait time.Duration) (Lease, error)
}

// DefaultTimeout bounds connecting, the first ping and every health check.
const DefaultTimeout = 5 * time.Second

type options struct {
	timeout         time.Duration
	checkoutWorkers int
	maxBatch        int
}

// Option changes how Open connects.
type Option func(*options)

// Timeout bounds connecting, the first ping and every health check
// (default DefaultTimeout).
func Timeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// CheckoutWorkers sets how many checkout batches run at once (default 1 on
// SQLite, which has one writer, and 4 on MySQL).
func CheckoutWorkers(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.checkoutWorkers = n
		}
	}
}

// DefaultMaxBatch bounds the checkouts one transaction takes.
const DefaultMaxBatch = 256

// MaxBatch bounds the checkouts one transaction takes (default
// DefaultMaxBatch); 1 turns group commit off.
func MaxBatch(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBatch = n
		}
	}
}

// Open connects to the database cfg names and checks that it answers. It
// does not migrate: call Migrate. dataDir holds the SQLite file when
// cfg.DSN is empty.
func Open(ctx context.Context, cfg config.OrdersStore, dataDir string, opts ...Option) (Store, error) {
	o := options{timeout: DefaultTimeout, maxBatch: DefaultMaxBatch}
	for _, opt := range opts {
		opt(&o)
	}
	switch cfg.Driver {
	case "sqlite":
		return openSQLite(ctx, cfg.DSN, dataDir, o)
	case "mysql":
		return openMySQL(ctx, cfg.DSN, o)
	default:
		return nil, fmt.Errorf("orderdb: unknown driver %q: use sqlite or mysql", cfg.Driver)
	}
}
