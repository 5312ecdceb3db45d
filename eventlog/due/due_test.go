package due_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/eventlog/due"
	"github.com/shopstream/shopstream/topics"
)

func TestUntil(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		at    time.Time
		limit time.Duration
		want  time.Duration
	}{
		{"due in the future", now.Add(150 * time.Millisecond), 200 * time.Millisecond, 150 * time.Millisecond},
		{"due now", now, time.Second, 0},
		{"overdue (a backlog or a redelivery)", now.Add(-time.Hour), time.Second, 0},
		{"stamped ahead by a skewed clock: at most the delay", now.Add(time.Hour), 200 * time.Millisecond, 200 * time.Millisecond},
		{"no delay", now.Add(time.Hour), 0, 0},
	}
	for _, c := range cases {
		if got := due.Until(c.at, c.limit, now); got != c.want {
			t.Errorf("%s: Until = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestWaitReturnsAtOnceWhenOverdueAndStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Due an hour ago with an hour's delay: waiting at all would outlast ctx.
	if err := due.Wait(ctx, time.Now().Add(-time.Hour), time.Hour); err != nil {
		t.Fatalf("overdue wait: %v", err)
	}
	stopped, stop := context.WithCancel(context.Background())
	stop()
	if err := due.Wait(stopped, time.Now().Add(time.Hour), time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait on an ended context: %v, want context.Canceled", err)
	}
}

func delivery(key, id string) eventlog.Delivery {
	return eventlog.Delivery{Event: topics.Event{ID: id, Key: key}, Record: &kgo.Record{Key: []byte(key)}}
}

// One key's deliveries run in order; different keys run at the same time:
// key a's first delivery blocks until key b has started, which deadlocks
// (and hits the deadline) if keys ran one after the other.
func TestEachKeyOrdersWithinAKeyAndRunsKeysConcurrently(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	batch := []eventlog.Delivery{delivery("a", "a1"), delivery("b", "b1"), delivery("a", "a2"), delivery("b", "b2"), delivery("a", "a3")}
	bStarted := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	seen := map[string][]string{}
	err := due.EachKey(ctx, batch, func(ctx context.Context, d eventlog.Delivery) error {
		if d.Event.Key == "b" {
			once.Do(func() { close(bStarted) })
		}
		if d.Event.ID == "a1" {
			select {
			case <-bStarted:
			case <-ctx.Done():
				return errors.New("key b never started while key a waited: keys ran one after the other")
			}
		}
		mu.Lock()
		seen[d.Event.Key] = append(seen[d.Event.Key], d.Event.ID)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen["a"], []string{"a1", "a2", "a3"}) || !slices.Equal(seen["b"], []string{"b1", "b2"}) {
		t.Fatalf("per-key order lost: %v", seen)
	}
}

// A key stops at its first error; the other keys finish; the errors come
// back joined.
func TestEachKeyStopsAKeyAtItsFirstError(t *testing.T) {
	batch := []eventlog.Delivery{delivery("a", "a1"), delivery("b", "b1"), delivery("a", "a2"), delivery("b", "b2")}
	var mu sync.Mutex
	var ran []string
	boom := errors.New("publish failed")
	err := due.EachKey(context.Background(), batch, func(_ context.Context, d eventlog.Delivery) error {
		mu.Lock()
		ran = append(ran, d.Event.ID)
		mu.Unlock()
		if d.Event.ID == "a1" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	slices.Sort(ran)
	if !slices.Equal(ran, []string{"a1", "b1", "b2"}) {
		t.Fatalf("ran %v, want a1 b1 b2 (a2 must not run after a1 failed)", ran)
	}
}

func TestConsumerOptsCoverTheLongestWait(t *testing.T) {
	base := make([]kgo.Opt, 1, 8) // spare capacity the result must not write into
	base[0] = kgo.SeedBrokers("127.0.0.1:1")
	for _, c := range []struct {
		wait, want time.Duration
	}{{0, time.Minute}, {200 * time.Millisecond, time.Minute}, {5 * time.Minute, 5*time.Minute + 30*time.Second}} {
		opts := due.ConsumerOpts(base, c.wait)
		cl, err := kgo.NewClient(append(opts, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"))...)
		if err != nil {
			t.Fatal(err)
		}
		got := cl.OptValue(kgo.RebalanceTimeout)
		cl.Close()
		if got != c.want {
			t.Errorf("wait %v: rebalance timeout %v, want %v", c.wait, got, c.want)
		}
	}
	if spare := base[:2][1]; spare != nil {
		t.Fatalf("ConsumerOpts wrote into the caller's options")
	}
}
