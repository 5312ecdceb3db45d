package orderdb

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopstream/shopstream/lifecycle"
)

// Line is one order line: an item, a quantity and the unit price at
// checkout (the snapshot the shopper agreed to).
type Line struct {
	ItemID     string `json:"item_id"`
	Quantity   int64  `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

// CheckoutRequest is one order to take. The caller (the REST edge) has
// validated it and priced every line from the catalog.
type CheckoutRequest struct {
	UserID string
	Lines  []Line
	// Currency of every price in Lines.
	Currency   string
	PrimeTrial bool
	// TrialAt is when the trial starts, if not at the order's time: the
	// order-taking service's clock, which tests move.
	TrialAt time.Time
	// FromCart: the order empties the user's cart (a cart.cleared event
	// goes out with order.created).
	FromCart bool
	// IdempotencyKey, when set, makes a retry return the first order:
	// unique per user. RequestHash identifies the request body, so a
	// reuse of the key with another body is refused.
	IdempotencyKey string
	RequestHash    string
	// TTL is how long the order waits for payment before it expires.
	TTL time.Duration
}

// Order is an order as the order-taking database holds it.
type Order struct {
	OrderID    string           `json:"order_id"`
	UserID     string           `json:"user_id"`
	Status     lifecycle.Status `json:"status"`
	Lines      []Line           `json:"lines"`
	TotalCents int64            `json:"total_cents"`
	Currency   string           `json:"currency"`
	PrimeTrial bool             `json:"prime_trial"`
	PaymentID  string           `json:"payment_id,omitempty"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
	ExpiresAt  time.Time        `json:"expires_at"`
	// Version counts the order's transitions (1 when created).
	Version  int64        `json:"version"`
	Timeline []Transition `json:"timeline"`
}

// Transition is one step of an order's timeline.
type Transition struct {
	Status lifecycle.Status `json:"status"`
	At     time.Time        `json:"at"`
	Reason string           `json:"reason,omitempty"`
}

// CheckoutResult is what Checkout did.
type CheckoutResult struct {
	Order Order
	// Replayed: the idempotency key was seen before and Order is the
	// order it created then; nothing new was reserved.
	Replayed bool
}

// StockChange is the inventory processor's on-hand total for an item
// after one supplier event (an inventory.item.changed event).
type StockChange struct {
	EventID string
	ItemID  string
	OnHand  int64
	// Version is the inventory table's version of the item: an older one
	// than the database holds is recorded as processed and changes nothing.
	Version int64
	At      time.Time
}

// PaymentOutcome is a payment gateway's answer for an order (a
// payment.succeeded or payment.failed event).
type PaymentOutcome struct {
	EventID     string
	OrderID     string
	Succeeded   bool
	PaymentID   string
	AmountCents int64
	Reason      string
	At          time.Time
}

// ShipmentStep is a shipping step for an order (shipment.shipped or
// shipment.delivered).
type ShipmentStep struct {
	EventID   string
	OrderID   string
	Delivered bool
	At        time.Time
}

// Applied is what applying an outside event or a command did to an order.
type Applied struct {
	Order  Order
	Effect lifecycle.Effect
	// Duplicate: the event id was applied before; nothing changed.
	Duplicate bool
}

// StockRow is an item's sellable stock: on-hand as the suppliers report it
// (equal to the inventory processor's view once both are caught up), and
// the units committed to orders that hold stock. Sellable is the
// difference; it can go below zero only when a supplier lowers its level
// under what was already sold.
type StockRow struct {
	ItemID    string
	OnHand    int64
	Committed int64
	Version   int64
}

// Sellable is what checkout may still sell.
func (s StockRow) Sellable() int64 { return s.OnHand - s.Committed }

// OutboxRecord is an event written in a transaction, waiting for the relay
// to publish it. Value is the encoded envelope, published as is.
type OutboxRecord struct {
	Seq       int64
	Topic     string
	Key       string
	EventID   string
	Value     []byte
	CreatedAt time.Time
}

// Shortage is a line checkout could not fill.
type Shortage struct {
	ItemID    string `json:"item_id"`
	Requested int64  `json:"requested"`
	Available int64  `json:"available"`
}

// InsufficientStockError is a checkout refused for stock: nothing was
// reserved.
type InsufficientStockError struct {
	Short []Shortage
}

func (e *InsufficientStockError) Error() string {
	parts := make([]string, len(e.Short))
	for i, s := range e.Short {
		parts[i] = fmt.Sprintf("%s (requested %d, available %d)", s.ItemID, s.Requested, s.Available)
	}
	return "orderdb: insufficient stock for " + strings.Join(parts, ", ")
}

// ErrIdempotencyConflict is an idempotency key reused with another request.
var ErrIdempotencyConflict = errors.New("orderdb: idempotency key already used for another request")

// ErrOrderNotFound is an order id the database does not hold.
var ErrOrderNotFound = errors.New("orderdb: no such order")

// ErrInvalid matches (errors.Is) every request the store refuses as
// malformed before touching the database: a 400 at the edge, a dead letter
// for a consumer.
var ErrInvalid = errors.New("orderdb: invalid request")

// ErrClosed is a checkout the store could not take because it was closing.
var ErrClosed = errors.New("orderdb: the store is closed")

// invalidError is a refusal that says what was wrong; it is ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Sprintf(format, args...)}
}
