package ordertaking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/sinks/history"
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
	if err := in.fromHistory(ctx, evs, res); err != nil {
		return err
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
	if len(refused) == 0 {
		return nil
	}
	// All of the batch's dead letters, acknowledged before its offsets
	// move: one round trip however many.
	return eventlog.DeadLetters(ctx, in.deadLetters, InboundGroup, refused)
}

// fromHistory applies again the events whose order the database did not
// hold but history does: it puts those orders back first (see
// orderdb.RestoreOrders), and replaces their results in res.
func (in *Inbound) fromHistory(ctx context.Context, evs []orderdb.InboundEvent, res []orderdb.InboundResult) error {
	if in.svc.history == nil {
		return nil
	}
	var again []int
	var orders []orderdb.Order
	found := map[string]bool{}
	for i, r := range res {
		if !errors.Is(r.Err, orderdb.ErrOrderNotFound) {
			continue
		}
		id := evs[i].OrderID()
		if !found[id] {
			o, err := in.svc.history.Order(ctx, id)
			if errors.Is(err, history.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("ordertaking: look for order %s in history: %w", id, err)
			}
			found[id] = true
			orders = append(orders, o)
		}
		again = append(again, i)
	}
	if len(again) == 0 {
		return nil
	}
	n, err := in.svc.store.RestoreOrders(ctx, orders)
	if err != nil {
		return fmt.Errorf("ordertaking: put back %d orders from history: %w", len(orders), err)
	}
	in.log.Info("late events for orders in history: put them back to apply them", "orders", len(orders), "restored", n, "events", len(again))
	sub := make([]orderdb.InboundEvent, len(again))
	for j, i := range again {
		sub[j] = evs[i]
	}
	subRes, err := in.svc.store.ApplyEvents(ctx, sub)
	if err != nil {
		return fmt.Errorf("ordertaking: apply %d late events: %w", len(sub), err)
	}
	for j, i := range again {
		res[i] = subRes[j]
	}
	return in.backToHistory(ctx, orders)
}

// backToHistory moves put-back orders to history again as the events left
// them, as the migrator would: history first, then the database, so a
// crash between leaves the order in both, which the next try (or the
// migrator, once the order is old enough) settles. The event's outbox
// records stay behind for the relay.
func (in *Inbound) backToHistory(ctx context.Context, restored []orderdb.Order) error {
	now := make([]orderdb.Order, 0, len(restored))
	for _, o := range restored {
		cur, err := in.svc.store.Order(ctx, o.OrderID)
		if errors.Is(err, orderdb.ErrOrderNotFound) {
			continue // moved already
		}
		if err != nil {
			return fmt.Errorf("ordertaking: reread put-back order %s: %w", o.OrderID, err)
		}
		if lifecycle.Final(cur.Status) {
			now = append(now, cur)
		}
	}
	if len(now) == 0 {
		return nil
	}
	if err := in.svc.history.Put(ctx, now); err != nil {
		return fmt.Errorf("ordertaking: write %d put-back orders to history: %w", len(now), err)
	}
	if _, err := in.svc.store.DeleteOrders(ctx, now); err != nil {
		return fmt.Errorf("ordertaking: remove %d put-back orders again: %w", len(now), err)
	}
	return nil
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
