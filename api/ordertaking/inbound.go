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

// handle applies a poll's events in a few transactions, not one each:
// a commit costs more than the work.
func (in *Inbound) handle(ctx context.Context, batch []eventlog.Delivery) error {
	var refused []eventlog.Rejected
	refuse := func(d eventlog.Delivery, reason string) {
		in.log.Warn("dead-lettered an inbound event", "topic", d.Record.Topic, "type", d.Event.Type, "id", d.Event.ID, "reason", reason)
		refused = append(refused, eventlog.Rejected{Record: d.Record, Reason: reason})
	}
	evs := make([]orderdb.InboundEvent, 0, len(batch))
	from := make([]eventlog.Delivery, 0, len(batch))
	for _, d := range batch {
		ev, ok, reason := inbound(d.Event)
		switch {
		case reason != "":
			refuse(d, reason)
		case ok:
			evs, from = append(evs, ev), append(from, d)
		}
	}
	res, err := in.svc.store.ApplyEvents(ctx, evs)
	if err != nil {
		return fmt.Errorf("ordertaking: apply %d inbound events: %w", len(evs), err)
	}
	changed := false
	for i, r := range res {
		d := from[i]
		switch {
		case errors.Is(r.Err, orderdb.ErrOrderNotFound):
			refuse(d, fmt.Sprintf("%s for an order the order-taking database never took: %v", d.Event.Type, r.Err))
		case errors.Is(r.Err, orderdb.ErrInvalid):
			refuse(d, r.Err.Error())
		case r.Err != nil:
			return fmt.Errorf("ordertaking: apply %s %s: %w", d.Event.Type, d.Event.ID, r.Err)
		}
		changed = changed || r.Effect.Changed
	}
	if changed {
		in.svc.kick()
	}
	// All of the batch's dead letters, acknowledged before its offsets
	// move: one round trip however many.
	return eventlog.DeadLetters(ctx, in.deadLetters, InboundGroup, refused)
}

// inbound is the database's form of ev; false for an event that needs
// nothing, or a reason the edge never applies it.
func inbound(ev topics.Event) (orderdb.InboundEvent, bool, string) {
	switch data := ev.Data.(type) {
	case topics.InventoryItemChanged:
		return orderdb.InboundEvent{Stock: &orderdb.StockChange{EventID: ev.ID, ItemID: data.ItemID, OnHand: data.OnHand, Version: data.Version, At: ev.OccurredAt}}, true, ""
	case topics.Payment:
		if ev.Type == topics.TypePaymentRefunded {
			return orderdb.InboundEvent{}, false, "" // the money went back; the order was refunded before
		}
		return orderdb.InboundEvent{Payment: &orderdb.PaymentOutcome{
			EventID: ev.ID, OrderID: data.OrderID, Succeeded: ev.Type == topics.TypePaymentSucceeded,
			PaymentID: data.PaymentID, AmountCents: data.AmountCents, Reason: data.Reason, At: ev.OccurredAt,
		}}, true, ""
	case topics.Shipment:
		return orderdb.InboundEvent{Shipment: &orderdb.ShipmentStep{EventID: ev.ID, OrderID: data.OrderID, Delivered: ev.Type == topics.TypeShipmentDelivered, At: ev.OccurredAt}}, true, ""
	}
	return orderdb.InboundEvent{}, false, fmt.Sprintf("event type %q is not one the order-taking edge applies", ev.Type)
}
