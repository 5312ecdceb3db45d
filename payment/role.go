package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/eventlog/due"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Name is the role's name, the consumer group to run it under, and the
// namespace of its output event ids (processors.OutputID). The ids do not
// depend on the group, so the same input answered under another group (a
// replay) gets the same ids, which the edge dedupes.
const Name = "payment"

// Role charges orders through a Gateway. It consumes order.events: an
// order.created is charged and, once the gateway's latency has passed
// since the order was created, answered on payment.events with
// payment.succeeded or payment.failed (a NoAnswer publishes nothing; the
// edge's expiry sweeper cancels the order). An order.refunded that moves
// money (amount_cents > 0) is refunded and answered with payment.refunded.
// Other order events are ignored.
//
// Each answer's id derives from its input's id and its occurred_at is the
// answer time (input time plus latency), so a redelivery after a crash
// republishes the very same event. A latency longer than the order's TTL
// is how a payment succeeds after expiry: the answer is still published,
// late, and the edge refunds it.
type Role struct {
	consumer *eventlog.Consumer
}

// Option configures a Role.
type Option func(*options)

type options struct {
	log      *slog.Logger
	consumer []eventlog.ConsumerOption
}

// Logger sets the logger of the role and its consumer.
func Logger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// ConsumerOptions passes options to the eventlog consumer: metrics
// (eventlog.CountIn), batch size (eventlog.MaxBatch).
func ConsumerOptions(opts ...eventlog.ConsumerOption) Option {
	return func(o *options) { o.consumer = append(o.consumer, opts...) }
}

// NewRole joins group on topics.OrderEvents with a client from kopts
// (eventlog.ClientOpts). p publishes the answers and the dead letters: an
// order the gateway refuses (no amount, unknown currency) goes to
// order.events.dlq with the reason.
func NewRole(gw *Gateway, kopts []kgo.Opt, group string, p *eventlog.Producer, opts ...Option) (*Role, error) {
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	a := &answerer{gw: gw, out: p, source: group, log: o.log}
	copts := append([]eventlog.ConsumerOption{eventlog.ConsumerRole(group), eventlog.ConsumerLogger(o.log)}, o.consumer...)
	c, err := eventlog.NewConsumer(due.ConsumerOpts(kopts, gw.MaxLatency()), group, []string{topics.OrderEvents}, a.handle, p, copts...)
	if err != nil {
		return nil, fmt.Errorf("payment: role: %w", err)
	}
	return &Role{consumer: c}, nil
}

// Run charges orders until ctx ends, then leaves the group. Every batch
// answered in full is committed; one cut short is answered again, the
// same way, by whoever reads it next. It returns nil when ctx ended it.
func (r *Role) Run(ctx context.Context) error { return r.consumer.Run(ctx) }

// answerer is the role's handler, apart from its consumer.
type answerer struct {
	gw     *Gateway
	out    *eventlog.Producer
	source string
	log    *slog.Logger
}

// handle answers a batch, the orders side by side (due.EachKey): the
// batch takes about one latency, not one per order. It returns once every
// answer is acknowledged, so the consumer commits only after publishing.
func (a *answerer) handle(ctx context.Context, batch []eventlog.Delivery) error {
	return due.EachKey(ctx, batch, a.answer)
}

func (a *answerer) answer(ctx context.Context, d eventlog.Delivery) error {
	switch d.Event.Type {
	case topics.TypeOrderCreated:
		return a.charge(ctx, d)
	case topics.TypeOrderRefunded:
		return a.refund(ctx, d)
	}
	return nil
}

func (a *answerer) charge(ctx context.Context, d eventlog.Delivery) error {
	o, err := topics.DataAs[topics.OrderCreated](d.Event)
	if err != nil {
		return a.reject(ctx, d, err.Error())
	}
	req := Request{OrderID: o.OrderID, AmountCents: o.TotalCents, Currency: o.Currency, At: d.Event.OccurredAt}
	res, err := a.gw.Charge(ctx, req)
	switch {
	case errors.Is(err, ErrInvalidRequest):
		return a.reject(ctx, d, err.Error())
	case err != nil:
		return err
	case res.Outcome == NoAnswer:
		a.log.Debug("the gateway did not answer", "role", a.source, "order", o.OrderID)
		return nil
	}
	return a.publish(ctx, d, chargeType(res.Outcome), req, res, res.Reason)
}

func (a *answerer) refund(ctx context.Context, d eventlog.Delivery) error {
	o, err := topics.DataAs[topics.OrderTransition](d.Event)
	if err != nil {
		return a.reject(ctx, d, err.Error())
	}
	if o.AmountCents <= 0 {
		return nil // a refund that moves no money: nothing to pay back
	}
	req := Request{OrderID: o.OrderID, AmountCents: o.AmountCents, Currency: o.Currency, At: d.Event.OccurredAt}
	res, err := a.gw.Refund(ctx, req)
	switch {
	case errors.Is(err, ErrInvalidRequest):
		return a.reject(ctx, d, err.Error())
	case err != nil:
		return err
	}
	return a.publish(ctx, d, topics.TypePaymentRefunded, req, res, o.Reason)
}

// publish writes the answer to input d and waits for its acknowledgement.
func (a *answerer) publish(ctx context.Context, d eventlog.Delivery, typ string, req Request, res Result, reason string) error {
	ev, err := topics.New(typ, req.OrderID,
		topics.Payment{OrderID: req.OrderID, PaymentID: res.PaymentID, AmountCents: req.AmountCents, Currency: req.Currency, Reason: reason},
		topics.WithID(processors.OutputID(Name, d.Event.ID)), topics.At(res.AnsweredAt))
	if err != nil {
		return err
	}
	return a.out.Publish(ctx, topics.PaymentEvents, ev)
}

// chargeType is the payment event type of a charge's outcome.
func chargeType(o Outcome) string {
	if o == Succeeded {
		return topics.TypePaymentSucceeded
	}
	return topics.TypePaymentFailed
}

// reject dead-letters an order event the role cannot charge.
func (a *answerer) reject(ctx context.Context, d eventlog.Delivery, reason string) error {
	a.log.Warn("dead-lettered an order event", "role", a.source, "type", d.Event.Type, "id", d.Event.ID, "reason", reason)
	return eventlog.DeadLetter(ctx, a.out, a.source, d.Record, reason)
}
