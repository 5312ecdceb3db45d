// Package due is how a role answers consumed events after a delay (the
// payment gateway's latency, a carrier's shipping time) without
// serializing its consumer: each answer is due at its input's event time
// plus the delay, the handler waits only until then, and the answers of
// different keys wait side by side. The handler returns once every answer
// of the batch is published, so the consumer still commits only after
// publishing (at-least-once), and a redelivered input, answered again
// under the same derived id, is due at the same time as before.
//
// The payment and shipping roles share it.
package due

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
)

// Until is how long to wait at now for something due at t: never negative,
// and never more than limit (the delay itself), so an input stamped in the
// future by a skewed clock waits no longer than the delay would from now.
func Until(t time.Time, limit time.Duration, now time.Time) time.Duration {
	return max(0, min(t.Sub(now), limit))
}

// Wait waits Until(t, limit, now), or returns ctx's error if ctx ends
// first.
func Wait(ctx context.Context, t time.Time, limit time.Duration) error {
	d := Until(t, limit, time.Now())
	if d == 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// EachKey runs fn on every delivery of batch: the deliveries of one record
// key one after the other in batch order, so one key's answers keep their
// order, and different keys concurrently, so one key's wait does not hold
// up another's. A key stops at its first error; EachKey returns once every
// key is done, with every error joined.
func EachKey(ctx context.Context, batch []eventlog.Delivery, fn func(context.Context, eventlog.Delivery) error) error {
	var keys []string
	byKey := map[string][]eventlog.Delivery{}
	for _, d := range batch {
		k := string(d.Record.Key)
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], d)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, k := range keys {
		wg.Go(func() {
			for _, d := range byKey[k] {
				if err := fn(ctx, d); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ConsumerOpts returns kopts with a rebalance timeout that covers a batch
// waiting up to maxWait: the consumer holds a rebalance until its batch is
// handled, and a member slower than the timeout is dropped from the group
// (its batch is then redelivered, which is harmless but wasteful).
func ConsumerOpts(kopts []kgo.Opt, maxWait time.Duration) []kgo.Opt {
	return append(slices.Clip(kopts), kgo.RebalanceTimeout(max(time.Minute, maxWait+30*time.Second)))
}
