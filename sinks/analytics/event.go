package analytics

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shopstream/shopstream/topics"
)

// Event is a membership or order event as the store keeps it: one raw
// events row, and for a trial one trials row.
type Event struct {
	ID      string
	Type    string
	UserID  string
	OrderID string
	// OccurredAt is the event time. The store keeps it in UTC, truncated to
	// the second (ClickHouse 18.16's DateTime), and so do the cohorts.
	OccurredAt time.Time
	// AmountCents and Currency are the money the event carries: a trial's
	// spend at signup, an order's total, a refund's amount; 0 and "" when
	// there is none.
	AmountCents int64
	Currency    string
	// TrialEndsAt is when a trial ends, on membership.trial_started only;
	// truncated to the second like OccurredAt.
	TrialEndsAt time.Time
}

// The range of a DateTime: seconds 1 to 2^32-1 after the epoch. Second 0
// stands for "none" in the trials table.
var (
	minTime = time.Unix(1, 0).UTC()
	maxTime = time.Unix(math.MaxUint32, 0).UTC()
)

// FromTopic is the store's form of a membership or order event. The error
// says why the event cannot be stored (the sink dead-letters it with that
// reason): another type, a field the cohorts need missing or out of range.
func FromTopic(ev topics.Event) (Event, error) {
	e := Event{ID: ev.ID, Type: ev.Type, OccurredAt: ev.OccurredAt}
	switch d := ev.Data.(type) {
	case topics.MembershipTrialStarted:
		e.UserID, e.OrderID, e.AmountCents, e.Currency, e.TrialEndsAt = d.UserID, d.OrderID, d.SpendCents, d.Currency, d.TrialEndsAt
	case topics.MembershipChanged:
		e.UserID = d.UserID
	case topics.OrderCreated:
		e.UserID, e.OrderID, e.AmountCents, e.Currency = d.UserID, d.OrderID, d.TotalCents, d.Currency
	case topics.OrderTransition:
		e.UserID, e.OrderID, e.AmountCents, e.Currency = d.UserID, d.OrderID, d.AmountCents, d.Currency
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e.stored(), nil
}

// Validate says why e cannot be stored, or nil.
func (e Event) Validate() error {
	if err := e.validate(); err != nil {
		return fmt.Errorf("analytics: %s event %s: %w", e.Type, e.ID, err)
	}
	return nil
}

func (e Event) validate() error {
	if e.ID == "" {
		return errors.New("no event id")
	}
	if err := inRange("occurred_at", e.OccurredAt); err != nil {
		return err
	}
	switch e.Type {
	case topics.TypeMembershipTrialStarted:
		if e.UserID == "" {
			return errors.New("no user_id")
		}
		if err := inRange("trial_ends_at", e.TrialEndsAt); err != nil {
			return err
		}
		if start, end := e.OccurredAt.Truncate(time.Second), e.TrialEndsAt.Truncate(time.Second); !end.After(start) {
			return fmt.Errorf("trial_ends_at %s is not after the trial start %s", stamp(end), stamp(start))
		}
		if e.AmountCents < 0 {
			return fmt.Errorf("negative spend_cents %d", e.AmountCents)
		}
		// A trial without a purchase may leave the currency out.
		if e.AmountCents > 0 && !topics.KnownCurrency(e.Currency) {
			return fmt.Errorf("spend of %d in unknown currency %q", e.AmountCents, e.Currency)
		}
	case topics.TypeMembershipConverted, topics.TypeMembershipCanceled:
		if e.UserID == "" {
			return errors.New("no user_id")
		}
	case topics.TypeOrderCreated, topics.TypeOrderPlaced, topics.TypeOrderCanceled, topics.TypeOrderRefunded,
		topics.TypeOrderShipped, topics.TypeOrderDelivered:
		if e.OrderID == "" {
			return errors.New("no order_id")
		}
	default:
		return fmt.Errorf("type %q is not a membership or order event", e.Type)
	}
	return nil
}

// inRange refuses a time a DateTime cannot hold.
func inRange(field string, t time.Time) error {
	if t = t.Truncate(time.Second); t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("%s %s is outside %s to %s", field, stamp(t), stamp(minTime), stamp(maxTime))
	}
	return nil
}

// stored is e as the store keeps it: times in UTC to the second.
func (e Event) stored() Event {
	e.OccurredAt = e.OccurredAt.UTC().Truncate(time.Second)
	if !e.TrialEndsAt.IsZero() {
		e.TrialEndsAt = e.TrialEndsAt.UTC().Truncate(time.Second)
	}
	return e
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
