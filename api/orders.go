package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/api/ordertaking"
	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/sinks/history"
)

// Orders serves checkout and the order routes. Reads come from the
// order-taking database, the source of truth, so an order is readable the
// moment its checkout answered (read-your-writes); an order that has moved
// to history is read there, and a user's orders merge both
// (orders_view.go).
type Orders struct {
	svc     *ordertaking.Service
	log     *slog.Logger
	history OrderHistory
}

// OrderHistory holds the orders that left the order-taking database
// (sinks/history; history.Store is one): Order finds one or answers
// history.ErrNotFound, UserOrders pages a user's as the database does.
type OrderHistory interface {
	Order(ctx context.Context, orderID string) (orderdb.Order, error)
	UserOrders(ctx context.Context, userID string, before history.Cursor, limit int) ([]orderdb.Order, history.Cursor, error)
}

// OrdersOption configures Orders.
type OrdersOption func(*Orders)

// WithHistory makes GET /v1/orders/{id} look in history for an order the
// database no longer holds, and GET /v1/users/{user_id}/orders list the
// orders of both.
func WithHistory(h OrderHistory) OrdersOption { return func(o *Orders) { o.history = h } }

// NewOrders serves the order routes of svc.
func NewOrders(svc *ordertaking.Service, log *slog.Logger, opts ...OrdersOption) *Orders {
	o := &Orders{svc: svc, log: log}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Mount adds the routes to mux.
func (o *Orders) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/orders", o.checkout)
	mux.HandleFunc("GET /v1/orders/{order_id}", o.get)
	mux.HandleFunc("POST /v1/orders/{order_id}/cancel", o.cancel)
	mux.HandleFunc("GET /v1/users/{user_id}/orders", o.userOrders)
}

// checkoutBody is POST /v1/orders. Without lines the user's cart is
// checked out.
type checkoutBody struct {
	UserID     string                    `json:"user_id"`
	Lines      []ordertaking.LineRequest `json:"lines"`
	PrimeTrial bool                      `json:"prime_trial"`
}

// checkoutTimeout bounds one checkout: a queue behind a slow database is a
// 503 the client may retry with its Idempotency-Key, not a hung request.
const checkoutTimeout = 10 * time.Second

func (o *Orders) checkout(w http.ResponseWriter, r *http.Request) {
	var body checkoutBody
	if err := rest.Decode(w, r, 1<<20, &body); err != nil {
		rest.WriteError(w, o.log, err)
		return
	}
	if body.Lines != nil && len(body.Lines) == 0 {
		rest.WriteError(w, o.log, rest.Errorf(http.StatusUnprocessableEntity, ordertaking.CodeEmptyOrder, "lines is empty: omit it to check out the cart"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkoutTimeout)
	defer cancel()
	res, err := o.svc.Checkout(ctx, ordertaking.Request{
		UserID: body.UserID, Lines: body.Lines, PrimeTrial: body.PrimeTrial, IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		rest.WriteError(w, o.log, o.unavailable(err))
		return
	}
	w.Header().Set("Location", "/v1/orders/"+res.Order.OrderID)
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	rest.JSON(w, http.StatusCreated, res.Order)
}

func (o *Orders) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("order_id")
	ord, err := o.svc.Store().Order(r.Context(), id)
	if errors.Is(err, orderdb.ErrOrderNotFound) {
		ord, err = o.fromHistory(r.Context(), id, err)
	}
	if err != nil {
		rest.WriteError(w, o.log, o.orderError(err, id))
		return
	}
	rest.JSON(w, http.StatusOK, ord)
}

// fromHistory reads an order the database no longer holds; notFound is
// the answer when history does not hold it either.
func (o *Orders) fromHistory(ctx context.Context, id string, notFound error) (orderdb.Order, error) {
	if o.history == nil {
		return orderdb.Order{}, notFound
	}
	ord, err := o.history.Order(ctx, id)
	if errors.Is(err, history.ErrNotFound) {
		return orderdb.Order{}, notFound
	}
	return ord, err
}

func (o *Orders) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("order_id")
	a, err := o.svc.Cancel(r.Context(), id)
	ord := a.Order
	if errors.Is(err, orderdb.ErrOrderNotFound) {
		// An order in history is final: a cancel changes nothing or is
		// refused, as lifecycle says.
		if ord, err = o.fromHistory(r.Context(), id, err); err == nil {
			_, err = lifecycle.Next(ord.Status, lifecycle.Cancel)
		}
	}
	if err != nil {
		rest.WriteError(w, o.log, o.orderError(err, id))
		return
	}
	rest.JSON(w, http.StatusOK, ord)
}

// userOrdersPage is GET /v1/users/{user_id}/orders.
type userOrdersPage struct {
	Orders     []orderdb.Order `json:"orders"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

func (o *Orders) userOrders(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user_id")
	if !ingest.IsID(user) {
		rest.WriteError(w, o.log, rest.Errorf(http.StatusBadRequest, rest.CodeInvalidParameter, "user_id %q is not an id", user))
		return
	}
	q := r.URL.Query()
	for k := range q {
		if k != "limit" && k != "cursor" {
			rest.WriteError(w, o.log, rest.Errorf(http.StatusBadRequest, rest.CodeInvalidParameter, "unknown parameter %q: use limit and cursor", k))
			return
		}
	}
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			rest.WriteError(w, o.log, rest.Errorf(http.StatusBadRequest, rest.CodeInvalidParameter, "limit %q is not a number from 1 to 100", v))
			return
		}
		limit = n
	}
	orders, next, err := o.userOrdersPage(r.Context(), user, q.Get("cursor"), limit)
	if err != nil {
		rest.WriteError(w, o.log, o.unavailable(err))
		return
	}
	if orders == nil {
		orders = []orderdb.Order{}
	}
	rest.JSON(w, http.StatusOK, userOrdersPage{Orders: orders, NextCursor: next})
}

func (o *Orders) orderError(err error, id string) error {
	switch {
	case errors.Is(err, orderdb.ErrOrderNotFound):
		return rest.Errorf(http.StatusNotFound, ordertaking.CodeOrderNotFound, "order %q not found", id)
	case errors.Is(err, lifecycle.ErrNotCancelable):
		return rest.Errorf(http.StatusConflict, ordertaking.CodeNotCancelable, "order %s has shipped and can no longer be canceled", id)
	}
	return o.unavailable(err)
}

// unavailable maps what the service and the store say to the client: a
// *rest.Error as it is, a request the store refused as a 400, and any
// other failure (a timeout, a closing store, a database that is down) as
// a logged 503 the client may retry with the same Idempotency-Key.
func (o *Orders) unavailable(err error) error {
	var re *rest.Error
	switch {
	case errors.As(err, &re):
		return re
	case errors.Is(err, orderdb.ErrInvalid):
		return rest.Errorf(http.StatusBadRequest, rest.CodeInvalidParameter, "%v", err)
	}
	o.log.Error("order-taking database failed", "err", err)
	return rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the order-taking database is not answering; retry with the same Idempotency-Key")
}
