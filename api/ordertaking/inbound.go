package ordertaking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/topics"
)

// InboundGroup is the consumer group of the edge's inbound events.
const InboundGroup = "ordertaking"

// InboundTopics are the topics the edge applies to its database.
var InboundTopics = []string{topics.InventoryChanges, topics.PaymentEvents, topics.ShipmentEvents}

// Inbound applies the stream's facts to the order-taking database, each
// exactly once by event id: supplier stock (through the inventory
// processor's changes), payment outcomes and shipping steps. An event
// the database cannot apply (an order it never took) is dead-lettered
// with the reason; a database failure fails the batch, which is retried.
type Inbound struct {
	svc         *Service
	consumer    *eventlog.Consumer
	deadLetters *eventlog.Producer
	log         *slog.Logger
}

// NewInbound joins group on InboundTopics with a client from kopts.
func NewInbound(svc *Service, kopts []kgo.Opt, group string, deadLetters *eventlog.Producer, log *slog.Logger, copts ...eventlog.ConsumerOption) (*Inbound, error) {
	in := &Inbound{svc: svc, deadLetters: deadLetters, log: log}
	copts = append([]eventlog.ConsumerOption{eventlog.ConsumerRole(group), eventlog.ConsumerLogger(log)}, copts...)
	c, err := eventlog.NewConsumer(kopts, group, InboundTopics, in.handle, deadLetters, copts...)
	if err != nil {
		return nil, fmt.Errorf("ordertaking: inbound: %w", err)
	}
	in.consumer = c
	return in, nil
}

// Run applies events until ctx ends; nil when ctx ended it.
func (in *Inbound) Run(ctx context.Context) error { return in.consumer.Run(ctx) }

func (in *Inbound) handle(ctx context.Context, batch []eventlog.Delivery) error {
	changed := false
	var refused []eventlog.Rejected
	for _, d := range batch {
		c, err := in.apply(ctx, d.Event)
		var reject rejection
		switch {
		case errors.As(err, &reject):
			in.log.Warn("dead-lettered an inbound event", "topic", d.Record.Topic, "type", d.Event.Type, "id", d.Event.ID, "reason", reject.reason)
			refused = append(refused, eventlog.Rejected{Record: d.Record, Reason: reject.reason})
		case err != nil:
			return fmt.Errorf("ordertaking: apply %s %s: %w", d.Event.Type, d.Event.ID, err)
		}
		changed = changed || c
	}
	if changed {
		in.svc.kick()
	}
	// All of the batch's dead letters, acknowledged before its offsets
	// move: one round trip however many.
	return eventlog.DeadLetters(ctx, in.deadLetters, InboundGroup, refused)
}

// rejection is an event the database refuses for good.
type rejection struct{ reason string }

func (r rejection) Error() string { return r.reason }

// invalid turns the database's refusal of a malformed event into a
// rejection; a retry could never succeed.
func invalid(err error) error {
	if errors.Is(err, orderdb.ErrInvalid) {
		return rejection{err.Error()}
	}
	return err
}

// apply applies one event and reports whether the outbox got records.
func (in *Inbound) apply(ctx context.Context, ev topics.Event) (bool, error) {
	store := in.svc.store
	notFound := func(a orderdb.Applied, err error, orderID string) (bool, error) {
		if errors.Is(err, orderdb.ErrOrderNotFound) {
			return false, rejection{fmt.Sprintf("%s for order %s, which the order-taking database never took", ev.Type, orderID)}
		}
		return a.Effect.Changed, invalid(err)
	}
	switch data := ev.Data.(type) {
	case topics.InventoryItemChanged:
		_, err := store.ApplyStock(ctx, orderdb.StockChange{EventID: ev.ID, ItemID: data.ItemID, OnHand: data.OnHand, Version: data.Version, At: ev.OccurredAt})
		return false, invalid(err)
	case topics.Payment:
		if ev.Type == topics.TypePaymentRefunded {
			return false, nil // the money went back; the order was refunded before
		}
		a, err := store.ApplyPayment(ctx, orderdb.PaymentOutcome{
			EventID: ev.ID, OrderID: data.OrderID, Succeeded: ev.Type == topics.TypePaymentSucceeded,
			PaymentID: data.PaymentID, AmountCents: data.AmountCents, Reason: data.Reason, At: ev.OccurredAt,
		})
		return notFound(a, err, data.OrderID)
	case topics.Shipment:
		a, err := store.ApplyShipment(ctx, orderdb.ShipmentStep{EventID: ev.ID, OrderID: data.OrderID, Delivered: ev.Type == topics.TypeShipmentDelivered, At: ev.OccurredAt})
		return notFound(a, err, data.OrderID)
	}
	return false, rejection{fmt.Sprintf("event type %q is not one the order-taking edge applies", ev.Type)}
}
