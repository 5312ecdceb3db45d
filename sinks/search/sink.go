package search

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/topics"
)

// sinkFetchBytes bounds what one fetch of the sink's consumer reads.
const sinkFetchBytes = 512 << 10

// Sink keeps a Store current from the listings topic: each batch the
// consumer hands over is one bulk Index. It is idempotent through the
// listings' versions, so the at-least-once redelivery after a crash, and a
// replay from any offset, leave the index as the live run would.
type Sink struct {
	store       Store
	consumer    *eventlog.Consumer
	deadLetters *eventlog.Producer
	role        string
	log         *slog.Logger
}

// SinkOption configures a Sink.
type SinkOption func(*sinkOptions)

type sinkOptions struct {
	role     string
	log      *slog.Logger
	consumer []eventlog.ConsumerOption
}

// SinkRole names the sink in logs, metrics and dead letters (default
// "search-sink").
func SinkRole(name string) SinkOption { return func(o *sinkOptions) { o.role = name } }

// SinkLogger sets the logger of the sink and its consumer.
func SinkLogger(l *slog.Logger) SinkOption { return func(o *sinkOptions) { o.log = l } }

// ConsumerOptions passes options to the eventlog consumer: metrics
// (eventlog.CountIn), batch size (eventlog.MaxBatch).
func ConsumerOptions(opts ...eventlog.ConsumerOption) SinkOption {
	return func(o *sinkOptions) { o.consumer = append(o.consumer, opts...) }
}

// NewSink joins group on topics.Listings with a client built from kopts
// (eventlog.ClientOpts). Records that do not decode, events that are not
// listings and listings Index rejects go to listings.dlq through
// deadLetters, with the reason. A new group starts at the oldest record,
// so a new group over an empty index rebuilds it.
func NewSink(store Store, kopts []kgo.Opt, group string, deadLetters *eventlog.Producer, opts ...SinkOption) (*Sink, error) {
	s, o := newSink(store, deadLetters, opts)
	copts := append([]eventlog.ConsumerOption{eventlog.ConsumerRole(o.role), eventlog.ConsumerLogger(o.log)}, o.consumer...)
	// The index takes a few thousand listings a second, while franz-go
	// fetches up to a megabyte per partition ahead of it: smaller fetches
	// keep fewer listings waiting in memory, and a batch still fills.
	kopts = append(slices.Clip(kopts), kgo.FetchMaxPartitionBytes(sinkFetchBytes), kgo.FetchMaxBytes(sinkFetchBytes))
	c, err := eventlog.NewConsumer(kopts, group, []string{topics.Listings}, s.handle, deadLetters, copts...)
	if err != nil {
		return nil, fmt.Errorf("search: sink: %w", err)
	}
	s.consumer = c
	return s, nil
}

// Handler is the sink's apply path without its consumer: each call
// indexes a batch as Run does, dead-lettering what the sink refuses
// through deadLetters under its role. A replay (package replay) feeds it
// the records it reads itself.
func Handler(store Store, deadLetters *eventlog.Producer, opts ...SinkOption) eventlog.Handler {
	s, _ := newSink(store, deadLetters, opts)
	return s.handle
}

func newSink(store Store, deadLetters *eventlog.Producer, opts []SinkOption) (*Sink, sinkOptions) {
	o := sinkOptions{role: "search-sink", log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	return &Sink{store: store, deadLetters: deadLetters, role: o.role, log: o.log}, o
}

// Run indexes until ctx ends, then commits what was indexed and leaves
// the group. It returns nil when ctx ended it.
func (s *Sink) Run(ctx context.Context) error { return s.consumer.Run(ctx) }

// handle indexes one batch. An Index error fails the batch, which the
// consumer retries: versions make the retry harmless.
func (s *Sink) handle(ctx context.Context, batch []eventlog.Delivery) error {
	listings := make([]topics.Listing, 0, len(batch))
	from := make([]*kgo.Record, 0, len(batch)) // the record of each listing
	for _, d := range batch {
		l, ok := d.Event.Data.(topics.Listing)
		if !ok {
			if err := s.deadLetter(ctx, d.Record, fmt.Sprintf("event type %q is not %s, the only type of %s", d.Event.Type, topics.TypeListingChanged, topics.Listings)); err != nil {
				return err
			}
			continue
		}
		listings = append(listings, l)
		from = append(from, d.Record)
	}
	st, err := s.store.Index(ctx, listings)
	if err != nil {
		return err
	}
	for _, r := range st.Rejected {
		if err := s.deadLetter(ctx, from[r.Position], r.Reason); err != nil {
			return err
		}
	}
	if st.Stale > 0 || len(st.Rejected) > 0 {
		s.log.Debug("indexed listings", "role", s.role, "indexed", st.Indexed, "stale", st.Stale, "rejected", len(st.Rejected))
	}
	return nil
}

// deadLetter writes r to listings.dlq with the reason (eventlog.DeadLetter).
func (s *Sink) deadLetter(ctx context.Context, r *kgo.Record, reason string) error {
	s.log.Warn("dead-lettered a listing", "role", s.role, "partition", r.Partition, "offset", r.Offset, "reason", reason)
	return eventlog.DeadLetter(ctx, s.deadLetters, s.role, r, reason)
}
