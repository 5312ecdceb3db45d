// Package cart is the cart processor: it applies cart and wishlist
// commands (cart.commands, keyed by user_id) exactly once each, by event
// id, to a table of one Cart per user: the cart lines with the price shown
// when each was added, and the wishlist. cart.cleared empties the cart,
// from the REST edge or from the checkout outbox once an order is created.
// It emits nothing downstream; commands the REST edge should have refused
// go to cart.commands.dlq with the reason. The API reads the table through
// a view (Table, Codec).
package cart

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Group is the processor's consumer group; its table is Table.
const Group goka.Group = "cart"

// Table is the cart table ("cart-table"), keyed by user_id, of Carts.
var Table = goka.GroupTable(Group)

// Codec is the table's value codec: values are Carts.
type Codec = processors.JSON[Cart]

// DefaultMaxPerLine is the default cap on one cart line's quantity.
const DefaultMaxPerLine = 10

// MaxLines caps the distinct items of a cart, and of a wishlist, so that a
// table value stays far below Kafka's record size limit.
const MaxLines = 100

// Rules are the cart rules with their limits; the REST edge enforces the
// same limits before it produces a command.
type Rules struct {
	// MaxPerLine caps one line's quantity, across adds.
	MaxPerLine int64
}

// DefaultRules are the rules with DefaultMaxPerLine.
var DefaultRules = Rules{MaxPerLine: DefaultMaxPerLine}

// Graph is the cart processor with DefaultRules; production runs it as
// Group, tests under names of their own.
func Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return DefaultRules.Graph(group, rt)
}

// Graph is the cart processor applying r. It has no output edge: every
// verdict of Apply is Skip, Reject or Store.
func (r Rules) Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return goka.DefineGroup(group,
		processors.Events(rt, group, topics.CartCommands, processors.Output{}, r.Apply),
		processors.DeadLetters(topics.CartCommands),
		goka.Persist(Codec{}),
	)
}

// Line is one cart line.
type Line struct {
	ItemID   string `json:"item_id"`
	Quantity int64  `json:"quantity"`
	// PriceCents and Currency are the price shown when the line was first
	// added; adding more of the item keeps them.
	PriceCents int64     `json:"price_cents"`
	Currency   string    `json:"currency"`
	AddedAt    time.Time `json:"added_at"`
}

// Entry is one wishlist entry with the price shown when it was added.
type Entry struct {
	ItemID     string    `json:"item_id"`
	PriceCents int64     `json:"price_cents"`
	Currency   string    `json:"currency"`
	AddedAt    time.Time `json:"added_at"`
}

// Cart is the table value: a user's cart and wishlist, each in the order
// items were first added.
type Cart struct {
	UserID   string  `json:"user_id"`
	Lines    []Line  `json:"lines"`
	Wishlist []Entry `json:"wishlist"`
	// Version grows by one with every command applied.
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	// LastOrderID is the order the cart last became (cart.cleared by checkout).
	LastOrderID string             `json:"last_order_id,omitempty"`
	Applied     processors.Applied `json:"applied"`
	// Refused are the last commands the rules refused, for the edge
	// waiting on one: a well-formed command the cart cannot take as it
	// stands when applied (over the per-line cap, too many lines), with
	// one of the Refused* codes.
	Refused processors.Refusals `json:"refused,omitempty"`
}

// The codes of the refusals, the REST edge's error codes for them too.
const (
	RefusedOverCap      = "quantity_over_cap"
	RefusedCartFull     = "cart_full"
	RefusedWishlistFull = "wishlist_full"
)

// refusal is a rule's refusal of a well-formed command: the cart records
// it (Rejected) as it dead-letters the command. Any other error is a
// malformed command, dead-lettered only.
type refusal struct {
	code string
	error
}

func refusef(code, format string, args ...any) error {
	return refusal{code, fmt.Errorf(format, args...)}
}

// Line returns the cart line of an item.
func (c Cart) Line(itemID string) (Line, bool) {
	if i := lineIndex(c.Lines, itemID); i >= 0 {
		return c.Lines[i], true
	}
	return Line{}, false
}

// Wished returns the wishlist entry of an item.
func (c Cart) Wished(itemID string) (Entry, bool) {
	i := slices.IndexFunc(c.Wishlist, func(e Entry) bool { return e.ItemID == itemID })
	if i < 0 {
		return Entry{}, false
	}
	return c.Wishlist[i], true
}

// Apply applies one command to the user's cart (the zero Cart if there is
// none). A command seen before is skipped. One that names a line or entry
// the cart no longer holds (a remove racing another) only records its id.
// One the REST edge should have refused, such as a quantity below one or
// over MaxPerLine, bad ids, or a user_id that is not the record key, is
// rejected with the reason.
func (r Rules) Apply(cur Cart, in processors.In, ev topics.Event) (Cart, processors.Verdict) {
	if cur.Applied.Has(in.ID) {
		// The refused record read again after a crash: its dead letter
		// again, under the same id.
		if r, ok := cur.Refused.Of(in.ID); ok && cur.Applied.Emitted == in.Pos {
			return cur, processors.Rejected("%s", r.Reason)
		}
		return cur, processors.Verdict{Outcome: processors.Skip}
	}
	var (
		next Cart
		err  error
	)
	switch data := ev.Data.(type) {
	case topics.CartCleared:
		next, err = clearCart(cur, in, data)
	case topics.CartLine:
		next, err = r.applyLine(cur, in, ev.Type, data)
	default:
		err = fmt.Errorf("event type %q does not belong on %s", ev.Type, topics.CartCommands)
	}
	var refused refusal
	switch {
	case errors.As(err, &refused):
		next = cur
		next.UserID = in.Key
		next.Applied = cur.Applied.Add(in, true)
		next.Refused = cur.Refused.Add(processors.Refusal{EventID: in.ID, Type: ev.Type, Code: refused.code, Reason: err.Error()})
		v := processors.Rejected("%v", err)
		v.Outcome = processors.Refuse
		return next, v
	case err != nil:
		return cur, processors.Rejected("%v", err)
	}
	next.UserID = in.Key
	next.Version = cur.Version + 1
	next.UpdatedAt = in.At
	next.Applied = cur.Applied.Add(in, false)
	return next, processors.Stored()
}

func clearCart(cur Cart, in processors.In, c topics.CartCleared) (Cart, error) {
	if err := checkUser(in, c.UserID); err != nil {
		return cur, err
	}
	if c.OrderID != "" && !ingest.IsID(c.OrderID) {
		return cur, fmt.Errorf("invalid %s: order_id %q is not an id", topics.TypeCartCleared, c.OrderID)
	}
	next := cur
	if c.OrderID != "" {
		next.LastOrderID = c.OrderID
	}
	if len(c.Lines) == 0 {
		next.Lines = nil
		return next, nil
	}
	took := make(map[string]int64, len(c.Lines))
	for _, l := range c.Lines {
		if !ingest.IsID(l.ItemID) || l.Quantity < 1 {
			return cur, fmt.Errorf("invalid %s: line %s x %d", topics.TypeCartCleared, l.ItemID, l.Quantity)
		}
		took[l.ItemID] += l.Quantity
	}
	next.Lines = nil
	for _, l := range cur.Lines {
		if l.Quantity -= took[l.ItemID]; l.Quantity > 0 {
			next.Lines = append(next.Lines, l)
		}
	}
	return next, nil
}

// applyLine applies a command on one item, or says why it is refused.
func (r Rules) applyLine(cur Cart, in processors.In, typ string, l topics.CartLine) (Cart, error) {
	if err := checkUser(in, l.UserID); err != nil {
		return cur, err
	}
	if !ingest.IsID(l.ItemID) {
		return cur, fmt.Errorf("invalid %s: item_id %q is not an id", typ, l.ItemID)
	}
	next := cur
	switch typ {
	case topics.TypeCartItemAdded:
		if err := checkPrice(typ, l); err != nil {
			return cur, err
		}
		return r.add(cur, in, typ, l)
	case topics.TypeCartItemQuantitySet:
		if err := r.checkQuantity(typ, 0, l.Quantity); err != nil {
			return cur, err
		}
		// A line removed meanwhile stays removed.
		if i := lineIndex(cur.Lines, l.ItemID); i >= 0 {
			next.Lines = slices.Clone(cur.Lines)
			next.Lines[i].Quantity = l.Quantity
		}
	case topics.TypeCartItemRemoved:
		next.Lines = slices.DeleteFunc(slices.Clone(cur.Lines), func(x Line) bool { return x.ItemID == l.ItemID })
	case topics.TypeWishlistItemAdded:
		if err := checkPrice(typ, l); err != nil {
			return cur, err
		}
		if _, ok := cur.Wished(l.ItemID); ok {
			return next, nil // already wished: the first price stays
		}
		if len(cur.Wishlist) >= MaxLines {
			return cur, refusef(RefusedWishlistFull, "%s: the wishlist already holds the most items allowed, %d", typ, MaxLines)
		}
		next.Wishlist = append(slices.Clip(cur.Wishlist), Entry{ItemID: l.ItemID, PriceCents: l.PriceCents, Currency: l.Currency, AddedAt: in.At})
	case topics.TypeWishlistItemRemoved:
		next.Wishlist = removeWished(cur.Wishlist, l.ItemID)
	case topics.TypeWishlistItemMovedToCart:
		if err := checkPrice(typ, l); err != nil {
			return cur, err
		}
		if l.Quantity == 0 {
			l.Quantity = 1
		}
		// The cart gets the item even if the wishlist lost it meanwhile:
		// the user asked for it in the cart.
		moved, err := r.add(cur, in, typ, l)
		if err != nil {
			return cur, err
		}
		moved.Wishlist = removeWished(cur.Wishlist, l.ItemID)
		return moved, nil
	default:
		return cur, fmt.Errorf("event type %q does not belong on %s", typ, topics.CartCommands)
	}
	return next, nil
}

// add adds l's quantity to the item's line, or makes a new line at l's
// price.
func (r Rules) add(cur Cart, in processors.In, typ string, l topics.CartLine) (Cart, error) {
	next := cur
	if i := lineIndex(cur.Lines, l.ItemID); i >= 0 {
		if err := r.checkQuantity(typ, cur.Lines[i].Quantity, l.Quantity); err != nil {
			return cur, err
		}
		next.Lines = slices.Clone(cur.Lines)
		next.Lines[i].Quantity += l.Quantity
		return next, nil
	}
	if err := r.checkQuantity(typ, 0, l.Quantity); err != nil {
		return cur, err
	}
	if len(cur.Lines) >= MaxLines {
		return cur, refusef(RefusedCartFull, "%s: the cart already holds the most lines allowed, %d", typ, MaxLines)
	}
	next.Lines = append(slices.Clip(cur.Lines), Line{ItemID: l.ItemID, Quantity: l.Quantity, PriceCents: l.PriceCents, Currency: l.Currency, AddedAt: in.At})
	return next, nil
}

func lineIndex(lines []Line, itemID string) int {
	return slices.IndexFunc(lines, func(l Line) bool { return l.ItemID == itemID })
}

func removeWished(w []Entry, itemID string) []Entry {
	return slices.DeleteFunc(slices.Clone(w), func(e Entry) bool { return e.ItemID == itemID })
}

// checkQuantity refuses a command quantity below one, or one that would
// take a line holding inLine over the cap.
func (r Rules) checkQuantity(typ string, inLine, quantity int64) error {
	if quantity < 1 {
		return fmt.Errorf("invalid %s: quantity %d is not at least 1", typ, quantity)
	}
	// Compared this way, a huge quantity cannot overflow the sum.
	if quantity > r.MaxPerLine-inLine {
		return refusef(RefusedOverCap, "%s: %d more on a line of %d is over the cap of %d per line", typ, quantity, inLine, r.MaxPerLine)
	}
	return nil
}

func checkPrice(typ string, l topics.CartLine) error {
	if err := (topics.Money{AmountCents: l.PriceCents, Currency: l.Currency}).Validate(); err != nil {
		return fmt.Errorf("invalid %s: price: %w", typ, err)
	}
	return nil
}

func checkUser(in processors.In, userID string) error {
	if !ingest.IsID(userID) {
		return fmt.Errorf("user_id %q is not an id", userID)
	}
	if userID != in.Key {
		return fmt.Errorf("record key %q is not the user_id %q: cart commands are keyed by user_id", in.Key, userID)
	}
	return nil
}
