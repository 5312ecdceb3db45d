package processortest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Tail collects the events written to a topic after it started.
type Tail struct {
	topic  string
	mu     sync.Mutex
	evs    []topics.Event
	stop   context.CancelFunc
	done   chan struct{}
	notify chan struct{}
}

// Tail starts reading topic from its current end until Stop or the end of
// the test.
func (k *Kafka) Tail(t testing.TB, topic string) *Tail {
	t.Helper()
	cl := k.client(t, kgo.ConsumePartitions(k.ends(t, topic).KOffsets()))
	ctx, cancel := context.WithCancel(context.Background())
	tl := &Tail{topic: topic, stop: cancel, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	go tl.run(ctx, cl)
	t.Cleanup(tl.Stop)
	return tl
}

func (tl *Tail) run(ctx context.Context, cl *kgo.Client) {
	defer close(tl.done)
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		tl.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			// Processors write only events; anything else is not theirs.
			if ev, err := topics.Decode(r.Value); err == nil {
				tl.evs = append(tl.evs, ev)
			}
		})
		tl.mu.Unlock()
		select {
		case tl.notify <- struct{}{}:
		default:
		}
	}
}

// Stop stops reading; what was read stays.
func (tl *Tail) Stop() {
	tl.stop()
	<-tl.done
}

// Events returns the events read so far for which keep is true.
func (tl *Tail) Events(keep func(topics.Event) bool) []topics.Event {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var out []topics.Event
	for _, ev := range tl.evs {
		if keep(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// Wait returns the events kept once there are at least n, failing the test
// if they do not arrive within timeout.
func (tl *Tail) Wait(t testing.TB, n int, timeout time.Duration, keep func(topics.Event) bool) []topics.Event {
	t.Helper()
	return tl.Until(t, timeout, keep, func(evs []topics.Event) bool { return len(evs) >= n })
}

// Until returns the events kept once done is true of them, failing the
// test if it is not within timeout.
func (tl *Tail) Until(t testing.TB, timeout time.Duration, keep func(topics.Event) bool, done func([]topics.Event) bool) []topics.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if evs := tl.Events(keep); done(evs) {
			return evs
		}
		select {
		case <-tl.notify:
		case <-deadline:
			t.Fatalf("%s: not done after %s: %+v", tl.topic, timeout, tl.Events(keep))
		}
	}
}

// Quiet waits for d, then returns the events kept: for checking nothing
// more arrives.
func (tl *Tail) Quiet(d time.Duration, keep func(topics.Event) bool) []topics.Event {
	time.Sleep(d)
	return tl.Events(keep)
}

// Keys keeps events whose key is one of keys.
func Keys(keys ...string) func(topics.Event) bool {
	return func(ev topics.Event) bool { return slices.Contains(keys, ev.Key) }
}

// Outputs keeps the events group emitted for the input event ids: on a
// shared Kafka, other tests' processors may read this test's inputs too.
func Outputs(group goka.Group, inputIDs ...string) func(topics.Event) bool {
	ids := Derive(group, inputIDs...)
	return func(ev topics.Event) bool { return slices.Contains(ids, ev.ID) }
}

// Derive returns the ids of the events group emits for the input ids.
func Derive(group goka.Group, inputIDs ...string) []string {
	out := make([]string, len(inputIDs))
	for i, id := range inputIDs {
		out[i] = processors.OutputID(string(group), id)
	}
	return out
}

// IDs returns the events' ids.
func IDs(evs ...topics.Event) []string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}
