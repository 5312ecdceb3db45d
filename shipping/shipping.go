// Package shipping is shopstream's shipping role: it moves placed orders to
// shipped, then delivered, on configurable delays, publishing each step on
// shipment.events for the REST edge to apply to the order-taking database.
//
// The role keeps no state and reads no database. An order canceled or
// refunded after it was placed is still shipped and delivered on the
// stream; the edge ignores those stale steps, since the order state
// machine (lifecycle.Next) changes nothing when a refunded or canceled
// order is shipped or delivered.
package shipping

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/eventlog/due"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Name is the role's name, the consumer group to run it under, and the
// namespace of its output event ids (processors.OutputID), which do not
// depend on the group, so a replay under another group emits the same ids.
const Name = "shipping"

// DefaultCarrier is the carrier named on shipments unless Carrier says
// otherwise.
const DefaultCarrier = "shopstream-logistics"

// Inputs are the topics the role consumes: order.placed comes on
// order.events, and the role reads its own shipment.shipped back from
// shipment.events to deliver it.
var Inputs = []string{topics.OrderEvents, topics.ShipmentEvents}

// Role ships placed orders and delivers shipped ones. An order.placed is
// answered ShipAfter after its event time with shipment.shipped (carrier
// and a tracking id derived from the order); a shipment.shipped is
// answered DeliverAfter after its event time with shipment.delivered.
// Every other event is ignored.
//
// Each step's occurred_at is its due time (input time plus delay) and its
// id derives from the input's id, so a restart neither resets a delay nor
// changes what is published: a redelivered input republishes the same
// event, which the edge dedupes.
type Role struct {
	consumer *eventlog.Consumer
}

// Option configures a Role.
type Option func(*options)

type options struct {
	steps    steps
	log      *slog.Logger
	consumer []eventlog.ConsumerOption
}

// ShipAfter is the delay from an order's placement to its shipment
// (default 0: at once).
func ShipAfter(d time.Duration) Option { return func(o *options) { o.steps.shipAfter = d } }

// DeliverAfter is the delay from shipment to delivery (default 0).
func DeliverAfter(d time.Duration) Option { return func(o *options) { o.steps.deliverAfter = d } }

// Carrier names the carrier on new shipments (default DefaultCarrier).
func Carrier(name string) Option { return func(o *options) { o.steps.carrier = name } }

// Logger sets the logger of the role and its consumer.
func Logger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// ConsumerOptions passes options to the eventlog consumer: metrics
// (eventlog.CountIn), batch size (eventlog.MaxBatch).
func ConsumerOptions(opts ...eventlog.ConsumerOption) Option {
	return func(o *options) { o.consumer = append(o.consumer, opts...) }
}

// NewRole joins group on Inputs with a client from kopts
// (eventlog.ClientOpts). p publishes the steps and the dead letters: an
// event without an order id goes to its topic's dead-letter topic with the
// reason. It refuses a negative delay or an empty carrier.
func NewRole(kopts []kgo.Opt, group string, p *eventlog.Producer, opts ...Option) (*Role, error) {
	o := options{steps: steps{carrier: DefaultCarrier}, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.steps.validate(); err != nil {
		return nil, err
	}
	s := &shipper{steps: o.steps, out: p, source: group, log: o.log}
	copts := append([]eventlog.ConsumerOption{eventlog.ConsumerRole(group), eventlog.ConsumerLogger(o.log)}, o.consumer...)
	maxWait := max(o.steps.shipAfter, o.steps.deliverAfter)
	c, err := eventlog.NewConsumer(due.ConsumerOpts(kopts, maxWait), group, Inputs, s.handle, p, copts...)
	if err != nil {
		return nil, fmt.Errorf("shipping: role: %w", err)
	}
	return &Role{consumer: c}, nil
}

// Run ships orders until ctx ends, then leaves the group. Every batch
// answered in full is committed; one cut short is answered again, the
// same way, by whoever reads it next. It returns nil when ctx ended it.
func (r *Role) Run(ctx context.Context) error { return r.consumer.Run(ctx) }

// steps are the role's rules: which input leads to which step, and when.
type steps struct {
	shipAfter, deliverAfter time.Duration
	carrier                 string
}

func (s steps) validate() error {
	switch {
	case s.shipAfter < 0:
		return fmt.Errorf("shipping: ship-after delay %v is negative", s.shipAfter)
	case s.deliverAfter < 0:
		return fmt.Errorf("shipping: deliver-after delay %v is negative", s.deliverAfter)
	case strings.TrimSpace(s.carrier) == "":
		return fmt.Errorf("shipping: the carrier name is empty")
	}
	return nil
}

// next is the step that answers ev, with its delay; ok is false for an
// event the role ignores, and err says why it refuses one.
func (s steps) next(ev topics.Event) (step topics.Event, delay time.Duration, ok bool, err error) {
	var (
		typ  string
		data topics.Shipment
	)
	switch ev.Type {
	case topics.TypeOrderPlaced:
		o, err := topics.DataAs[topics.OrderTransition](ev)
		if err != nil {
			return step, 0, false, err
		}
		typ, delay = topics.TypeShipmentShipped, s.shipAfter
		data = topics.Shipment{OrderID: o.OrderID, UserID: o.UserID, Carrier: s.carrier, Tracking: Tracking(o.OrderID)}
	case topics.TypeShipmentShipped:
		sh, err := topics.DataAs[topics.Shipment](ev)
		if err != nil {
			return step, 0, false, err
		}
		// The parcel keeps the carrier and tracking it shipped with.
		typ, delay, data = topics.TypeShipmentDelivered, s.deliverAfter, sh
	default:
		return step, 0, false, nil
	}
	if data.OrderID == "" {
		return step, 0, false, fmt.Errorf("shipping: %s %s has no order id", ev.Type, ev.ID)
	}
	step, err = topics.New(typ, data.OrderID, data, topics.WithID(processors.OutputID(Name, ev.ID)), topics.At(ev.OccurredAt.Add(delay)))
	return step, delay, err == nil, err
}

// Tracking is the tracking id of the order's parcel, derived from the
// order id so that a republished shipment carries the same one.
func Tracking(orderID string) string {
	sum := sha256.Sum256([]byte("shopstream:tracking/" + orderID))
	return "SS" + strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// shipper is the role's handler, apart from its consumer.
type shipper struct {
	steps  steps
	out    *eventlog.Producer
	source string
	log    *slog.Logger
}

// handle answers a batch, the orders side by side (due.EachKey), and
// returns once every step is acknowledged, so the consumer commits only
// after publishing.
func (s *shipper) handle(ctx context.Context, batch []eventlog.Delivery) error {
	return due.EachKey(ctx, batch, s.answer)
}

func (s *shipper) answer(ctx context.Context, d eventlog.Delivery) error {
	step, delay, ok, err := s.steps.next(d.Event)
	if err != nil {
		s.log.Warn("dead-lettered an event", "role", s.source, "type", d.Event.Type, "id", d.Event.ID, "reason", err)
		return eventlog.DeadLetter(ctx, s.out, s.source, d.Record, err.Error())
	}
	if !ok {
		return nil
	}
	if err := due.Wait(ctx, step.OccurredAt, delay); err != nil {
		return err
	}
	return s.out.Publish(ctx, topics.ShipmentEvents, step)
}
