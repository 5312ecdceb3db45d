package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/api"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/cart"
	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/processors/inventory"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

// gokaTable is a goka view or processor: either reads a group table.
type gokaTable interface {
	Recovered() bool
	Get(key string) (any, error)
}

func gokaGet[T any](tb gokaTable, key string) (T, bool, error) {
	var zero T
	if !tb.Recovered() {
		return zero, false, fmt.Errorf("table still recovering")
	}
	v, err := tb.Get(key)
	if err != nil || v == nil {
		return zero, false, err
	}
	return v.(T), true, nil
}

// shopTables reads the catalog, inventory and cart tables through goka, as
// production does: the API's Catalog and CartReader.
type shopTables struct{ items, stock, carts gokaTable }

func (t shopTables) Item(id string) (catalog.Item, bool, error) {
	return gokaGet[catalog.Item](t.items, id)
}
func (t shopTables) Stock(id string) (inventory.Stock, bool, error) {
	return gokaGet[inventory.Stock](t.stock, id)
}
func (t shopTables) Cart(id string) (cart.Cart, bool, error) { return gokaGet[cart.Cart](t.carts, id) }

// shop runs the catalog, inventory and cart processors over the Kafka
// protocol, a goka view of the cart table, and the cart routes on it.
type shop struct {
	k         *pt.Kafka
	tables    shopTables
	producer  *eventlog.Producer
	cartGroup goka.Group
	stopCart  func()
	url       string
	user      string
	// Items in the catalog: tv (USD 499.99, 3 on hand), lamp (USD 29.99,
	// no stock) and cable (USD 9.99, 50 on hand).
	tv, lamp, cable string
}

const (
	tvPrice    = 49999
	lampPrice  = 2999
	cablePrice = 999
)

func openShop(t *testing.T) *shop {
	t.Helper()
	k := pt.StartKafka(t)
	s := &shop{k: k, user: testkafka.Unique("user"),
		tv: testkafka.Unique("tv"), lamp: testkafka.Unique("lamp"), cable: testkafka.Unique("cable")}
	catalogGroup, inventoryGroup := goka.Group(testkafka.Unique("catalog")), goka.Group(testkafka.Unique("inventory"))
	s.cartGroup = goka.Group(testkafka.Unique("cart"))
	k.StartGroupAtEnd(t, catalogGroup, topics.SupplierItems)
	k.StartGroupAtEnd(t, inventoryGroup, topics.SupplierStock)
	k.StartGroupAtEnd(t, s.cartGroup, topics.CartCommands)
	k.Produce(t,
		itemUpsert(t, s.tv, "TV", tvPrice), itemUpsert(t, s.lamp, "Lamp", lampPrice), itemUpsert(t, s.cable, "Cable", cablePrice),
		pt.Record(t, topics.SupplierStock, pt.Event(t, topics.TypeSupplierStockLevel, s.tv, topics.SupplierStockLevel{SupplierID: "s-1", ItemID: s.tv, WarehouseID: "w-1", OnHand: 3})),
		pt.Record(t, topics.SupplierStock, pt.Event(t, topics.TypeSupplierStockLevel, s.cable, topics.SupplierStockLevel{SupplierID: "s-1", ItemID: s.cable, WarehouseID: "w-1", OnHand: 50})),
	)

	rt := k.Runtime()
	items, _ := pt.Run(t, rt, catalog.Graph(catalogGroup, rt))
	stock, _ := pt.Run(t, rt, inventory.Graph(inventoryGroup, rt))
	_, s.stopCart = pt.Run(t, rt, cart.Graph(s.cartGroup, rt))
	view, err := rt.NewView(goka.GroupTable(s.cartGroup), cart.Codec{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- processors.Run(ctx, view) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cart view stopped with %v", err)
		}
	})
	s.tables = shopTables{items: items, stock: stock, carts: view}
	waitUntil(t, "the catalog, stock and cart view", func() bool {
		_, tv, _ := s.tables.Item(s.tv)
		_, cable, _ := s.tables.Stock(s.cable)
		return tv && cable && view.Recovered()
	})

	if s.producer, err = eventlog.NewProducer([]kgo.Opt{kgo.SeedBrokers(k.Brokers...)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.producer.Close(context.Background()) })
	s.url = s.serve(t)
	return s
}

// serve mounts the cart routes with opts on a new test server.
func (s *shop) serve(t *testing.T, opts ...api.CartOption) string {
	mux := http.NewServeMux()
	api.NewCarts(s.producer, s.tables, s.tables, opts...).Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func itemUpsert(t *testing.T, item, title string, price int64) *kgo.Record {
	return pt.Record(t, topics.SupplierItems, pt.Event(t, topics.TypeSupplierItemUpserted, item, topics.SupplierItemUpserted{
		SupplierID: "s-1", ItemID: item, Title: title, Category: "home", PriceCents: price, Currency: "USD"}))
}

// waitUntil waits for cond, which the pipeline makes true shortly.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not there after 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type cartStock struct {
	OnHand  int64 `json:"on_hand"`
	InStock bool  `json:"in_stock"`
}

type cartItem struct {
	ItemID          string    `json:"item_id"`
	Title           string    `json:"title"`
	InCatalog       bool      `json:"in_catalog"`
	PriceAtAddCents int64     `json:"price_at_add_cents"`
	CurrencyAtAdd   string    `json:"currency_at_add"`
	PriceCents      int64     `json:"price_cents"`
	Currency        string    `json:"currency"`
	PriceChanged    bool      `json:"price_changed"`
	Stock           cartStock `json:"stock"`
	AddedAt         time.Time `json:"added_at"`
	Quantity        int64     `json:"quantity"`
	LineTotalCents  int64     `json:"line_total_cents"`
}

// cartAnswer is any answer of the cart routes: a cart, a wishlist, a pending
// command or an error.
type cartAnswer struct {
	status       int
	UserID       string         `json:"user_id"`
	Version      int64          `json:"version"`
	Lines        []cartItem     `json:"lines"`
	Items        []cartItem     `json:"items"`
	ItemCount    int64          `json:"item_count"`
	Totals       []topics.Money `json:"totals"`
	PriceChanged bool           `json:"price_changed"`
	MaxPerLine   int64          `json:"max_per_line"`
	Status       string         `json:"status"`
	EventID      string         `json:"event_id"`
	Error        struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

// line returns the answer's cart line or wishlist item of item.
func (a cartAnswer) line(item string) (cartItem, bool) {
	for _, l := range append(a.Lines, a.Items...) {
		if l.ItemID == item {
			return l, true
		}
	}
	return cartItem{}, false
}

// summary renders a cart as "item:quantity" or a wishlist as "item", in
// order, with the shop's items by name.
func (s *shop) summary(a cartAnswer) string {
	names := map[string]string{s.tv: "tv", s.lamp: "lamp", s.cable: "cable"}
	var out []string
	for _, l := range a.Lines {
		out = append(out, fmt.Sprintf("%s:%d", names[l.ItemID], l.Quantity))
	}
	for _, l := range a.Items {
		out = append(out, names[l.ItemID])
	}
	return strings.Join(out, " ")
}

func (s *shop) call(t *testing.T, base, method, path, body string) cartAnswer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := cartAnswer{status: resp.StatusCode}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s %s: %d answer is not JSON: %s", method, path, resp.StatusCode, raw)
	}
	return a
}

// do calls the shop's server on the user's cart or wishlist.
func (s *shop) do(t *testing.T, method, path, body string) cartAnswer {
	t.Helper()
	return s.call(t, s.url, method, "/v1/users/"+s.user+path, body)
}

// ok calls and fails the test unless the answer is a 200.
func (s *shop) ok(t *testing.T, method, path, body string) cartAnswer {
	t.Helper()
	a := s.do(t, method, path, body)
	if a.status != http.StatusOK {
		t.Fatalf("%s %s %s: %d %+v", method, path, body, a.status, a.Error)
	}
	return a
}

// applied waits until the cart view shows the event applied.
func (s *shop) applied(t *testing.T, eventID string) {
	t.Helper()
	waitUntil(t, "event "+eventID+" applied", func() bool {
		c, _, _ := s.tables.Cart(s.user)
		return c.Applied.Has(eventID)
	})
}

// The routes and the processor together: every write answers with the
// cart that shows it (read-your-writes through the view), prices at add
// stay beside current prices, an order's cart.cleared empties the cart,
// a duplicate command applies once, and a restarted processor without
// local state recovers the table from its changelog.
func TestCartEndToEnd(t *testing.T) {
	s := openShop(t)

	if a := s.ok(t, "GET", "/cart", ""); a.UserID != s.user || a.Version != 0 || len(a.Lines) != 0 || a.Lines == nil || a.Totals == nil || a.MaxPerLine != cart.DefaultMaxPerLine {
		t.Fatalf("a new user's cart: %+v", a)
	}

	a := s.ok(t, "POST", "/cart", fmt.Sprintf(`{"item_id":%q,"quantity":2}`, s.tv))
	tv, _ := a.line(s.tv)
	if a.Version != 1 || tv.Title != "TV" || tv.Quantity != 2 || tv.PriceAtAddCents != tvPrice || tv.PriceCents != tvPrice || tv.Currency != "USD" ||
		tv.LineTotalCents != 2*tvPrice || tv.Stock != (cartStock{OnHand: 3, InStock: true}) || !tv.InCatalog || tv.PriceChanged || tv.AddedAt.IsZero() {
		t.Fatalf("after the first add: %+v", a)
	}
	if a := s.ok(t, "POST", "/cart", fmt.Sprintf(`{"item_id":%q}`, s.tv)); s.summary(a) != "tv:3" || a.Version != 2 {
		t.Fatalf("adding again (one by default): %s, version %d", s.summary(a), a.Version)
	}
	if a := s.ok(t, "POST", "/cart", fmt.Sprintf(`{"item_id":%q,"quantity":4}`, s.cable)); s.summary(a) != "tv:3 cable:4" || a.ItemCount != 7 {
		t.Fatalf("a second line: %s, %d items", s.summary(a), a.ItemCount)
	}
	if a := s.ok(t, "PUT", "/cart/"+s.tv, `{"quantity":1}`); s.summary(a) != "tv:1 cable:4" {
		t.Fatalf("set quantity: %s", s.summary(a))
	}
	if a := s.ok(t, "DELETE", "/cart/"+s.cable, ""); s.summary(a) != "tv:1" {
		t.Fatalf("remove: %s", s.summary(a))
	}

	// The TV gets cheaper: the cart shows both prices and totals at the
	// current one.
	s.k.Produce(t, itemUpsert(t, s.tv, "TV", 44999))
	waitUntil(t, "the new TV price", func() bool { it, _, _ := s.tables.Item(s.tv); return it.PriceCents == 44999 })
	a = s.ok(t, "GET", "/cart", "")
	tv, _ = a.line(s.tv)
	if tv.PriceAtAddCents != tvPrice || tv.PriceCents != 44999 || !tv.PriceChanged || !a.PriceChanged || len(a.Totals) != 1 || a.Totals[0] != (topics.Money{AmountCents: 44999, Currency: "USD"}) {
		t.Fatalf("after the price change: %+v", a)
	}

	a = s.ok(t, "POST", "/wishlist", fmt.Sprintf(`{"item_id":%q}`, s.lamp))
	if lamp, _ := a.line(s.lamp); s.summary(a) != "lamp" || lamp.PriceAtAddCents != lampPrice || lamp.Stock.InStock || lamp.Title != "Lamp" {
		t.Fatalf("wish: %+v", a)
	}
	if a := s.ok(t, "POST", "/wishlist", fmt.Sprintf(`{"item_id":%q}`, s.lamp)); s.summary(a) != "lamp" {
		t.Fatalf("wishing again: %s", s.summary(a))
	}
	if a := s.ok(t, "POST", "/wishlist", fmt.Sprintf(`{"item_id":%q}`, s.cable)); s.summary(a) != "lamp cable" {
		t.Fatalf("wish another: %s", s.summary(a))
	}
	a = s.ok(t, "POST", "/wishlist/"+s.lamp+"/move-to-cart", `{"quantity":2}`)
	if lamp, _ := a.line(s.lamp); s.summary(a) != "tv:1 lamp:2" || lamp.PriceAtAddCents != lampPrice {
		t.Fatalf("move to cart: %+v", a)
	}
	if a := s.ok(t, "POST", "/wishlist/"+s.cable+"/move-to-cart", ""); s.summary(a) != "tv:1 lamp:2 cable:1" {
		t.Fatalf("move to cart without a body moves one: %s", s.summary(a))
	}
	if a := s.ok(t, "GET", "/wishlist", ""); s.summary(a) != "" || a.Items == nil {
		t.Fatalf("wishlist after the moves: %+v", a)
	}
	s.ok(t, "POST", "/wishlist", fmt.Sprintf(`{"item_id":%q}`, s.tv))
	if a := s.ok(t, "DELETE", "/wishlist/"+s.tv, ""); s.summary(a) != "" {
		t.Fatalf("unwish: %s", s.summary(a))
	}
	s.ok(t, "POST", "/wishlist", fmt.Sprintf(`{"item_id":%q}`, s.lamp))

	if a := s.ok(t, "DELETE", "/cart", ""); s.summary(a) != "" || a.ItemCount != 0 || len(a.Totals) != 0 {
		t.Fatalf("clear: %+v", a)
	}
	if a := s.ok(t, "GET", "/wishlist", ""); s.summary(a) != "lamp" {
		t.Fatalf("the clear emptied the wishlist too: %s", s.summary(a))
	}
	a = s.ok(t, "POST", "/cart", fmt.Sprintf(`{"item_id":%q}`, s.tv))
	if tv, _ := a.line(s.tv); tv.PriceAtAddCents != 44999 || tv.PriceChanged {
		t.Fatalf("a new line takes the current price: %+v", tv)
	}

	// The checkout outbox clears the cart its order was made of.
	order := pt.Event(t, topics.TypeCartCleared, s.user, topics.CartCleared{UserID: s.user, OrderID: testkafka.Unique("order")})
	s.k.Produce(t, pt.Record(t, topics.CartCommands, order))
	s.applied(t, order.ID)
	if a := s.ok(t, "GET", "/cart", ""); s.summary(a) != "" {
		t.Fatalf("after the order: %s", s.summary(a))
	}
	if c, _, _ := s.tables.Cart(s.user); c.LastOrderID != order.Data.(topics.CartCleared).OrderID {
		t.Errorf("last order %q", c.LastOrderID)
	}

	// A command produced twice (a producer retry) applies once.
	dup := pt.Event(t, topics.TypeCartItemAdded, s.user, topics.CartLine{UserID: s.user, ItemID: s.cable, Quantity: 2, PriceCents: cablePrice, Currency: "USD"})
	after := pt.Event(t, topics.TypeCartItemAdded, s.user, topics.CartLine{UserID: s.user, ItemID: s.tv, Quantity: 1, PriceCents: 44999, Currency: "USD"})
	s.k.Produce(t, pt.Record(t, topics.CartCommands, dup), pt.Record(t, topics.CartCommands, dup), pt.Record(t, topics.CartCommands, after))
	s.applied(t, after.ID)
	if a := s.ok(t, "GET", "/cart", ""); s.summary(a) != "cable:2 tv:1" {
		t.Fatalf("after a duplicate: %s", s.summary(a))
	}

	// An item the catalog does not know (added by another producer) shows
	// at its price at add.
	ghost := testkafka.Unique("ghost")
	odd := pt.Event(t, topics.TypeCartItemAdded, s.user, topics.CartLine{UserID: s.user, ItemID: ghost, Quantity: 1, PriceCents: 500, Currency: "EUR"})
	s.k.Produce(t, pt.Record(t, topics.CartCommands, odd))
	s.applied(t, odd.ID)
	a = s.ok(t, "GET", "/cart", "")
	if g, _ := a.line(ghost); g.InCatalog || g.PriceCents != 500 || g.Currency != "EUR" || g.LineTotalCents != 500 || g.Stock.InStock ||
		len(a.Totals) != 2 || a.Totals[0] != (topics.Money{AmountCents: 500, Currency: "EUR"}) || a.Totals[1] != (topics.Money{AmountCents: 2*cablePrice + 44999, Currency: "USD"}) {
		t.Fatalf("an item out of the catalog: %+v", a)
	}
	s.ok(t, "DELETE", "/cart/"+ghost, "")

	// With the processor stopped a write is accepted but pending: 202.
	s.stopCart()
	pendingURL := s.serve(t, api.CartCatchUp(50*time.Millisecond))
	pending := s.call(t, pendingURL, "POST", "/v1/users/"+s.user+"/cart", fmt.Sprintf(`{"item_id":%q,"quantity":3}`, s.lamp))
	if pending.status != http.StatusAccepted || pending.Status != "pending" || pending.EventID == "" {
		t.Fatalf("a write the processor cannot apply: %+v", pending)
	}
	// Another instance, without the local state, recovers the table from
	// its changelog and applies the pending command on top of it.
	rt := processors.NewRuntime(s.k.Brokers, t.TempDir(), 5*time.Second)
	pt.Run(t, rt, cart.Graph(s.cartGroup, rt))
	s.applied(t, pending.EventID)
	if a := s.ok(t, "GET", "/cart", ""); s.summary(a) != "cable:2 tv:1 lamp:3" {
		t.Fatalf("after the restart: %s", s.summary(a))
	}
	if a := s.ok(t, "PUT", "/cart/"+s.lamp, `{"quantity":1}`); s.summary(a) != "cable:2 tv:1 lamp:1" {
		t.Fatalf("a write after the restart: %s", s.summary(a))
	}
	if a := s.ok(t, "GET", "/wishlist", ""); s.summary(a) != "lamp" {
		t.Fatalf("the wishlist after the restart: %s", s.summary(a))
	}
}

// Bad requests get a 4xx with a code and produce nothing.
func TestCartRefusesBadInput(t *testing.T) {
	s := openShop(t)
	s.ok(t, "POST", "/cart", fmt.Sprintf(`{"item_id":%q,"quantity":8}`, s.tv))
	commands := s.k.Tail(t, topics.CartCommands)
	unknown := testkafka.Unique("nope")
	item := func(id string, quantity string) string {
		return fmt.Sprintf(`{"item_id":%q,"quantity":%s}`, id, quantity)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/users/bad%20user/cart", "", 400, "invalid_parameter"},
		{"GET", "/v1/users/" + strings.Repeat("u", 65) + "/wishlist", "", 400, "invalid_parameter"},
		{"POST", "/v1/users/-u/cart", item(s.tv, "1"), 400, "invalid_parameter"},
		{"POST", "/cart", item(unknown, "1"), 404, api.CodeItemNotFound},
		{"POST", "/cart", item(s.tv, "0"), 400, api.CodeInvalidQuantity},
		{"POST", "/cart", item(s.tv, "-1"), 400, api.CodeInvalidQuantity},
		{"POST", "/cart", item(s.tv, `"2"`), 400, api.CodeInvalidQuantity},
		{"POST", "/cart", item(s.tv, "1.5"), 400, api.CodeInvalidQuantity},
		{"POST", "/cart", item(s.tv, "1e1"), 400, api.CodeInvalidQuantity},
		{"POST", "/cart", item(s.tv, "null"), 400, api.CodeInvalidQuantity},
		{"POST", "/cart", item(s.tv, "99999999999999999999"), 400, api.CodeInvalidQuantity},
		{"POST", "/cart", item(s.cable, "11"), 422, api.CodeQuantityOverCap},
		{"POST", "/cart", item(s.tv, "3"), 422, api.CodeQuantityOverCap},
		{"POST", "/cart", item(s.tv, "9223372036854775807"), 422, api.CodeQuantityOverCap},
		{"POST", "/cart", `{}`, 400, api.CodeInvalidBody},
		{"POST", "/cart", `{"item_id":"bad id"}`, 400, api.CodeInvalidBody},
		{"POST", "/cart", ``, 400, "invalid_json"},
		{"POST", "/cart", `not json`, 400, "invalid_json"},
		{"POST", "/cart", `[]`, 400, "invalid_json"},
		{"POST", "/cart", `{"item_id":5}`, 400, "invalid_json"},
		{"POST", "/cart", fmt.Sprintf(`{"item_id":%q,"price_cents":1}`, s.tv), 400, "invalid_json"},
		{"POST", "/cart", `{"item_id":"` + strings.Repeat("x", 5000) + `"}`, 413, "body_too_large"},
		{"PUT", "/cart/" + s.tv, `{}`, 400, api.CodeInvalidQuantity},
		{"PUT", "/cart/" + s.tv, `{"quantity":0}`, 400, api.CodeInvalidQuantity},
		{"PUT", "/cart/" + s.tv, `{"quantity":11}`, 422, api.CodeQuantityOverCap},
		{"PUT", "/cart/" + s.cable, `{"quantity":1}`, 404, api.CodeNotInCart},
		{"PUT", "/cart/bad%20id", `{"quantity":1}`, 400, "invalid_parameter"},
		{"DELETE", "/cart/" + s.cable, "", 404, api.CodeNotInCart},
		{"DELETE", "/cart/" + strings.Repeat("i", 65), "", 400, "invalid_parameter"},
		{"POST", "/wishlist", `{}`, 400, api.CodeInvalidBody},
		{"POST", "/wishlist", fmt.Sprintf(`{"item_id":%q}`, unknown), 404, api.CodeItemNotFound},
		{"POST", "/wishlist", item(s.tv, "1"), 400, "invalid_json"},
		{"DELETE", "/wishlist/" + s.cable, "", 404, api.CodeNotInWishlist},
		{"POST", "/wishlist/" + s.cable + "/move-to-cart", "", 404, api.CodeNotInWishlist},
		{"POST", "/wishlist/" + s.cable + "/move-to-cart", `{"quantity":-2}`, 400, api.CodeInvalidQuantity},
	} {
		path := tc.path
		if !strings.HasPrefix(path, "/v1/") {
			path = "/v1/users/" + s.user + path
		}
		a := s.call(t, s.url, tc.method, path, tc.body)
		if a.status != tc.status || a.Error.Code != tc.code || a.Error.Message == "" {
			t.Errorf("%s %s %.60s: %d %+v; want %d %s", tc.method, tc.path, tc.body, a.status, a.Error, tc.status, tc.code)
		}
	}
	over := s.do(t, "POST", "/cart", item(s.tv, "3"))
	if d := over.Error.Details; d["max_per_line"] != float64(10) || d["in_cart"] != float64(8) || d["requested"] != float64(3) {
		t.Errorf("over the cap: details %v", d)
	}
	req, _ := http.NewRequest("POST", s.url+"/v1/users/"+s.user+"/cart", strings.NewReader(item(s.tv, "1")))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("a text body: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Only the next valid command reached Kafka.
	a := s.ok(t, "PUT", "/cart/"+s.tv, `{"quantity":10}`)
	if s.summary(a) != "tv:10" || a.Version != 2 {
		t.Errorf("after the refusals: %s version %d", s.summary(a), a.Version)
	}
	// Records of one key keep their order: any refused request that
	// produced would show before the set.
	got := commands.Until(t, 30*time.Second, pt.Keys(s.user), func(evs []topics.Event) bool {
		return slices.ContainsFunc(evs, func(ev topics.Event) bool { return ev.Type == topics.TypeCartItemQuantitySet })
	})
	if len(got) != 1 {
		t.Errorf("commands produced: %+v, want the set only", got)
	}
}

// Adds racing for one line each pass the edge's check on the cart as it
// reads it; the processor refuses the ones the line can no longer take,
// and the edge answers those 422 quantity_over_cap (read from the
// refusal the cart records), never a 202 that would leave the shopper
// guessing. The line ends at exactly the accepted adds.
func TestRacingAddsGetTheProcessorsRefusal(t *testing.T) {
	s := openShop(t)
	const racers, each = 8, 3 // 24 units for a line capped at 10
	answers := make([]cartAnswer, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			answers[i] = s.do(t, "POST", "/cart", fmt.Sprintf(`{"item_id":%q,"quantity":%d}`, s.lamp, each))
		})
	}
	wg.Wait()
	accepted := 0
	for _, a := range answers {
		switch {
		case a.status == http.StatusOK:
			accepted++
		case a.status != http.StatusUnprocessableEntity || a.Error.Code != api.CodeQuantityOverCap:
			t.Errorf("an add answered %d %+v", a.status, a.Error)
		}
	}
	lamp, _ := s.ok(t, "GET", "/cart", "").line(s.lamp)
	if accepted == 0 || lamp.Quantity != int64(accepted*each) || lamp.Quantity > cart.DefaultMaxPerLine {
		t.Fatalf("%d adds accepted, the line holds %d (cap %d)", accepted, lamp.Quantity, cart.DefaultMaxPerLine)
	}
}
