package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors/cart"
	"github.com/shopstream/shopstream/topics"
)

// The error codes of the cart and wishlist routes.
const (
	CodeInvalidQuantity = "invalid_quantity"
	CodeInvalidBody     = "invalid_body"
	CodeItemNotFound    = "item_not_found"
	CodeNotInCart       = "not_in_cart"
	CodeNotInWishlist   = "not_in_wishlist"
	CodeQuantityOverCap = cart.RefusedOverCap
	CodeCartFull        = cart.RefusedCartFull
	CodeWishlistFull    = cart.RefusedWishlistFull
)

// CartReader reads the cart processor's table (a goka view in production):
// a user's cart and wishlist, and the ids of the commands applied to them.
type CartReader interface {
	Cart(userID string) (cart.Cart, bool, error)
}

// Carts serves the cart and wishlist routes. A write checks the command
// against the cart as the reader shows it, produces it to cart.commands
// and, once Kafka has acknowledged it, waits for the reader to show it
// applied: it answers with the resulting cart, or 202 if the processor has
// not applied it within the catch-up bound.
type Carts struct {
	producer   *eventlog.Producer
	catalog    Catalog
	carts      CartReader
	log        *slog.Logger
	rules      cart.Rules
	ackTimeout time.Duration
	catchUp    time.Duration
}

// CartOption configures Carts.
type CartOption func(*Carts)

// CartLogger sets the logger for failures the client only sees as a 5xx.
func CartLogger(l *slog.Logger) CartOption { return func(c *Carts) { c.log = l } }

// CartMaxPerLine sets the cap on one line's quantity (default
// cart.DefaultMaxPerLine); the cart processor must run with the same cap.
func CartMaxPerLine(n int64) CartOption { return func(c *Carts) { c.rules.MaxPerLine = n } }

// CartCatchUp bounds how long a write waits for the reader to show the
// command applied (default 5s) before it answers 202.
func CartCatchUp(d time.Duration) CartOption { return func(c *Carts) { c.catchUp = d } }

// NewCarts returns the cart routes producing through producer, pricing
// through cat and reading carts through carts.
func NewCarts(producer *eventlog.Producer, cat Catalog, carts CartReader, opts ...CartOption) *Carts {
	c := &Carts{producer: producer, catalog: cat, carts: carts, log: slog.Default(), rules: cart.DefaultRules,
		ackTimeout: 10 * time.Second, catchUp: 5 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Mount adds the routes to mux.
func (c *Carts) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/users/{user_id}/cart", c.getCart)
	mux.HandleFunc("POST /v1/users/{user_id}/cart", c.addToCart)
	mux.HandleFunc("DELETE /v1/users/{user_id}/cart", c.clearCart)
	mux.HandleFunc("PUT /v1/users/{user_id}/cart/{item_id}", c.setQuantity)
	mux.HandleFunc("DELETE /v1/users/{user_id}/cart/{item_id}", c.removeFromCart)
	mux.HandleFunc("GET /v1/users/{user_id}/wishlist", c.getWishlist)
	mux.HandleFunc("POST /v1/users/{user_id}/wishlist", c.wish)
	mux.HandleFunc("DELETE /v1/users/{user_id}/wishlist/{item_id}", c.unwish)
	mux.HandleFunc("POST /v1/users/{user_id}/wishlist/{item_id}/move-to-cart", c.moveToCart)
}

// bodyLimit bounds a cart request body; the largest holds an id and a
// number.
const bodyLimit = 4 << 10

type addRequest struct {
	ItemID   string          `json:"item_id"`
	Quantity json.RawMessage `json:"quantity"`
}

type quantityRequest struct {
	Quantity json.RawMessage `json:"quantity"`
}

type wishRequest struct {
	ItemID string `json:"item_id"`
}

// pricedItem is an item of a cart or wishlist with the price shown when
// it was added beside the catalog's current price and the live stock.
type pricedItem struct {
	ItemID string `json:"item_id"`
	Title  string `json:"title"`
	// InCatalog is false for an item the catalog no longer has; its price
	// is then the price at add.
	InCatalog       bool          `json:"in_catalog"`
	PriceAtAddCents int64         `json:"price_at_add_cents"`
	CurrencyAtAdd   string        `json:"currency_at_add"`
	PriceCents      int64         `json:"price_cents"`
	Currency        string        `json:"currency"`
	PriceChanged    bool          `json:"price_changed"`
	Stock           stockResponse `json:"stock"`
	AddedAt         time.Time     `json:"added_at"`
}

type cartLineResponse struct {
	pricedItem
	Quantity       int64 `json:"quantity"`
	LineTotalCents int64 `json:"line_total_cents"`
}

type cartResponse struct {
	UserID    string             `json:"user_id"`
	Version   int64              `json:"version"`
	Lines     []cartLineResponse `json:"lines"`
	ItemCount int64              `json:"item_count"`
	// Totals are at current prices, one per currency.
	Totals       []topics.Money `json:"totals"`
	PriceChanged bool           `json:"price_changed"`
	MaxPerLine   int64          `json:"max_per_line"`
}

type wishlistResponse struct {
	UserID       string       `json:"user_id"`
	Version      int64        `json:"version"`
	Items        []pricedItem `json:"items"`
	PriceChanged bool         `json:"price_changed"`
}

type pendingResponse struct {
	Status  string `json:"status"`
	EventID string `json:"event_id"`
	Message string `json:"message"`
}

func (c *Carts) getCart(w http.ResponseWriter, r *http.Request) {
	if cur, ok := c.load(w, r); ok {
		c.answer(w, http.StatusOK, c.renderCart, cur)
	}
}

func (c *Carts) getWishlist(w http.ResponseWriter, r *http.Request) {
	if cur, ok := c.load(w, r); ok {
		c.answer(w, http.StatusOK, c.renderWishlist, cur)
	}
}

func (c *Carts) addToCart(w http.ResponseWriter, r *http.Request) {
	user, ok := pathUser(w, r, c.log)
	if !ok {
		return
	}
	var req addRequest
	if err := rest.Decode(w, r, bodyLimit, &req); err != nil {
		rest.WriteError(w, c.log, err)
		return
	}
	if err := bodyItem(req.ItemID); err != nil {
		rest.WriteError(w, c.log, err)
		return
	}
	c.add(w, r, user, req.ItemID, req.Quantity, topics.TypeCartItemAdded)
}

func (c *Carts) moveToCart(w http.ResponseWriter, r *http.Request) {
	user, item, ok := pathUserItem(w, r, c.log)
	if !ok {
		return
	}
	var req quantityRequest
	// The body is optional: without one, one item moves.
	if r.ContentLength != 0 {
		if err := rest.Decode(w, r, bodyLimit, &req); err != nil {
			rest.WriteError(w, c.log, err)
			return
		}
	}
	c.add(w, r, user, item, req.Quantity, topics.TypeWishlistItemMovedToCart)
}

// add checks and produces an add to the cart (typ cart.item.added or
// wishlist.item.moved_to_cart) at the catalog's current price.
func (c *Carts) add(w http.ResponseWriter, r *http.Request, user, item string, rawQuantity json.RawMessage, typ string) {
	quantity, qerr := parseQuantity(rawQuantity, false)
	if qerr != nil {
		rest.WriteError(w, c.log, qerr)
		return
	}
	cur, ok := c.read(w, user)
	if !ok {
		return
	}
	if _, wished := cur.Wished(item); typ == topics.TypeWishlistItemMovedToCart && !wished {
		rest.WriteError(w, c.log, notInWishlist(item))
		return
	}
	line, inCart := cur.Line(item)
	if err := c.checkQuantity(item, line.Quantity, quantity); err != nil {
		rest.WriteError(w, c.log, err)
		return
	}
	if !inCart && len(cur.Lines) >= cart.MaxLines {
		rest.WriteError(w, c.log, rest.Errorf(http.StatusUnprocessableEntity, CodeCartFull, "the cart already holds %d different items, the most allowed", cart.MaxLines))
		return
	}
	price, ok := c.price(w, item)
	if !ok {
		return
	}
	c.command(w, r, typ, user, topics.CartLine{UserID: user, ItemID: item, Quantity: quantity, PriceCents: price.AmountCents, Currency: price.Currency}, c.renderCart)
}

func (c *Carts) setQuantity(w http.ResponseWriter, r *http.Request) {
	user, item, ok := pathUserItem(w, r, c.log)
	if !ok {
		return
	}
	var req quantityRequest
	if err := rest.Decode(w, r, bodyLimit, &req); err != nil {
		rest.WriteError(w, c.log, err)
		return
	}
	quantity, qerr := parseQuantity(req.Quantity, true)
	if qerr != nil {
		rest.WriteError(w, c.log, qerr)
		return
	}
	if err := c.checkQuantity(item, 0, quantity); err != nil {
		rest.WriteError(w, c.log, err)
		return
	}
	cur, ok := c.read(w, user)
	if !ok {
		return
	}
	if _, ok := cur.Line(item); !ok {
		rest.WriteError(w, c.log, notInCart(item))
		return
	}
	c.command(w, r, topics.TypeCartItemQuantitySet, user, topics.CartLine{UserID: user, ItemID: item, Quantity: quantity}, c.renderCart)
}

func (c *Carts) removeFromCart(w http.ResponseWriter, r *http.Request) {
	user, item, ok := pathUserItem(w, r, c.log)
	if !ok {
		return
	}
	cur, ok := c.read(w, user)
	if !ok {
		return
	}
	if _, ok := cur.Line(item); !ok {
		rest.WriteError(w, c.log, notInCart(item))
		return
	}
	c.command(w, r, topics.TypeCartItemRemoved, user, topics.CartLine{UserID: user, ItemID: item}, c.renderCart)
}

func (c *Carts) clearCart(w http.ResponseWriter, r *http.Request) {
	user, ok := pathUser(w, r, c.log)
	if !ok {
		return
	}
	c.command(w, r, topics.TypeCartCleared, user, topics.CartCleared{UserID: user}, c.renderCart)
}

func (c *Carts) wish(w http.ResponseWriter, r *http.Request) {
	user, ok := pathUser(w, r, c.log)
	if !ok {
		return
	}
	var req wishRequest
	if err := rest.Decode(w, r, bodyLimit, &req); err != nil {
		rest.WriteError(w, c.log, err)
		return
	}
	if err := bodyItem(req.ItemID); err != nil {
		rest.WriteError(w, c.log, err)
		return
	}
	cur, ok := c.read(w, user)
	if !ok {
		return
	}
	if _, wished := cur.Wished(req.ItemID); !wished && len(cur.Wishlist) >= cart.MaxLines {
		rest.WriteError(w, c.log, rest.Errorf(http.StatusUnprocessableEntity, CodeWishlistFull, "the wishlist already holds %d items, the most allowed", cart.MaxLines))
		return
	}
	price, ok := c.price(w, req.ItemID)
	if !ok {
		return
	}
	c.command(w, r, topics.TypeWishlistItemAdded, user, topics.CartLine{UserID: user, ItemID: req.ItemID, PriceCents: price.AmountCents, Currency: price.Currency}, c.renderWishlist)
}

func (c *Carts) unwish(w http.ResponseWriter, r *http.Request) {
	user, item, ok := pathUserItem(w, r, c.log)
	if !ok {
		return
	}
	cur, ok := c.read(w, user)
	if !ok {
		return
	}
	if _, ok := cur.Wished(item); !ok {
		rest.WriteError(w, c.log, notInWishlist(item))
		return
	}
	c.command(w, r, topics.TypeWishlistItemRemoved, user, topics.CartLine{UserID: user, ItemID: item}, c.renderWishlist)
}

// command produces one command keyed by user and answers with render of
// the cart that shows it applied, or 202 if the reader does not show it
// within the catch-up bound.
func (c *Carts) command(w http.ResponseWriter, r *http.Request, typ, user string, data any, render func(cart.Cart) (any, error)) {
	ev, err := topics.New(typ, user, data)
	if err != nil {
		rest.WriteError(w, c.log, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.ackTimeout)
	defer cancel()
	if err := c.producer.Publish(ctx, topics.CartCommands, ev); err != nil {
		c.log.Error("cart command not acknowledged", "type", typ, "user_id", user, "err", err)
		rest.WriteError(w, c.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the command was not acknowledged by Kafka; retry"))
		return
	}
	if cur, ok := c.awaitApplied(r.Context(), user, ev.ID); ok {
		if r, refused := cur.Refused.Of(ev.ID); refused {
			// The checks above passed on the cart as read; a command
			// applied just before this one changed it.
			rest.WriteError(w, c.log, rest.Errorf(http.StatusUnprocessableEntity, r.Code, "%s", r.Reason))
			return
		}
		c.answer(w, http.StatusOK, render, cur)
		return
	}
	rest.JSON(w, http.StatusAccepted, pendingResponse{Status: "pending", EventID: ev.ID,
		Message: "the command is accepted and will be applied shortly; GET the cart to see it"})
}

// catchUpPoll is how often a write reads the cart while it waits: a read
// is a local table lookup.
const catchUpPoll = 5 * time.Millisecond

// awaitApplied reads the user's cart until it shows the event applied,
// for at most the catch-up bound and while the request lasts.
func (c *Carts) awaitApplied(ctx context.Context, user, eventID string) (cart.Cart, bool) {
	ctx, cancel := context.WithTimeout(ctx, c.catchUp)
	defer cancel()
	tick := time.NewTicker(catchUpPoll)
	defer tick.Stop()
	for {
		// A read error (the view reconnecting) is retried like a lag.
		if cur, _, err := c.carts.Cart(user); err == nil && cur.Applied.Has(eventID) {
			return cur, true
		}
		select {
		case <-ctx.Done():
			return cart.Cart{}, false
		case <-tick.C:
		}
	}
}

// load reads the cart of the request's user, answering the error itself.
func (c *Carts) load(w http.ResponseWriter, r *http.Request) (cart.Cart, bool) {
	user, ok := pathUser(w, r, c.log)
	if !ok {
		return cart.Cart{}, false
	}
	return c.read(w, user)
}

// read reads a user's cart; a user without one has an empty cart.
func (c *Carts) read(w http.ResponseWriter, user string) (cart.Cart, bool) {
	cur, _, err := c.carts.Cart(user)
	if err != nil {
		c.log.Warn("cart not readable", "user_id", user, "err", err)
		rest.WriteError(w, c.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "carts are not readable yet; retry"))
		return cart.Cart{}, false
	}
	cur.UserID = user
	return cur, true
}

// price is the catalog's current price of an item, answering the error
// itself when the item is unknown.
func (c *Carts) price(w http.ResponseWriter, item string) (topics.Money, bool) {
	it, ok, err := c.catalog.Item(item)
	if err != nil {
		c.log.Warn("catalog not readable", "item_id", item, "err", err)
		rest.WriteError(w, c.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the catalog is not readable yet; retry"))
		return topics.Money{}, false
	}
	if !ok {
		rest.WriteError(w, c.log, rest.Errorf(http.StatusNotFound, CodeItemNotFound, "item %q not found", item).WithDetails(map[string]string{"item_id": item}))
		return topics.Money{}, false
	}
	return topics.Money{AmountCents: it.PriceCents, Currency: it.Currency}, true
}

// checkQuantity refuses a line that adding quantity to inCart would take
// over the per-line cap.
func (c *Carts) checkQuantity(item string, inCart, quantity int64) *rest.Error {
	// Compared this way, a huge quantity cannot overflow the sum.
	if limit := c.rules.MaxPerLine; quantity > limit-inCart {
		return rest.Errorf(http.StatusUnprocessableEntity, CodeQuantityOverCap,
			"at most %d of an item per cart line: the cart holds %d of %q, this asks for %d more", limit, inCart, item, quantity).
			WithDetails(map[string]any{"item_id": item, "max_per_line": limit, "in_cart": inCart, "requested": quantity})
	}
	return nil
}

// answer renders the cart and writes it, or the error rendering it met.
func (c *Carts) answer(w http.ResponseWriter, status int, render func(cart.Cart) (any, error), cur cart.Cart) {
	out, err := render(cur)
	if err != nil {
		c.log.Warn("catalog not readable", "user_id", cur.UserID, "err", err)
		rest.WriteError(w, c.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the catalog is not readable yet; retry"))
		return
	}
	rest.JSON(w, status, out)
}

func (c *Carts) renderCart(cur cart.Cart) (any, error) {
	out := cartResponse{UserID: cur.UserID, Version: cur.Version, Lines: make([]cartLineResponse, len(cur.Lines)),
		Totals: []topics.Money{}, MaxPerLine: c.rules.MaxPerLine}
	totals := map[string]int64{}
	for i, l := range cur.Lines {
		p, err := c.priced(l.ItemID, l.PriceCents, l.Currency, l.AddedAt)
		if err != nil {
			return nil, err
		}
		line := cartLineResponse{pricedItem: p, Quantity: l.Quantity, LineTotalCents: l.Quantity * p.PriceCents}
		out.Lines[i] = line
		out.ItemCount += l.Quantity
		out.PriceChanged = out.PriceChanged || p.PriceChanged
		totals[p.Currency] += line.LineTotalCents
	}
	for currency, sum := range totals {
		out.Totals = append(out.Totals, topics.Money{AmountCents: sum, Currency: currency})
	}
	sort.Slice(out.Totals, func(i, j int) bool { return out.Totals[i].Currency < out.Totals[j].Currency })
	return out, nil
}

func (c *Carts) renderWishlist(cur cart.Cart) (any, error) {
	out := wishlistResponse{UserID: cur.UserID, Version: cur.Version, Items: make([]pricedItem, len(cur.Wishlist))}
	for i, e := range cur.Wishlist {
		p, err := c.priced(e.ItemID, e.PriceCents, e.Currency, e.AddedAt)
		if err != nil {
			return nil, err
		}
		out.Items[i] = p
		out.PriceChanged = out.PriceChanged || p.PriceChanged
	}
	return out, nil
}

// priced sets an item's price at add beside its current price and stock.
func (c *Carts) priced(item string, cents int64, currency string, addedAt time.Time) (pricedItem, error) {
	p := pricedItem{ItemID: item, PriceAtAddCents: cents, CurrencyAtAdd: currency, PriceCents: cents, Currency: currency, AddedAt: addedAt}
	it, ok, err := c.catalog.Item(item)
	if err != nil {
		return p, err
	}
	if ok {
		p.InCatalog, p.Title, p.PriceCents, p.Currency = true, it.Title, it.PriceCents, it.Currency
		p.PriceChanged = p.PriceCents != cents || p.Currency != currency
	}
	st, _, err := c.catalog.Stock(item)
	if err != nil {
		return p, err
	}
	p.Stock = stockOf(st)
	return p, nil
}

// parseQuantity reads a quantity: a JSON whole number of at least one.
// Absent, it is 1 unless required.
func parseQuantity(raw json.RawMessage, required bool) (int64, *rest.Error) {
	if len(raw) == 0 {
		if required {
			return 0, rest.Errorf(http.StatusBadRequest, CodeInvalidQuantity, "quantity is required")
		}
		return 1, nil
	}
	q, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, rest.Errorf(http.StatusBadRequest, CodeInvalidQuantity, "quantity %s is not a whole number", raw)
	}
	if q < 1 {
		return 0, rest.Errorf(http.StatusBadRequest, CodeInvalidQuantity, "quantity %d is not at least 1", q)
	}
	return q, nil
}

// pathUser returns the request's user_id, answering 400 if it is not an
// id.
func pathUser(w http.ResponseWriter, r *http.Request, log *slog.Logger) (string, bool) {
	user := r.PathValue("user_id")
	if !ingest.IsID(user) {
		rest.WriteError(w, log, badParam("user_id", "%q is not an id: %s", user, idRule))
		return "", false
	}
	return user, true
}

// pathUserItem returns the request's user_id and item_id, answering 400 if
// either is not an id.
func pathUserItem(w http.ResponseWriter, r *http.Request, log *slog.Logger) (string, string, bool) {
	user, ok := pathUser(w, r, log)
	if !ok {
		return "", "", false
	}
	item := r.PathValue("item_id")
	if !ingest.IsID(item) {
		rest.WriteError(w, log, badParam("item_id", "%q is not an id: %s", item, idRule))
		return "", "", false
	}
	return user, item, true
}

// idRule is what ingest.IsID accepts.
const idRule = "1 to 64 letters, digits and . _ : -, starting with a letter or digit"

// bodyItem checks the item_id of a request body.
func bodyItem(item string) *rest.Error {
	if item == "" {
		return rest.Errorf(http.StatusBadRequest, CodeInvalidBody, "item_id is required").WithDetails(map[string]string{"field": "item_id"})
	}
	if !ingest.IsID(item) {
		return rest.Errorf(http.StatusBadRequest, CodeInvalidBody, "item_id %q is not an id: %s", item, idRule).WithDetails(map[string]string{"field": "item_id"})
	}
	return nil
}

func notInCart(item string) *rest.Error {
	return rest.Errorf(http.StatusNotFound, CodeNotInCart, "item %q is not in the cart", item).WithDetails(map[string]string{"item_id": item})
}

func notInWishlist(item string) *rest.Error {
	return rest.Errorf(http.StatusNotFound, CodeNotInWishlist, "item %q is not in the wishlist", item).WithDetails(map[string]string{"item_id": item})
}
