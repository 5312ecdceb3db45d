package analytics

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/topics"
)

// Writer is what the sink needs of a Store. WriteEvents must not keep
// events once it returns: the sink fills the same slice again.
type Writer interface {
	WriteEvents(ctx context.Context, events []Event) error
}

// The sink's batching defaults: a batch closes at 50,000 events, at 16 MiB
// fetched, or 200 ms after its fetch began, whichever comes first.
// ClickHouse wants few large inserts (each makes a part to merge), and a
// write costs three statements whatever its size: 20,000 events a batch
// wrote 1.4 times as fast as 5,000, and 50,000 took the sink from 0.43 to
// 0.52 of a raw insert (docs/analytics.md). A batch and the one fetched
// behind it hold up to twice 16 MiB of records, and their events, in memory.
const (
	DefaultBatchEvents = 50000
	DefaultBatchBytes  = 16 << 20
	DefaultBatchDelay  = 200 * time.Millisecond
)

// Sink keeps a Store current from membership.events and order.events: each
// batch the consumer hands over is one WriteEvents. Batches grow under load
// and wait a bounded time when the topics are quiet, so the store gets few
// large inserts (what ClickHouse wants) and an event is stored within about
// the delay. The store is idempotent by event id, so the redelivery after a
// crash, and a replay from any offset, leave it as the live run would.
type Sink struct {
	store       Writer
	consumer    *eventlog.Consumer
	deadLetters *eventlog.Producer
	// types are the event types each input topic carries.
	types map[string]map[string]bool
	role  string
	log   *slog.Logger
	// events is the last batch's slice, filled again by the next: batches
	// run to megabytes, and handle runs one at a time.
	events []Event
}

// SinkOption configures a Sink.
type SinkOption func(*sinkOptions)

type sinkOptions struct {
	role     string
	log      *slog.Logger
	events   int
	bytes    int32
	delay    time.Duration
	consumer []eventlog.ConsumerOption
}

// SinkRole names the sink in logs, metrics and dead letters (default
// "analytics-sink").
func SinkRole(name string) SinkOption { return func(o *sinkOptions) { o.role = name } }

// SinkLogger sets the logger of the sink and its consumer.
func SinkLogger(l *slog.Logger) SinkOption { return func(o *sinkOptions) { o.log = l } }

// BatchEvents bounds the events of one write (default DefaultBatchEvents).
func BatchEvents(n int) SinkOption {
	return func(o *sinkOptions) {
		if n > 0 {
			o.events = n
		}
	}
}

// BatchBytes is how much the broker gathers before it answers a fetch early
// (default DefaultBatchBytes).
func BatchBytes(n int32) SinkOption {
	return func(o *sinkOptions) {
		if n > 0 {
			o.bytes = n
		}
	}
}

// BatchDelay bounds how long the broker holds a fetch to gather
// BatchBytes: the most an event waits for its batch to fill (default
// DefaultBatchDelay).
func BatchDelay(d time.Duration) SinkOption {
	return func(o *sinkOptions) {
		if d > 0 {
			o.delay = d
		}
	}
}

// ConsumerOptions passes options to the eventlog consumer, such as metrics
// (eventlog.CountIn).
func ConsumerOptions(opts ...eventlog.ConsumerOption) SinkOption {
	return func(o *sinkOptions) { o.consumer = append(o.consumer, opts...) }
}

// Inputs are the topics the sink consumes.
var Inputs = []string{topics.MembershipEvents, topics.OrderEvents}

// NewSink joins group on membership.events and order.events with a client built from kopts
// (eventlog.ClientOpts). Records that do not decode, events of a type their
// topic does not carry and events the store cannot keep (FromTopic) go to
// the input's dead-letter topic through deadLetters, with the reason. A new
// group starts at the oldest record, so a new group over an empty store
// rebuilds it.
func NewSink(store Writer, kopts []kgo.Opt, group string, deadLetters *eventlog.Producer, opts ...SinkOption) (*Sink, error) {
	s, o := newSink(store, deadLetters, opts)
	// The broker holds each fetch until it has the bytes or the delay
	// passed: batching with a bounded delay, with nothing buffered past the
	// offsets the consumer commits. Kafka counts a partition's bytes toward
	// the minimum only up to its per-partition limit (1 MiB by default), so
	// that limit is raised to the minimum: else a backlog on a few
	// partitions could never make 16 MiB and every fetch would wait out
	// the delay.
	kopts = append(append([]kgo.Opt(nil), kopts...), kgo.FetchMinBytes(o.bytes), kgo.FetchMaxWait(o.delay),
		kgo.FetchMaxPartitionBytes(o.bytes), kgo.FetchMaxBytes(int32(min(2*int64(o.bytes), math.MaxInt32))))
	// The next batch is fetched and decoded while this one is written: the
	// store is idempotent by event id, so a batch written twice during a
	// rebalance changes nothing (eventlog.Prefetch).
	copts := append([]eventlog.ConsumerOption{eventlog.ConsumerRole(o.role), eventlog.ConsumerLogger(o.log), eventlog.MaxBatch(o.events), eventlog.Prefetch()}, o.consumer...)
	c, err := eventlog.NewConsumer(kopts, group, Inputs, s.handle, deadLetters, copts...)
	if err != nil {
		return nil, fmt.Errorf("analytics: sink: %w", err)
	}
	s.consumer = c
	return s, nil
}

// Handler is the sink's apply path without its consumer: each call writes
// a batch as Run does, dead-lettering what the sink refuses through
// deadLetters under its role. A replay (package replay) feeds it the
// records it reads itself.
func Handler(store Writer, deadLetters *eventlog.Producer, opts ...SinkOption) eventlog.Handler {
	s, _ := newSink(store, deadLetters, opts)
	return s.handle
}

func newSink(store Writer, deadLetters *eventlog.Producer, opts []SinkOption) (*Sink, sinkOptions) {
	o := sinkOptions{role: "analytics-sink", log: slog.Default(), events: DefaultBatchEvents, bytes: DefaultBatchBytes, delay: DefaultBatchDelay}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Sink{store: store, deadLetters: deadLetters, types: map[string]map[string]bool{}, role: o.role, log: o.log}
	// The types come from the catalog, whatever its sizing.
	cat := topics.Catalog(topics.Settings{Partitions: 1, Replication: 1})
	for _, name := range Inputs {
		t, _ := topics.Lookup(cat, name)
		s.types[name] = map[string]bool{}
		for _, typ := range t.Types {
			s.types[name][typ] = true
		}
	}
	return s, o
}

// Run writes until ctx ends, then commits what was written and leaves the
// group. It returns nil when ctx ended it.
func (s *Sink) Run(ctx context.Context) error { return s.consumer.Run(ctx) }

// handle writes one batch. A write error fails the batch, which the
// consumer retries: the store's idempotence makes the retry harmless.
func (s *Sink) handle(ctx context.Context, batch []eventlog.Delivery) error {
	events := slices.Grow(s.events[:0], len(batch))
	defer func() { clear(events); s.events = events[:0] }()
	for _, d := range batch {
		if !s.types[d.Record.Topic][d.Event.Type] {
			if err := s.deadLetter(ctx, d.Record, fmt.Sprintf("event type %q does not belong on %s", d.Event.Type, d.Record.Topic)); err != nil {
				return err
			}
			continue
		}
		e, err := FromTopic(d.Event)
		if err != nil {
			if err := s.deadLetter(ctx, d.Record, err.Error()); err != nil {
				return err
			}
			continue
		}
		events = append(events, e)
	}
	return s.store.WriteEvents(ctx, events)
}

// deadLetter writes r to its input's dead-letter topic with the reason
// (eventlog.DeadLetter).
func (s *Sink) deadLetter(ctx context.Context, r *kgo.Record, reason string) error {
	s.log.Warn("dead-lettered an event", "role", s.role, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", reason)
	return eventlog.DeadLetter(ctx, s.deadLetters, s.role, r, reason)
}
