package ingest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/topics"
)

// maxSamples is how many dead letters a Summary quotes.
const maxSamples = 10

// emitter produces events asynchronously, pipelined, and counts what
// Kafka acknowledged. The first failure stops the feed (through stop);
// wait returns once every record is acknowledged or failed.
type emitter struct {
	p    *eventlog.Producer
	stop context.CancelCauseFunc

	wg                 sync.WaitGroup
	items, stock, dead atomic.Int64
	failed             atomic.Int64
	mu                 sync.Mutex
	firstErr           error
	// samples is only touched by the goroutine that deals outcomes.
	samples []Rejected
}

func newEmitter(p *eventlog.Producer, stop context.CancelCauseFunc) *emitter {
	return &emitter{p: p, stop: stop}
}

// acked is every record Kafka has acknowledged so far.
func (e *emitter) acked() int64 { return e.items.Load() + e.stock.Load() + e.dead.Load() }

func (e *emitter) emit(ctx context.Context, topic string, ev topics.Event, n *atomic.Int64) {
	e.wg.Add(1)
	e.p.Produce(ctx, topic, ev, func(err error) {
		if err != nil {
			e.failed.Add(1)
			e.fail(err)
		} else {
			n.Add(1)
		}
		e.wg.Done()
	})
}

// record produces a valid record to its topic.
func (e *emitter) record(ctx context.Context, rec *record) {
	ev, err := rec.event()
	if err != nil {
		e.fail(err)
		return
	}
	n := &e.items
	if rec.kind == KindStock {
		n = &e.stock
	}
	e.emit(ctx, rec.kind.Topic(), ev, n)
}

// outcome produces a decoded file record: to its topic, or to the
// dead-letter topic.
func (e *emitter) outcome(ctx context.Context, o *outcome) {
	if o.err != nil {
		e.fail(o.err)
		return
	}
	n := &e.items
	switch {
	case o.dead != nil:
		n = &e.dead
	case o.kind == KindStock:
		n = &e.stock
	}
	e.emit(ctx, o.topic, o.ev, n)
}

// deadLetterEvent builds the dead letter of a rejected record of input:
// the reason, the source and the original bytes (cut at MaxOriginalBytes).
func deadLetterEvent(input, key string, r Rejected, original []byte) (topics.Event, error) {
	if len(original) > MaxOriginalBytes {
		r.Reason += fmt.Sprintf(" (original cut to its first %d of %d bytes)", MaxOriginalBytes, len(original))
		original = original[:MaxOriginalBytes]
	}
	return topics.New(topics.TypeDeadLetter, key, topics.DeadLetter{
		Reason: r.Reason, Source: r.Source, Topic: input, Partition: -1, Offset: -1, Original: original})
}

func (e *emitter) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.firstErr == nil {
		e.firstErr = err
		e.stop(err)
	}
}

// wait flushes and waits for every acknowledgement, and returns the first
// failure.
func (e *emitter) wait(ctx context.Context) error {
	flushErr := e.p.Flush(ctx)
	e.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.firstErr != nil {
		return e.firstErr
	}
	return flushErr
}

// fill copies the counts into s.
func (e *emitter) fill(s *Summary) {
	s.Items, s.Stock, s.DeadLettered, s.Failed = e.items.Load(), e.stock.Load(), e.dead.Load(), e.failed.Load()
	s.Samples = e.samples
}
