// Package ordertaking is the order-taking service behind POST /v1/orders.
// It checks and prices a checkout against the catalog and takes it in the
// order-taking database (api/orderdb) in one transaction; it relays the
// database's outbox to Kafka, applies stock, payment and shipment events
// to the database exactly once each, and cancels orders whose payment
// never came. The database is the source of truth for orders; Kafka hears
// of every change through the outbox.
package ordertaking

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/processors/membership"
)

// Error codes of the order routes.
const (
	CodeEmptyOrder      = "empty_order"
	CodeInvalidLine     = "invalid_line"
	CodeInvalidQuantity = "invalid_quantity"
	CodeTooManyLines    = "too_many_lines"
	CodeQuantityOverCap = "quantity_over_cap"
	// CodeUnknownItem is the cart's code for the same refusal.
	CodeUnknownItem         = "item_not_found"
	CodeMixedCurrency       = "mixed_currency"
	CodeInsufficientStock   = "insufficient_stock"
	CodeIdempotencyConflict = "idempotency_key_reused"
	CodeInvalidIdempotency  = "invalid_idempotency_key"
	CodeOrderNotFound       = "order_not_found"
	CodeNotCancelable       = "order_not_cancelable"
	// CodeMembershipConflict: a prime_trial checkout by a user who already
	// had a trial (the membership routes answer it for illegal transitions).
	CodeMembershipConflict = membership.RefusedConflict
)

// Items reads the catalog (the catalog processor's view).
type Items interface {
	Item(itemID string) (catalog.Item, bool, error)
}

// Carts reads a user's cart lines (the cart processor's view).
type Carts interface {
	CartLines(userID string) ([]LineRequest, error)
}

// Memberships reads a user's Prime membership (the membership processor's
// view).
type Memberships interface {
	Membership(userID string) (membership.Membership, bool, error)
}

// LineRequest is one line as the shopper asks for it: prices come from the
// catalog, never from the client.
type LineRequest struct {
	ItemID   string `json:"item_id"`
	Quantity int64  `json:"quantity"`
}

// Request is one checkout. Lines nil means "my cart".
type Request struct {
	UserID         string
	Lines          []LineRequest
	PrimeTrial     bool
	IdempotencyKey string
}

// Limits bound what one order may hold and how long it waits for payment.
type Limits struct {
	MaxLines    int
	MaxQuantity int64
	TTL         time.Duration
}

// Service takes orders.
type Service struct {
	store       orderdb.Store
	items       Items
	carts       Carts
	memberships Memberships
	limits      Limits
	wake        chan struct{}
	// clock, when set, times trials: membership time is a test's to move.
	clock func() time.Time
	// history finds orders that left the database (see Inbound).
	history History
}

// History reads orders that moved to the history store (sinks/history),
// answering history.ErrNotFound for one it does not hold.
type History interface {
	Order(ctx context.Context, orderID string) (orderdb.Order, error)
	Put(ctx context.Context, orders []orderdb.Order) error
}

// WithHistory lets the inbound applier find an order a late payment or
// shipment event names after the order moved to history, and put it back
// to apply the event (a late payment of a canceled order is a refund).
func WithHistory(h History) ServiceOption { return func(s *Service) { s.history = h } }

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// TrialCheck makes a prime_trial checkout by a user whom memberships show
// with a trial already (running, converted or canceled) a 409 instead of
// an order whose trial the membership processor would refuse.
func TrialCheck(memberships Memberships) ServiceOption {
	return func(s *Service) { s.memberships = memberships }
}

// ServiceClock makes trials started at checkout start at now() instead of
// at the order's time, and judges the trial check at now().
func ServiceClock(now func() time.Time) ServiceOption {
	return func(s *Service) { s.clock = now }
}

// NewService takes orders into store, pricing them from items; carts
// serves checkouts without explicit lines.
func NewService(store orderdb.Store, items Items, carts Carts, limits Limits, opts ...ServiceOption) *Service {
	s := &Service{store: store, items: items, carts: carts, limits: limits, wake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Store is the order-taking database the service writes.
func (s *Service) Store() orderdb.Store { return s.store }

// Wake is signalled after each write that put records in the outbox, so
// the relay publishes them at once instead of at its next poll.
func (s *Service) Wake() <-chan struct{} { return s.wake }

func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Checkout validates req, prices it and takes it. Every refusal is a
// *rest.Error with a code; other errors are the database's.
func (s *Service) Checkout(ctx context.Context, req Request) (orderdb.CheckoutResult, error) {
	if !ingest.IsID(req.UserID) {
		return orderdb.CheckoutResult{}, rest.Errorf(http.StatusBadRequest, rest.CodeInvalidParameter, "user_id %q is not an id", req.UserID)
	}
	if len(req.IdempotencyKey) > 128 || strings.ContainsFunc(req.IdempotencyKey, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return orderdb.CheckoutResult{}, rest.Errorf(http.StatusBadRequest, CodeInvalidIdempotency, "Idempotency-Key must be at most 128 printable ASCII characters")
	}
	fromCart := req.Lines == nil
	// The hash is of what the client sent, before the cart is read: a
	// retry of "check out my cart" is the same request.
	hash := requestHash(req)
	if req.IdempotencyKey != "" {
		// A retry gets its order back before anything is checked again:
		// its first try emptied the cart and started the trial.
		order, found, err := s.store.Replay(ctx, req.UserID, req.IdempotencyKey, hash)
		switch {
		case errors.Is(err, orderdb.ErrIdempotencyConflict):
			return orderdb.CheckoutResult{}, idempotencyConflict(req.IdempotencyKey)
		case err != nil:
			return orderdb.CheckoutResult{}, err
		case found:
			return orderdb.CheckoutResult{Order: order, Replayed: true}, nil
		}
	}
	if err := s.checkTrial(req); err != nil {
		return orderdb.CheckoutResult{}, err
	}
	lines := req.Lines
	if fromCart {
		var err error
		if lines, err = s.carts.CartLines(req.UserID); err != nil {
			return orderdb.CheckoutResult{}, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the cart is not readable yet: %v", err)
		}
	}
	priced, currency, rerr := s.price(lines, fromCart)
	if rerr != nil {
		return orderdb.CheckoutResult{}, rerr
	}
	res, err := s.store.Checkout(ctx, orderdb.CheckoutRequest{
		UserID: req.UserID, Lines: priced, Currency: currency, PrimeTrial: req.PrimeTrial, FromCart: fromCart,
		IdempotencyKey: req.IdempotencyKey, RequestHash: hash, TTL: s.limits.TTL, TrialAt: s.trialAt(req),
	})
	var short *orderdb.InsufficientStockError
	switch {
	case errors.As(err, &short):
		return res, rest.Errorf(http.StatusConflict, CodeInsufficientStock, "not enough stock for %d line(s); nothing was reserved", len(short.Short)).
			WithDetails(map[string]any{"short": short.Short})
	case errors.Is(err, orderdb.ErrIdempotencyConflict):
		return res, idempotencyConflict(req.IdempotencyKey)
	case err != nil:
		return res, err
	}
	if !res.Replayed {
		s.kick()
	}
	return res, nil
}

// now is the service's clock, else the time.
func (s *Service) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// trialAt is when req's trial starts: zero, the order's time, unless the
// service has a clock.
func (s *Service) trialAt(req Request) time.Time {
	if !req.PrimeTrial || s.clock == nil {
		return time.Time{}
	}
	return s.clock()
}

// checkTrial refuses a prime_trial checkout by a user who already had a
// trial. Two such checkouts racing both pass; the membership processor
// then refuses the second trial (its order stands, without a trial).
func (s *Service) checkTrial(req Request) error {
	if !req.PrimeTrial || s.memberships == nil {
		return nil
	}
	m, _, err := s.memberships.Membership(req.UserID)
	if err != nil {
		return rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "memberships are not readable yet: %v", err)
	}
	status := m.StatusAt(s.now())
	if status.State == membership.None {
		return nil
	}
	// The details name the trial's order: a client retrying a checkout
	// that did go through finds its order there.
	status.UserID = req.UserID
	return rest.Errorf(http.StatusConflict, CodeMembershipConflict, "user %s already had a Prime trial (the membership is %s): check out without prime_trial", req.UserID, status.State).
		WithDetails(status)
}

func idempotencyConflict(key string) error {
	return rest.Errorf(http.StatusUnprocessableEntity, CodeIdempotencyConflict, "Idempotency-Key %q was used for another request", key)
}

// price merges lines of the same item, checks them against the limits and
// the catalog, and prices them at the catalog's current price.
func (s *Service) price(lines []LineRequest, fromCart bool) ([]orderdb.Line, string, *rest.Error) {
	if len(lines) == 0 {
		what := "the order has no lines"
		if fromCart {
			what = "the cart is empty"
		}
		return nil, "", rest.Errorf(http.StatusUnprocessableEntity, CodeEmptyOrder, "%s", what)
	}
	qty := map[string]int64{}
	var order []string
	for i, l := range lines {
		if !ingest.IsID(l.ItemID) {
			return nil, "", rest.Errorf(http.StatusBadRequest, CodeInvalidLine, "lines[%d].item_id %q is not an id", i, l.ItemID)
		}
		if l.Quantity <= 0 {
			return nil, "", rest.Errorf(http.StatusBadRequest, CodeInvalidQuantity, "lines[%d].quantity must be at least 1, got %d", i, l.Quantity)
		}
		if _, ok := qty[l.ItemID]; !ok {
			order = append(order, l.ItemID)
		}
		qty[l.ItemID] += l.Quantity
		if qty[l.ItemID] > s.limits.MaxQuantity {
			return nil, "", rest.Errorf(http.StatusUnprocessableEntity, CodeQuantityOverCap, "item %s: %d units is over the cap of %d per line", l.ItemID, qty[l.ItemID], s.limits.MaxQuantity).
				WithDetails(map[string]any{"item_id": l.ItemID, "max_per_line": s.limits.MaxQuantity})
		}
	}
	if len(order) > s.limits.MaxLines {
		return nil, "", rest.Errorf(http.StatusUnprocessableEntity, CodeTooManyLines, "%d lines is over the limit of %d", len(order), s.limits.MaxLines)
	}
	priced := make([]orderdb.Line, 0, len(order))
	var unknown []string
	currency := ""
	for _, id := range order {
		it, ok, err := s.items.Item(id)
		if err != nil {
			return nil, "", rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the catalog is not readable yet: %v", err)
		}
		if !ok {
			unknown = append(unknown, id)
			continue
		}
		if currency == "" {
			currency = it.Currency
		} else if it.Currency != currency {
			return nil, "", rest.Errorf(http.StatusUnprocessableEntity, CodeMixedCurrency, "item %s is priced in %s, the order in %s: check out each currency apart", id, it.Currency, currency)
		}
		priced = append(priced, orderdb.Line{ItemID: id, Quantity: qty[id], PriceCents: it.PriceCents})
	}
	if len(unknown) > 0 {
		return nil, "", rest.Errorf(http.StatusUnprocessableEntity, CodeUnknownItem, "%d item(s) are not in the catalog", len(unknown)).
			WithDetails(map[string]any{"item_ids": unknown})
	}
	return priced, currency, nil
}

// requestHash identifies a checkout request for its idempotency key: the
// user, the lines as sent (merged and sorted, so their order does not
// matter) and the trial flag.
func requestHash(req Request) string {
	type canon struct {
		UserID     string        `json:"u"`
		FromCart   bool          `json:"c"`
		Lines      []LineRequest `json:"l"`
		PrimeTrial bool          `json:"p"`
	}
	merged := map[string]int64{}
	for _, l := range req.Lines {
		merged[l.ItemID] += l.Quantity
	}
	c := canon{UserID: req.UserID, FromCart: req.Lines == nil, PrimeTrial: req.PrimeTrial}
	for id, q := range merged {
		c.Lines = append(c.Lines, LineRequest{id, q})
	}
	slices.SortFunc(c.Lines, func(a, b LineRequest) int { return strings.Compare(a.ItemID, b.ItemID) })
	b, _ := json.Marshal(c) // strings, ints and bools always marshal
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Cancel is the shopper's cancel of an order.
func (s *Service) Cancel(ctx context.Context, orderID string) (orderdb.Applied, error) {
	a, err := s.store.Cancel(ctx, orderID)
	if err == nil && a.Effect.Changed {
		s.kick()
	}
	return a, err
}
