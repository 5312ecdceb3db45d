package ordertaking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/eventlog"
)

// Relay publishes the order-taking database's outbox to Kafka: at least
// once, in the order the records were written (so in order per order), and
// crash-safe. A record leaves the outbox only after Kafka acknowledged it;
// a crash between the two publishes it again under the same event id,
// which every consumer dedupes. Of several edge instances on one
// database, one relays at a time (orderdb.Store.RelayLease).
type Relay struct {
	store    orderdb.Store
	producer *eventlog.Producer
	wake     <-chan struct{}
	batch    int
	poll     time.Duration
	log      *slog.Logger
	pending  prometheus.Gauge
	oldest   prometheus.Gauge
	// published runs after a batch is acknowledged and before it is marked:
	// tests kill the relay there.
	published func(n int)
}

// RelayOption configures a Relay.
type RelayOption func(*Relay)

// RelayBatch bounds the records read and published together (default 500).
func RelayBatch(n int) RelayOption { return func(r *Relay) { r.batch = n } }

// RelayPoll is how often the relay looks when nothing woke it (default
// 50ms): writes by other instances of the edge only show up by polling.
func RelayPoll(d time.Duration) RelayOption { return func(r *Relay) { r.poll = d } }

// RelayWake makes the relay publish as soon as ch is signalled.
func RelayWake(ch <-chan struct{}) RelayOption { return func(r *Relay) { r.wake = ch } }

// RelayLogger sets the logger.
func RelayLogger(l *slog.Logger) RelayOption { return func(r *Relay) { r.log = l } }

// RelayLag reports the backlog and the age of its oldest record.
func RelayLag(pending, oldest prometheus.Gauge) RelayOption {
	return func(r *Relay) { r.pending, r.oldest = pending, oldest }
}

// NewRelay publishes store's outbox through producer.
func NewRelay(store orderdb.Store, producer *eventlog.Producer, opts ...RelayOption) *Relay {
	r := &Relay{store: store, producer: producer, batch: 500, poll: 50 * time.Millisecond, log: slog.Default(), published: func(int) {}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Run relays until ctx ends; it returns nil when ctx ended it. Only the
// holder of the database's relay lease publishes: other instances stand
// by and take over when it goes. A failed publish or mark is retried with
// backoff.
func (r *Relay) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		lease, err := r.store.RelayLease(ctx, 0)
		switch {
		case errors.Is(err, orderdb.ErrLeaseTaken):
			sleep(ctx, standby)
		case err != nil:
			if ctx.Err() == nil {
				r.log.Warn("outbox relay cannot take its lease; retrying", "err", err)
				sleep(ctx, standby)
			}
		default:
			r.lead(ctx, lease)
			lease.Release()
		}
	}
	return nil
}

// standby is how often a relay without the lease tries to take it.
const standby = time.Second

// lead publishes while the lease holds.
func (r *Relay) lead(ctx context.Context, lease orderdb.Lease) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if err := lease.Held(ctx); err != nil {
			if ctx.Err() == nil {
				r.log.Warn("outbox relay lost its lease", "err", err)
			}
			return
		}
		n, err := r.Once(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("outbox relay failed; retrying", "err", err, "backoff", backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		if n < r.batch {
			select {
			case <-ctx.Done():
			case <-r.wake:
			case <-time.After(r.poll):
			}
		}
	}
}

// Once publishes one batch and returns how many records it published.
func (r *Relay) Once(ctx context.Context) (int, error) {
	recs, err := r.store.PendingOutbox(ctx, r.batch)
	if err != nil {
		return 0, fmt.Errorf("ordertaking: relay: read the outbox: %w", err)
	}
	if len(recs) > 0 {
		out := make([]*kgo.Record, len(recs))
		seqs := make([]int64, len(recs))
		for i, rec := range recs {
			out[i] = &kgo.Record{Topic: rec.Topic, Key: []byte(rec.Key), Value: rec.Value}
			seqs[i] = rec.Seq
		}
		if err := r.producer.PublishRecords(ctx, out...); err != nil {
			return 0, fmt.Errorf("ordertaking: relay: publish %d outbox records: %w", len(recs), err)
		}
		r.published(len(recs))
		if err := r.store.MarkPublished(ctx, seqs); err != nil {
			return 0, fmt.Errorf("ordertaking: relay: mark %d outbox records published: %w", len(recs), err)
		}
	}
	if r.pending != nil {
		n, oldest, err := r.store.OutboxBacklog(ctx)
		if err != nil {
			return len(recs), fmt.Errorf("ordertaking: relay: outbox backlog: %w", err)
		}
		r.pending.Set(float64(n))
		age := 0.0
		if !oldest.IsZero() {
			age = time.Since(oldest).Seconds()
		}
		r.oldest.Set(age)
	}
	return len(recs), nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
