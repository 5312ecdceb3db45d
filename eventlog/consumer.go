package eventlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/topics"
)

// Delivery is one decoded event with the record it came from.
type Delivery struct {
	Event  topics.Event
	Record *kgo.Record
}

// Handler processes a batch of deliveries. It must be idempotent by event
// id: after a crash the batch since the last commit is delivered again. An
// error makes the Consumer retry the same batch with backoff; offsets only
// move past a batch once its handler returned nil.
type Handler func(ctx context.Context, batch []Delivery) error

// Consumer reads catalog topics in a consumer group with at-least-once
// delivery: it decodes each envelope, sends records that do not decode to
// the input's dead-letter topic with the reason, hands the rest to the
// handler, and commits only what the handler finished.
type Consumer struct {
	cl       *kgo.Client
	handler  Handler
	deadLtrs *Producer
	role     string
	in       *prometheus.CounterVec
	log      *slog.Logger
	maxBatch int
	prefetch bool
}

// ConsumerOption configures a Consumer.
type ConsumerOption func(*Consumer)

// ConsumerRole names the role for metrics and logs.
func ConsumerRole(name string) ConsumerOption { return func(c *Consumer) { c.role = name } }

// CountIn counts consumed records in vec (labels role and topic).
func CountIn(vec *prometheus.CounterVec) ConsumerOption { return func(c *Consumer) { c.in = vec } }

// ConsumerLogger sets the logger.
func ConsumerLogger(l *slog.Logger) ConsumerOption { return func(c *Consumer) { c.log = l } }

// MaxBatch bounds the records handed to one handler call.
func MaxBatch(n int) ConsumerOption { return func(c *Consumer) { c.maxBatch = n } }

// Prefetch polls and decodes the next batch while the handler works on
// the one before, and commits each batch's own offsets once it is
// handled. Decoding then costs no time of its own, but a rebalance no
// longer waits for the batch polled ahead: a partition that moves on may
// have that batch handled here and by its new owner at once. Only for
// handlers that tolerate that, as the sinks do (idempotent by event id or
// version); not for one that must be the single writer.
func Prefetch() ConsumerOption { return func(c *Consumer) { c.prefetch = true } }

// NewConsumer joins group on the input topics, starting a new group at the
// oldest record. deadLetters produces the dead-letter records.
func NewConsumer(opts []kgo.Opt, group string, inputs []string, h Handler, deadLetters *Producer, copts ...ConsumerOption) (*Consumer, error) {
	c := &Consumer{handler: h, deadLtrs: deadLetters, role: group, log: slog.Default(), maxBatch: 5000}
	for _, o := range copts {
		o(c)
	}
	opts = append(opts,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(inputs...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// A rebalance waits until the batch in hand is handled and
		// committed, so no other member processes it at the same time.
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("eventlog: new consumer %s: %w", group, err)
	}
	c.cl = cl
	return c, nil
}

// Run consumes until ctx ends, then commits what was handled and leaves
// the group.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.cl.Close()
	if c.prefetch {
		return c.runPrefetching(ctx)
	}
	for {
		p, ok := c.poll(ctx)
		if !ok {
			return p.err
		}
		if err := c.deliver(ctx, p); err != nil {
			return stopErr(ctx, err)
		}
		c.commit(func(ctx context.Context) error { return c.cl.CommitUncommittedOffsets(ctx) })
	}
}

// polled is a poll's records, decoded, with the decode step's failure
// (a dead letter that could not be written).
type polled struct {
	recs  []*kgo.Record
	batch []Delivery
	err   error
}

// poll waits for records and decodes them; false when the consumer must
// stop, with the error to stop with (nil when ctx ended).
func (c *Consumer) poll(ctx context.Context) (polled, bool) {
	fetches := c.cl.PollRecords(ctx, c.maxBatch)
	if ctx.Err() != nil {
		c.cl.AllowRebalance()
		return polled{}, false
	}
	if fetches.IsClientClosed() {
		return polled{err: errors.New("eventlog: consumer client closed")}, false
	}
	fetches.EachError(func(topic string, p int32, err error) {
		c.log.Warn("fetch failed; retrying", "role", c.role, "topic", topic, "partition", p, "err", err)
	})
	p := polled{recs: fetches.Records()}
	p.batch, p.err = c.decode(ctx, p.recs)
	return p, true
}

// deliver hands p to the handler; an error leaves p unhandled and
// uncommitted, and stops the consumer.
func (c *Consumer) deliver(ctx context.Context, p polled) error {
	err := p.err
	if err == nil {
		err = c.handle(ctx, p.batch)
	}
	if err != nil {
		c.cl.AllowRebalance()
	}
	return err
}

// stopErr is what Run returns for err: nil when ctx ended it.
func stopErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// commit commits what was handled, then lets a rebalance go on.
func (c *Consumer) commit(do func(context.Context) error) {
	commitCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := do(commitCtx)
	cancel()
	if err != nil {
		// The batch is handled; a failed commit only means it may be
		// redelivered, which handlers tolerate.
		c.log.Warn("offset commit failed", "role", c.role, "err", err)
	}
	c.cl.AllowRebalance()
}

// runPrefetching is Run with the next poll under way during each handler
// call (see Prefetch).
func (c *Consumer) runPrefetching(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	next := make(chan polled)
	stopped := make(chan error, 1)
	go func() {
		defer close(next)
		for {
			p, ok := c.poll(ctx)
			if !ok {
				stopped <- p.err
				return
			}
			select {
			case next <- p:
			case <-ctx.Done():
				stopped <- nil
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range next {
		}
	}()
	for p := range next {
		if err := c.deliver(ctx, p); err != nil {
			return stopErr(ctx, err)
		}
		if len(p.recs) > 0 {
			c.commit(func(ctx context.Context) error { return c.cl.CommitRecords(ctx, p.recs...) })
		}
	}
	return <-stopped
}

// decode decodes recs, dead-lettering what does not decode.
func (c *Consumer) decode(ctx context.Context, recs []*kgo.Record) ([]Delivery, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	if c.in != nil {
		// One counter lookup per topic of the poll, not per record.
		perTopic := map[string]int{}
		for _, r := range recs {
			perTopic[r.Topic]++
		}
		for topic, n := range perTopic {
			c.in.WithLabelValues(c.role, topic).Add(float64(n))
		}
	}
	batch, rejected := Decode(recs)
	for _, rj := range rejected {
		r := rj.Record
		c.log.Warn("dead-lettered a record", "role", c.role, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", rj.Reason)
	}
	if len(rejected) > 0 {
		if err := DeadLetters(ctx, c.deadLtrs, c.role, rejected); err != nil {
			return nil, err
		}
	}
	return batch, nil
}

// Decode decodes recs (topics.Decode) into deliveries, in order, and the
// records that do not decode, with the reason.
func Decode(recs []*kgo.Record) ([]Delivery, []Rejected) {
	batch := make([]Delivery, 0, len(recs))
	var rejected []Rejected
	for _, r := range recs {
		ev, err := topics.Decode(r.Value)
		if err != nil {
			rejected = append(rejected, Rejected{Record: r, Reason: err.Error()})
			continue
		}
		batch = append(batch, Delivery{Event: ev, Record: r})
	}
	return batch, rejected
}

// handle runs the handler on batch until it succeeds or ctx ends.
func (c *Consumer) handle(ctx context.Context, batch []Delivery) error {
	if len(batch) == 0 {
		return nil
	}
	backoff := 100 * time.Millisecond
	for {
		err := c.handler(ctx, batch)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Error("handler failed; retrying the batch", "role", c.role, "records", len(batch), "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// DeadLetter writes record r, rejected by source for reason, to its
// input's dead-letter topic and waits for the acknowledgement: an offset
// must not move past a record that is neither handled nor dead-lettered.
// The id derives from the record's position (topics.DeadLetterID).
func DeadLetter(ctx context.Context, p *Producer, source string, r *kgo.Record, reason string) error {
	return DeadLetters(ctx, p, source, []Rejected{{r, reason}})
}

// Rejected is a record and why it is refused.
type Rejected struct {
	Record *kgo.Record
	Reason string
}

// DeadLetters is DeadLetter for many records with one wait for all the
// acknowledgements: a batch full of refusals costs one round trip.
func DeadLetters(ctx context.Context, p *Producer, source string, rejected []Rejected) error {
	recs := make([]*kgo.Record, 0, len(rejected))
	for _, rj := range rejected {
		r := rj.Record
		ev, err := topics.New(topics.TypeDeadLetter, string(r.Key), topics.DeadLetter{
			Reason: rj.Reason, Source: source, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Original: r.Value,
		}, topics.WithID(topics.DeadLetterID(source, r.Topic, r.Partition, r.Offset)))
		if err != nil {
			return err
		}
		rec, err := Record(topics.DeadLetterTopic(r.Topic), ev)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	return p.PublishRecords(ctx, recs...)
}
