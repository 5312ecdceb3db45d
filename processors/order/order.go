// Package order is the order processor: it applies the order events of
// order.events (written by the order-taking database's outbox relay) to a
// table of each order's status and timeline, exactly once each by event
// id, following the state machine of package lifecycle. Every applied
// transition sends the order's user a notification (notification.sent on
// the notifications topic, keyed by user_id). Events the state machine
// refuses go to order.events.dlq with the reason. Reconcile and the API
// read the table through a view (Table, Codec).
package order

import (
	"fmt"
	"slices"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Group is the processor's consumer group; its table is Table.
const Group goka.Group = "order"

// Table is the order table ("order-table"), keyed by order_id, of Orders.
var Table = goka.GroupTable(Group)

// Codec is the table's value codec: values are Orders.
type Codec = processors.JSON[Order]

var notifications = processors.Output{Topic: topics.Notifications, Type: topics.TypeNotificationSent}

// Graph is the order processor; production runs it as Group, tests under
// names of their own.
func Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return goka.DefineGroup(group,
		processors.Events(rt, group, topics.OrderEvents, notifications, Apply),
		processors.DeadLetters(topics.OrderEvents),
		notifications.Edge(),
		goka.Persist(Codec{}),
	)
}

// Order is the table value: an order as its events tell it.
type Order struct {
	OrderID    string             `json:"order_id"`
	UserID     string             `json:"user_id"`
	Status     lifecycle.Status   `json:"status"`
	Lines      []topics.OrderLine `json:"lines"`
	TotalCents int64              `json:"total_cents"`
	Currency   string             `json:"currency"`
	PrimeTrial bool               `json:"prime_trial,omitempty"`
	// CreatedAt is the event time of order.created.
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Timeline holds every applied transition, oldest first.
	Timeline []Transition `json:"timeline"`
	// Version counts the applied transitions (1 once created).
	Version int64              `json:"version"`
	Applied processors.Applied `json:"applied"`
}

// Transition is one step of an order's timeline.
type Transition struct {
	Status lifecycle.Status `json:"status"`
	// At is the event time.
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
	// AmountCents is the money paid back, on a refund, in the order's
	// currency.
	AmountCents int64  `json:"amount_cents,omitempty"`
	EventID     string `json:"event_id"`
}

// HoldsStock reports whether the order keeps its lines' units out of
// sellable stock, as the order-taking database counts them.
func (o Order) HoldsStock() bool { return lifecycle.HoldsStock(o.Status) }

// Apply applies one order event to the order's current state (the zero
// Order if there is none). An event applies once: a redelivery changes
// nothing, and re-emits the notification of the order's last transition
// if it is that transition's record read again (processors.Again). An
// event whose status may not follow the order's current one, or that
// names another order or user, is rejected with the reason. Every applied
// event emits one notification, keyed by the order's user.
func Apply(cur Order, in processors.In, ev topics.Event) (Order, processors.Verdict) {
	if cur.Applied.Has(in.ID) {
		v := processors.Again(cur.Applied.Emitted, in, cur.Notification())
		v.Key = cur.UserID
		return cur, v
	}
	status, ok := lifecycle.StatusOf(ev.Type)
	if !ok {
		return cur, processors.Rejected("event type %q does not belong on %s, which carries order events", ev.Type, in.Pos.Topic)
	}
	next := cur
	step := Transition{Status: status, At: in.At, EventID: in.ID}
	var orderID, userID, currency string
	switch d := ev.Data.(type) {
	case topics.OrderCreated:
		if errs := validateCreated(d); len(errs) > 0 {
			return cur, processors.Invalid(ev.Type, errs)
		}
		orderID, userID, currency = d.OrderID, d.UserID, d.Currency
		next.OrderID, next.UserID = d.OrderID, d.UserID
		next.Lines, next.TotalCents, next.Currency = slices.Clone(d.Lines), d.TotalCents, d.Currency
		next.PrimeTrial, next.CreatedAt, next.ExpiresAt = d.PrimeTrial, in.At, d.ExpiresAt
	case topics.OrderTransition:
		if errs := validateTransition(d); len(errs) > 0 {
			return cur, processors.Invalid(ev.Type, errs)
		}
		orderID, userID, currency = d.OrderID, d.UserID, d.Currency
		step.Reason, step.AmountCents = d.Reason, d.AmountCents
	default:
		return cur, processors.Rejected("%s carries %T, not an order event", ev.Type, ev.Data)
	}
	if orderID != in.Key {
		return cur, processors.Rejected("record key %q is not the order_id %q: order events are keyed by order_id", in.Key, orderID)
	}
	if cur.Status != lifecycle.None {
		if userID != cur.UserID {
			return cur, processors.Rejected("%s for user %q on an order of user %q", ev.Type, userID, cur.UserID)
		}
		if currency != "" && currency != cur.Currency {
			return cur, processors.Rejected("%s in %s on an order in %s", ev.Type, currency, cur.Currency)
		}
	}
	if !lifecycle.Follows(cur.Status, status) {
		if cur.Status == lifecycle.None {
			return cur, processors.Rejected("%s on an order that does not exist", ev.Type)
		}
		return cur, processors.Rejected("%s on an order that is %s", ev.Type, cur.Status)
	}
	next.Status = status
	next.Timeline = append(slices.Clip(cur.Timeline), step)
	next.Version++
	next.Applied = cur.Applied.Add(in, true)
	v := processors.Changed(next.Notification())
	v.Key = next.UserID
	return next, v
}

// Notification is the message about the order's last transition.
func (o Order) Notification() topics.NotificationSent {
	last := o.Timeline[len(o.Timeline)-1]
	return topics.NotificationSent{UserID: o.UserID, Kind: string(last.Status), OrderID: o.OrderID, Message: o.message(last)}
}

func (o Order) message(t Transition) string {
	msg := fmt.Sprintf("Your order %s was %s", o.OrderID, t.Status)
	switch t.Status {
	case lifecycle.Created:
		msg += fmt.Sprintf(" for %s and awaits payment", topics.Money{AmountCents: o.TotalCents, Currency: o.Currency})
	case lifecycle.Refunded:
		msg += fmt.Sprintf(" %s", topics.Money{AmountCents: t.AmountCents, Currency: o.Currency})
	}
	if t.Reason != "" {
		msg += ": " + t.Reason
	}
	return msg + "."
}

func validateCreated(d topics.OrderCreated) []ingest.FieldError {
	errs := validateIDs(d.OrderID, d.UserID)
	if len(d.Lines) == 0 {
		errs = append(errs, fieldError("lines", ingest.CodeRequired, "is required"))
	}
	for i, l := range d.Lines {
		if !ingest.IsID(l.ItemID) {
			errs = append(errs, fieldError(fmt.Sprintf("lines[%d].item_id", i), ingest.CodeInvalidFormat, "%q is not an id", l.ItemID))
		}
		if l.Quantity < 1 {
			errs = append(errs, fieldError(fmt.Sprintf("lines[%d].quantity", i), ingest.CodeOutOfRange, "%d must be at least 1", l.Quantity))
		}
		if l.PriceCents < 0 {
			errs = append(errs, fieldError(fmt.Sprintf("lines[%d].price_cents", i), ingest.CodeOutOfRange, "%d must not be negative", l.PriceCents))
		}
	}
	if d.TotalCents < 0 {
		errs = append(errs, fieldError("total_cents", ingest.CodeOutOfRange, "%d must not be negative", d.TotalCents))
	}
	if !topics.KnownCurrency(d.Currency) {
		errs = append(errs, fieldError("currency", ingest.CodeUnknownCurrency, "%q is not an accepted ISO 4217 code", d.Currency))
	}
	return errs
}

func validateTransition(d topics.OrderTransition) []ingest.FieldError {
	errs := validateIDs(d.OrderID, d.UserID)
	if d.AmountCents < 0 {
		errs = append(errs, fieldError("amount_cents", ingest.CodeOutOfRange, "%d must not be negative", d.AmountCents))
	}
	if d.Currency != "" && !topics.KnownCurrency(d.Currency) {
		errs = append(errs, fieldError("currency", ingest.CodeUnknownCurrency, "%q is not an accepted ISO 4217 code", d.Currency))
	}
	return errs
}

func validateIDs(orderID, userID string) []ingest.FieldError {
	var errs []ingest.FieldError
	for _, f := range []struct{ name, v string }{{"order_id", orderID}, {"user_id", userID}} {
		if !ingest.IsID(f.v) {
			errs = append(errs, fieldError(f.name, ingest.CodeInvalidFormat, "%q is not an id", f.v))
		}
	}
	return errs
}

func fieldError(field, code, format string, args ...any) ingest.FieldError {
	return ingest.FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)}
}
