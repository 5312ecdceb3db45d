// Package lifecycle is the order state machine: which step may follow
// which, and what each step does to stock and money. The order-taking
// database and the order processor both apply it, so the two sides of the
// pipeline cannot disagree on an order's story.
package lifecycle

import (
	"errors"
	"fmt"

	"github.com/shopstream/shopstream/topics"
)

// Status is where an order is in its lifecycle.
type Status string

// The statuses. None is an order that does not exist yet.
const (
	None      Status = ""
	Created   Status = "created"
	Placed    Status = "placed"
	Shipped   Status = "shipped"
	Delivered Status = "delivered"
	Canceled  Status = "canceled"
	Refunded  Status = "refunded"
)

// Statuses lists every status an order can have, in lifecycle order.
var Statuses = []Status{Created, Placed, Shipped, Delivered, Canceled, Refunded}

// Step is something that happens to an order.
type Step string

// The steps.
const (
	Checkout         Step = "checkout"
	PaymentSucceeded Step = "payment_succeeded"
	PaymentFailed    Step = "payment_failed"
	// Expire: no payment answer came before the order's expires_at.
	Expire Step = "expire"
	// Cancel: the shopper asks for the order to be canceled.
	Cancel  Step = "cancel"
	Ship    Step = "ship"
	Deliver Step = "deliver"
)

// Reasons recorded with the transitions that have one.
const (
	ReasonPaymentFailed    = "payment failed"
	ReasonExpired          = "expired: no payment answer before expires_at"
	ReasonCanceled         = "canceled by the shopper"
	ReasonLatePayment      = "payment succeeded after the order was canceled"
	ReasonCanceledAfterPay = "canceled by the shopper after payment"
)

// ErrNotCancelable is Cancel on an order that has left the warehouse.
var ErrNotCancelable = errors.New("the order has shipped and can no longer be canceled")

// ErrUnknownOrder is a step other than Checkout on an order that does not
// exist.
var ErrUnknownOrder = errors.New("no such order")

// Effect is what one step does.
type Effect struct {
	// Changed is false when the step changes nothing: a duplicate, or a
	// step that arrives too late to matter (a payment failure on an order
	// that has already expired). Nothing below applies then.
	Changed bool
	Next    Status
	// Event is the order event type that records the transition.
	Event string
	// Restock returns the order's units to sellable stock.
	Restock bool
	// Refund pays the order's amount back.
	Refund bool
	Reason string
}

// Next decides step s on an order in status cur. An error means the step
// is refused: the caller reports it and nothing changes.
func Next(cur Status, s Step) (Effect, error) {
	to := func(next Status, event, reason string) Effect {
		return Effect{Changed: true, Next: next, Event: event, Reason: reason}
	}
	same := Effect{Next: cur}
	if cur == None && s != Checkout {
		return Effect{}, fmt.Errorf("%s: %w", s, ErrUnknownOrder)
	}
	switch s {
	case Checkout:
		if cur == None {
			return to(Created, topics.TypeOrderCreated, ""), nil
		}
		return same, nil
	case PaymentSucceeded:
		switch cur {
		case Created:
			return to(Placed, topics.TypeOrderPlaced, ""), nil
		case Canceled:
			// The stock went back when the order was canceled; only the
			// money has to.
			e := to(Refunded, topics.TypeOrderRefunded, ReasonLatePayment)
			e.Refund = true
			return e, nil
		}
		return same, nil
	case PaymentFailed, Expire:
		if cur != Created {
			return same, nil
		}
		reason := ReasonPaymentFailed
		if s == Expire {
			reason = ReasonExpired
		}
		e := to(Canceled, topics.TypeOrderCanceled, reason)
		e.Restock = true
		return e, nil
	case Cancel:
		switch cur {
		case Created:
			e := to(Canceled, topics.TypeOrderCanceled, ReasonCanceled)
			e.Restock = true
			return e, nil
		case Placed:
			e := to(Refunded, topics.TypeOrderRefunded, ReasonCanceledAfterPay)
			e.Restock, e.Refund = true, true
			return e, nil
		case Shipped, Delivered:
			return Effect{}, fmt.Errorf("cancel an order that is %s: %w", cur, ErrNotCancelable)
		}
		return same, nil
	case Ship:
		if cur == Placed {
			return to(Shipped, topics.TypeOrderShipped, ""), nil
		}
		return same, nil
	case Deliver:
		if cur == Shipped {
			return to(Delivered, topics.TypeOrderDelivered, ""), nil
		}
		return same, nil
	}
	return Effect{}, fmt.Errorf("unknown step %q", s)
}

// HoldsStock reports whether an order in status s keeps its units out of
// sellable stock. Canceled and refunded orders gave them back.
func HoldsStock(s Status) bool {
	switch s {
	case Created, Placed, Shipped, Delivered:
		return true
	}
	return false
}

// Final reports whether nothing more can happen to an order in status s
// except a late refund (which only a Canceled order can still get).
func Final(s Status) bool { return s == Delivered || s == Canceled || s == Refunded }

// eventStatus is the status each order event type records.
var eventStatus = map[string]Status{
	topics.TypeOrderCreated:   Created,
	topics.TypeOrderPlaced:    Placed,
	topics.TypeOrderShipped:   Shipped,
	topics.TypeOrderDelivered: Delivered,
	topics.TypeOrderCanceled:  Canceled,
	topics.TypeOrderRefunded:  Refunded,
}

// StatusOf is the status an order event of type eventType records.
func StatusOf(eventType string) (Status, bool) {
	s, ok := eventStatus[eventType]
	return s, ok
}

// Follows reports whether an order in status cur may move to next: the
// transitions Next can produce, for whoever replays order events.
func Follows(cur, next Status) bool {
	for _, s := range []Step{Checkout, PaymentSucceeded, PaymentFailed, Expire, Cancel, Ship, Deliver} {
		if e, err := Next(cur, s); err == nil && e.Changed && e.Next == next {
			return true
		}
	}
	return false
}
