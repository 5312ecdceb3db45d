package replay

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/eventlog"
)

// Target is what a replay feeds, a batch at a time, each partition's
// records in order. It must be idempotent: records applied again, or
// applied over what the live pipeline wrote, change nothing that was right.
type Target interface {
	// Apply applies a batch of decoded events. An error stops the replay;
	// run it again from the same start.
	Apply(ctx context.Context, batch []eventlog.Delivery) error
	// Finish runs once after the last batch, for a target that holds back
	// what it can only complete at the end.
	Finish(ctx context.Context) error
}

// Handler makes a sink's own apply path (search.Handler,
// analytics.Handler) a Target.
func Handler(h eventlog.Handler) Target { return handlerTarget(h) }

type handlerTarget eventlog.Handler

func (h handlerTarget) Apply(ctx context.Context, batch []eventlog.Delivery) error {
	return h(ctx, batch)
}

func (handlerTarget) Finish(context.Context) error { return nil }

// Option configures Run.
type Option func(*options)

type options struct {
	maxBatch    int
	deadLetters *eventlog.Producer
	source      string
	progress    io.Writer
	terminal    bool
	every       time.Duration
	label       string
	log         *slog.Logger
}

// MaxBatch bounds the records of one Apply (default 5000, the live
// consumers' batch).
func MaxBatch(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBatch = n
		}
	}
}

// DeadLetters sends records that do not decode to their input's
// dead-letter topic through p, under source: the live consumer's role, so
// that each gets the id the live consumer gave it (topics.DeadLetterID)
// and consumers of the dead letters dedupe the replay's copy. Without it
// such records are counted in Summary.Undecodable and skipped.
func DeadLetters(p *eventlog.Producer, source string) Option {
	return func(o *options) { o.deadLetters, o.source = p, source }
}

// Progress draws a progress line on w: redrawn in place several times a
// second on a terminal, else a line every every (DefaultEvery when 0).
func Progress(w io.Writer, terminal bool, every time.Duration) Option {
	return func(o *options) { o.progress, o.terminal, o.every = w, terminal, every }
}

// Label names the replay on the progress line (default "replay").
func Label(s string) Option { return func(o *options) { o.label = s } }

// Logger receives the reader's warnings (default slog.Default()).
func Logger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Summary is what a replay did.
type Summary struct {
	// Records counts the records read in the plan's spans (transaction
	// markers aside), Applied those handed to the target, and Undecodable
	// those that did not decode.
	Records, Applied, Undecodable int64
	Took                          time.Duration
}

func (s Summary) String() string {
	rate := 0.0
	if s.Took > 0 {
		rate = float64(s.Records) / s.Took.Seconds()
	}
	return fmt.Sprintf("replayed %d records (%d applied, %d undecodable) in %s: %.0f records/s",
		s.Records, s.Applied, s.Undecodable, s.Took.Round(time.Millisecond), rate)
}

// chunk is one poll's records, decoded, on their way to the target.
type chunk struct {
	batch    []eventlog.Delivery
	rejected []eventlog.Rejected
	// records counts the data records read; passed the offsets the
	// cursors moved over.
	records, passed int64
}

// Run reads the plan's spans with a client built from kopts (see
// eventlog.ClientOpts), assigned the partitions directly (no group, no
// commits), decodes each record and hands the events to target in batches;
// it stops at the plan's ends, then calls target.Finish. It reads
// committed records only, like the live consumers. Reading and decoding
// the next batch overlaps the target's work on the one before.
func Run(ctx context.Context, kopts []kgo.Opt, plan Plan, target Target, opts ...Option) (Summary, error) {
	o := options{maxBatch: 5000, label: "replay", every: DefaultEvery, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	start := time.Now()
	var sum Summary
	var read atomic.Int64
	if o.progress != nil {
		total := plan.Offsets()
		pr := startProgress(o.progress, o.label, o.terminal, o.every, func() Snapshot {
			return Snapshot{Elapsed: time.Since(start), Read: read.Load(), Total: total}
		})
		defer pr.Stop()
	}
	if plan.Offsets() > 0 {
		chunks := make(chan chunk, 1)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			defer close(chunks)
			return o.read(gctx, kopts, plan, chunks)
		})
		g.Go(func() error {
			for c := range chunks {
				sum.Records += c.records
				if len(c.rejected) > 0 {
					sum.Undecodable += int64(len(c.rejected))
					if o.deadLetters != nil {
						if err := eventlog.DeadLetters(gctx, o.deadLetters, o.source, c.rejected); err != nil {
							return fmt.Errorf("replay: dead-letter %d records that do not decode: %w", len(c.rejected), err)
						}
					}
				}
				if len(c.batch) > 0 {
					if err := target.Apply(gctx, c.batch); err != nil {
						return fmt.Errorf("replay: apply %d records: %w", len(c.batch), err)
					}
					sum.Applied += int64(len(c.batch))
				}
				read.Add(c.passed)
			}
			return nil
		})
		if err := g.Wait(); err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("replay: stopped after %d records: %w", sum.Applied, ctx.Err())
			}
			return sum, err
		}
	}
	if err := target.Finish(ctx); err != nil {
		return sum, fmt.Errorf("replay: finish: %w", err)
	}
	sum.Took = time.Since(start)
	return sum, nil
}

// read reads the plan's spans to their ends (eventlog.ReadSpans), sending
// each poll's records decoded to out.
func (o options) read(ctx context.Context, kopts []kgo.Opt, plan Plan, out chan<- chunk) error {
	spans := make([]eventlog.Span, len(plan.Spans))
	for i, s := range plan.Spans {
		spans[i] = eventlog.Span{Topic: s.Topic, Partition: s.Partition, Start: s.Start, End: s.End}
	}
	warn := func(topic string, p int32, err error) error {
		o.log.Warn("replay fetch failed; retrying", "topic", topic, "partition", p, "err", err)
		return nil
	}
	err := eventlog.ReadSpans(ctx, kopts, spans, o.maxBatch, warn, func(poll eventlog.SpanPoll) error {
		if poll.Passed == 0 {
			return nil
		}
		c := chunk{records: int64(len(poll.Records)), passed: poll.Passed}
		c.batch, c.rejected = eventlog.Decode(poll.Records)
		select {
		case out <- c:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}
