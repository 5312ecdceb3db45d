package cart_test

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/cart"
	"github.com/shopstream/shopstream/topics"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func line(item string, quantity, price int64) topics.CartLine {
	return topics.CartLine{UserID: "u-1", ItemID: item, Quantity: quantity, PriceCents: price, Currency: "USD"}
}

func cmd(typ string, data any) topics.Event {
	return topics.Event{Type: typ, Key: "u-1", Data: data}
}

// lines renders the cart lines as "item:quantity@price" and the wishlist
// as "item@price", for comparing a whole cart in one string.
func lines(c cart.Cart) string {
	var s []string
	for _, l := range c.Lines {
		s = append(s, fmt.Sprintf("%s:%d@%d", l.ItemID, l.Quantity, l.PriceCents))
	}
	s = append(s, "|")
	for _, e := range c.Wishlist {
		s = append(s, fmt.Sprintf("%s@%d", e.ItemID, e.PriceCents))
	}
	return strings.Join(s, " ")
}

// The rules applied in sequence to one user's cart, each step against the
// cart the previous ones left.
func TestApply(t *testing.T) {
	rules := cart.Rules{MaxPerLine: 5}
	steps := []struct {
		name    string
		id      string
		ev      topics.Event
		want    processors.Outcome
		version int64
		cart    string
		reason  string
	}{
		{name: "add", id: "e1", ev: cmd(topics.TypeCartItemAdded, line("tv", 2, 1000)),
			want: processors.Store, version: 1, cart: "tv:2@1000 |"},
		{name: "adding again sums and keeps the first price", id: "e2", ev: cmd(topics.TypeCartItemAdded, line("tv", 1, 900)),
			want: processors.Store, version: 2, cart: "tv:3@1000 |"},
		{name: "a second line", id: "e3", ev: cmd(topics.TypeCartItemAdded, line("cable", 1, 50)),
			want: processors.Store, version: 3, cart: "tv:3@1000 cable:1@50 |"},
		{name: "a duplicate is skipped", id: "e2", ev: cmd(topics.TypeCartItemAdded, line("tv", 1, 900)),
			want: processors.Skip, version: 3, cart: "tv:3@1000 cable:1@50 |"},
		{name: "an add over the cap is refused", id: "e4", ev: cmd(topics.TypeCartItemAdded, line("tv", 3, 1000)),
			want: processors.Refuse, version: 3, cart: "tv:3@1000 cable:1@50 |", reason: "3 more on a line of 3 is over the cap of 5 per line"},
		{name: "an add up to the cap", id: "e5", ev: cmd(topics.TypeCartItemAdded, line("tv", 2, 1000)),
			want: processors.Store, version: 4, cart: "tv:5@1000 cable:1@50 |"},
		{name: "set quantity keeps the price", id: "e6", ev: cmd(topics.TypeCartItemQuantitySet, line("tv", 1, 700)),
			want: processors.Store, version: 5, cart: "tv:1@1000 cable:1@50 |"},
		{name: "set quantity over the cap", id: "e7", ev: cmd(topics.TypeCartItemQuantitySet, line("tv", 6, 0)),
			want: processors.Refuse, version: 5, cart: "tv:1@1000 cable:1@50 |", reason: "over the cap of 5"},
		{name: "set quantity zero", id: "e8", ev: cmd(topics.TypeCartItemQuantitySet, line("tv", 0, 0)),
			want: processors.Reject, version: 5, cart: "tv:1@1000 cable:1@50 |", reason: "quantity 0 is not at least 1"},
		{name: "an add too large to sum", id: "e4b", ev: cmd(topics.TypeCartItemAdded, line("tv", math.MaxInt64, 1000)),
			want: processors.Refuse, version: 5, cart: "tv:1@1000 cable:1@50 |", reason: "over the cap of 5"},
		{name: "add a negative quantity", id: "e9", ev: cmd(topics.TypeCartItemAdded, line("tv", -1, 1000)),
			want: processors.Reject, version: 5, cart: "tv:1@1000 cable:1@50 |", reason: "quantity -1 is not at least 1"},
		{name: "set on a line removed meanwhile records its id only", id: "e10", ev: cmd(topics.TypeCartItemQuantitySet, line("radio", 2, 0)),
			want: processors.Store, version: 6, cart: "tv:1@1000 cable:1@50 |"},
		{name: "remove", id: "e11", ev: cmd(topics.TypeCartItemRemoved, line("cable", 0, 0)),
			want: processors.Store, version: 7, cart: "tv:1@1000 |"},
		{name: "wish", id: "e12", ev: cmd(topics.TypeWishlistItemAdded, line("lamp", 0, 300)),
			want: processors.Store, version: 8, cart: "tv:1@1000 | lamp@300"},
		{name: "wishing again keeps the first price", id: "e13", ev: cmd(topics.TypeWishlistItemAdded, line("lamp", 0, 250)),
			want: processors.Store, version: 9, cart: "tv:1@1000 | lamp@300"},
		{name: "wish another", id: "e14", ev: cmd(topics.TypeWishlistItemAdded, line("desk", 0, 9000)),
			want: processors.Store, version: 10, cart: "tv:1@1000 | lamp@300 desk@9000"},
		{name: "a move without a quantity moves one at the command's price", id: "e15", ev: cmd(topics.TypeWishlistItemMovedToCart, line("lamp", 0, 280)),
			want: processors.Store, version: 11, cart: "tv:1@1000 lamp:1@280 | desk@9000"},
		{name: "a move onto a line sums and keeps its price", id: "e16", ev: cmd(topics.TypeWishlistItemMovedToCart, line("tv", 2, 800)),
			want: processors.Store, version: 12, cart: "tv:3@1000 lamp:1@280 | desk@9000"},
		{name: "a move over the cap leaves the wishlist", id: "e17", ev: cmd(topics.TypeWishlistItemMovedToCart, line("desk", 9, 9000)),
			want: processors.Refuse, version: 12, cart: "tv:3@1000 lamp:1@280 | desk@9000", reason: "9 more on a line of 0 is over the cap"},
		{name: "unwish", id: "e18", ev: cmd(topics.TypeWishlistItemRemoved, line("desk", 0, 0)),
			want: processors.Store, version: 13, cart: "tv:3@1000 lamp:1@280 |"},
		{name: "unwish what is not wished records its id only", id: "e19", ev: cmd(topics.TypeWishlistItemRemoved, line("desk", 0, 0)),
			want: processors.Store, version: 14, cart: "tv:3@1000 lamp:1@280 |"},
		{name: "wish again for the clear", id: "e20", ev: cmd(topics.TypeWishlistItemAdded, line("desk", 0, 9000)),
			want: processors.Store, version: 15, cart: "tv:3@1000 lamp:1@280 | desk@9000"},
		{name: "an order's clear empties the cart, not the wishlist", id: "e21", ev: cmd(topics.TypeCartCleared, topics.CartCleared{UserID: "u-1", OrderID: "o-1"}),
			want: processors.Store, version: 16, cart: "| desk@9000"},
		{name: "an add after the clear starts a new line", id: "e22", ev: cmd(topics.TypeCartItemAdded, line("tv", 1, 950)),
			want: processors.Store, version: 17, cart: "tv:1@950 | desk@9000"},
		{name: "a command of another user", id: "e23", ev: cmd(topics.TypeCartItemAdded, topics.CartLine{UserID: "u-2", ItemID: "tv", Quantity: 1, PriceCents: 1, Currency: "USD"}),
			want: processors.Reject, version: 17, cart: "tv:1@950 | desk@9000", reason: `record key "u-1" is not the user_id "u-2"`},
		{name: "a bad item id", id: "e24", ev: cmd(topics.TypeCartItemRemoved, line("no spaces", 0, 0)),
			want: processors.Reject, version: 17, cart: "tv:1@950 | desk@9000", reason: `item_id "no spaces" is not an id`},
		{name: "an add without a currency", id: "e25", ev: cmd(topics.TypeCartItemAdded, topics.CartLine{UserID: "u-1", ItemID: "x", Quantity: 1, PriceCents: 5}),
			want: processors.Reject, version: 17, cart: "tv:1@950 | desk@9000", reason: `unknown currency ""`},
		{name: "a wish at a negative price", id: "e26", ev: cmd(topics.TypeWishlistItemAdded, line("x", 0, -5)),
			want: processors.Reject, version: 17, cart: "tv:1@950 | desk@9000", reason: "negative amount -5"},
		{name: "a clear with a bad order id", id: "e27", ev: cmd(topics.TypeCartCleared, topics.CartCleared{UserID: "u-1", OrderID: "o 1"}),
			want: processors.Reject, version: 17, cart: "tv:1@950 | desk@9000", reason: `order_id "o 1" is not an id`},
		{name: "an event that does not belong", id: "e28", ev: cmd(topics.TypeOrderPlaced, topics.OrderTransition{OrderID: "o-1"}),
			want: processors.Reject, version: 17, cart: "tv:1@950 | desk@9000", reason: `event type "order.placed" does not belong on cart.commands`},
		{name: "a user's own clear", id: "e29", ev: cmd(topics.TypeCartCleared, topics.CartCleared{UserID: "u-1"}),
			want: processors.Store, version: 18, cart: "| desk@9000"},
	}
	var (
		c        cart.Cart
		wishedAt time.Time // of the desk's last wish, e20
	)
	for i, s := range steps {
		in := processors.In{ID: s.id, Key: "u-1", At: t0.Add(time.Duration(i) * time.Minute),
			Pos: processors.Position{Topic: topics.CartCommands, Offset: int64(i)}}
		next, v := rules.Apply(c, in, s.ev)
		if v.Outcome != s.want || next.Version != s.version || lines(next) != s.cart || !strings.Contains(v.Reason, s.reason) {
			t.Fatalf("step %d (%s): outcome %v version %d cart %q reason %q; want %v %d %q %q",
				i, s.name, v.Outcome, next.Version, lines(next), v.Reason, s.want, s.version, s.cart, s.reason)
		}
		if v.Outcome == processors.Store && (!next.Applied.Has(s.id) || !next.UpdatedAt.Equal(in.At) || next.UserID != "u-1") {
			t.Fatalf("step %d (%s): applied %v, updated at %v, user %q", i, s.name, next.Applied.IDs, next.UpdatedAt, next.UserID)
		}
		// A refusal is recorded for the edge: applied, with its reason and
		// code, the lines untouched; a malformed command leaves no trace.
		r, refused := next.Refused.Of(s.id)
		if v.Outcome == processors.Refuse && (!refused || !next.Applied.Has(s.id) || r.Code != cart.RefusedOverCap || r.Reason != v.Reason) ||
			v.Outcome == processors.Reject && (refused || next.Applied.Has(s.id)) {
			t.Fatalf("step %d (%s): %v recorded %+v, applied %v", i, s.name, v.Outcome, r, next.Applied.IDs)
		}
		if s.id == "e20" {
			wishedAt = in.At
		}
		c = next
	}
	if c.LastOrderID != "o-1" {
		t.Errorf("last order %q, want o-1", c.LastOrderID)
	}
	if e, _ := c.Wished("desk"); !e.AddedAt.Equal(wishedAt) {
		t.Errorf("desk wished at %v, want the event time of its add", e.AddedAt)
	}
}

// Rules are pure: applying to a cart never writes through to it.
func TestApplyLeavesTheCurrentCart(t *testing.T) {
	cur := cart.Cart{
		Lines:    make([]cart.Line, 1, 8),
		Wishlist: make([]cart.Entry, 1, 8),
	}
	cur.Lines[0] = cart.Line{ItemID: "tv", Quantity: 1, PriceCents: 10, Currency: "USD"}
	cur.Wishlist[0] = cart.Entry{ItemID: "tv", PriceCents: 10, Currency: "USD"}
	before := lines(cur)
	for i, ev := range []topics.Event{
		cmd(topics.TypeCartItemAdded, line("tv", 1, 10)),
		cmd(topics.TypeCartItemAdded, line("radio", 1, 10)),
		cmd(topics.TypeCartItemQuantitySet, line("tv", 4, 0)),
		cmd(topics.TypeCartItemRemoved, line("tv", 0, 0)),
		cmd(topics.TypeWishlistItemAdded, line("lamp", 0, 10)),
		cmd(topics.TypeWishlistItemRemoved, line("tv", 0, 0)),
		cmd(topics.TypeWishlistItemMovedToCart, line("tv", 1, 10)),
		cmd(topics.TypeCartCleared, topics.CartCleared{UserID: "u-1"}),
	} {
		next, v := cart.DefaultRules.Apply(cur, processors.In{ID: fmt.Sprint(i), Key: "u-1"}, ev)
		if v.Outcome != processors.Store || lines(next) == before {
			t.Fatalf("%s: outcome %v, cart %q", ev.Type, v.Outcome, lines(next))
		}
		if got := lines(cur); got != before || len(cur.Applied.IDs) != 0 {
			t.Fatalf("%s wrote through to the current cart: %q, want %q", ev.Type, got, before)
		}
	}
}

func TestCartAndWishlistHoldAtMostMaxLines(t *testing.T) {
	var c cart.Cart
	for i := range cart.MaxLines {
		in := processors.In{ID: fmt.Sprint("e", i), Key: "u-1"}
		var v processors.Verdict
		c, v = cart.DefaultRules.Apply(c, in, cmd(topics.TypeCartItemAdded, line(fmt.Sprint("i-", i), 1, 1)))
		if v.Outcome != processors.Store {
			t.Fatalf("line %d: %v %s", i, v.Outcome, v.Reason)
		}
		c, v = cart.DefaultRules.Apply(c, processors.In{ID: fmt.Sprint("w", i), Key: "u-1"}, cmd(topics.TypeWishlistItemAdded, line(fmt.Sprint("i-", i), 0, 1)))
		if v.Outcome != processors.Store {
			t.Fatalf("wish %d: %v %s", i, v.Outcome, v.Reason)
		}
	}
	in := processors.In{ID: "one-more", Key: "u-1"}
	if _, v := cart.DefaultRules.Apply(c, in, cmd(topics.TypeCartItemAdded, line("new", 1, 1))); v.Outcome != processors.Refuse || !strings.Contains(v.Reason, "most lines") {
		t.Errorf("a line over MaxLines: %v %q", v.Outcome, v.Reason)
	}
	if _, v := cart.DefaultRules.Apply(c, in, cmd(topics.TypeWishlistItemAdded, line("new", 0, 1))); v.Outcome != processors.Refuse || !strings.Contains(v.Reason, "most items") {
		t.Errorf("a wish over MaxLines: %v %q", v.Outcome, v.Reason)
	}
	// More of an item already in the cart is still fine.
	if next, v := cart.DefaultRules.Apply(c, in, cmd(topics.TypeCartItemAdded, line("i-3", 2, 1))); v.Outcome != processors.Store || next.Lines[3].Quantity != 3 {
		t.Errorf("more of a line in a full cart: %v %q", v.Outcome, v.Reason)
	}
	if l, ok := c.Line("i-7"); !ok || l.Quantity != 1 {
		t.Errorf("line of i-7: %+v %v", l, ok)
	}
	if _, ok := c.Wished("i-7"); !ok {
		t.Error("i-7 is not wished")
	}
	if _, ok := c.Line("new"); ok {
		t.Error("a line of an item never added")
	}
}

// A refused command read again after a crash (the record the table last
// recorded, at the same position) dead-letters again under the same id;
// read from anywhere else it is skipped.
func TestRefusedCommandReadAgain(t *testing.T) {
	rules := cart.Rules{MaxPerLine: 2}
	pos := func(off int64) processors.Position {
		return processors.Position{Topic: topics.CartCommands, Offset: off}
	}
	c, _ := rules.Apply(cart.Cart{}, processors.In{ID: "a", Key: "u-1", Pos: pos(0)}, cmd(topics.TypeCartItemAdded, line("tv", 2, 100)))
	refusedIn := processors.In{ID: "b", Key: "u-1", Pos: pos(1)}
	over := cmd(topics.TypeCartItemAdded, line("tv", 1, 100))
	c, v := rules.Apply(c, refusedIn, over)
	r, ok := c.Refused.Of("b")
	if v.Outcome != processors.Refuse || !ok {
		t.Fatalf("the add over the cap: %v, %+v", v.Outcome, c.Refused)
	}
	if again, v := rules.Apply(c, refusedIn, over); v.Outcome != processors.Reject || v.Reason != r.Reason || !reflect.DeepEqual(again, c) {
		t.Errorf("read again: %v %q", v.Outcome, v.Reason)
	}
	if _, v := rules.Apply(c, processors.In{ID: "b", Key: "u-1", Pos: pos(7)}, over); v.Outcome != processors.Skip {
		t.Errorf("a redelivery elsewhere: %v", v.Outcome)
	}
}

// A cart remembers its last processors.MaxRefusals refusals, the newest kept.
func TestRefusalsAreBounded(t *testing.T) {
	rules := cart.Rules{MaxPerLine: 1}
	c, _ := rules.Apply(cart.Cart{}, processors.In{ID: "first", Key: "u-1"}, cmd(topics.TypeCartItemAdded, line("tv", 1, 100)))
	for i := range processors.MaxRefusals + 4 {
		var v processors.Verdict
		c, v = rules.Apply(c, processors.In{ID: fmt.Sprint("r", i), Key: "u-1"}, cmd(topics.TypeCartItemAdded, line("tv", 1, 100)))
		if v.Outcome != processors.Refuse {
			t.Fatalf("add %d: %v", i, v.Outcome)
		}
	}
	_, oldest := c.Refused.Of("r0")
	_, newest := c.Refused.Of(fmt.Sprint("r", processors.MaxRefusals+3))
	if len(c.Refused) != processors.MaxRefusals || oldest || !newest {
		t.Fatalf("%d refusals kept, the oldest %v, the newest %v", len(c.Refused), oldest, newest)
	}
}

// A checkout's clear takes out what its order took, item by item: a line
// added, or grown, after the checkout read the cart keeps the rest. A
// clear without lines (the shopper's own) empties the cart.
func TestCheckoutClearTakesOutItsLines(t *testing.T) {
	rules := cart.Rules{MaxPerLine: 10}
	var c cart.Cart
	for i, l := range []topics.CartLine{line("tv", 2, 100), line("mug", 1, 5), line("tv", 3, 100), line("lamp", 1, 30)} {
		c, _ = rules.Apply(c, processors.In{ID: fmt.Sprint("add-", i), Key: "u-1"}, cmd(topics.TypeCartItemAdded, l))
	}
	// The order took 2 TVs and the mug; 3 TVs and the lamp came after.
	clear := topics.CartCleared{UserID: "u-1", OrderID: "o-1", Lines: []topics.ClearedLine{{ItemID: "tv", Quantity: 2}, {ItemID: "mug", Quantity: 1}}}
	c, v := rules.Apply(c, processors.In{ID: "clear", Key: "u-1"}, cmd(topics.TypeCartCleared, clear))
	if v.Outcome != processors.Store || lines(c) != "tv:3@100 lamp:1@30 |" || c.LastOrderID != "o-1" {
		t.Fatalf("after the checkout's clear: %v %q, last order %q", v.Outcome, lines(c), c.LastOrderID)
	}
	bad := topics.CartCleared{UserID: "u-1", Lines: []topics.ClearedLine{{ItemID: "tv", Quantity: 0}}}
	if _, v := rules.Apply(c, processors.In{ID: "bad", Key: "u-1"}, cmd(topics.TypeCartCleared, bad)); v.Outcome != processors.Reject {
		t.Errorf("a clear of zero units: %v", v.Outcome)
	}
	c, _ = rules.Apply(c, processors.In{ID: "all", Key: "u-1"}, cmd(topics.TypeCartCleared, topics.CartCleared{UserID: "u-1"}))
	if lines(c) != "|" {
		t.Errorf("after the shopper's clear: %q", lines(c))
	}
}
