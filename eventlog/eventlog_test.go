package eventlog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/ops"
	"github.com/shopstream/shopstream/topics"
)

func setup(t testing.TB) ([]string, *eventlog.Producer, *ops.Metrics) {
	t.Helper()
	brokers := testkafka.Brokers(t)
	opts := eventlog.ClientOpts(brokers, "test", 5*time.Second, nil)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := topics.Ensure(context.Background(), cl, topics.Catalog(topics.Settings{Partitions: 3, Replication: 1}), true); err != nil {
		t.Fatal(err)
	}
	m := ops.NewMetrics()
	p, err := eventlog.NewProducer(opts, eventlog.Role("test"), eventlog.CountOut(m.RecordsOut))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return brokers, p, m
}

func stockEvent(t testing.TB, item string, onHand int64) topics.Event {
	t.Helper()
	ev, err := topics.New(topics.TypeSupplierStockLevel, item, topics.SupplierStockLevel{SupplierID: "s", ItemID: item, WarehouseID: "w", OnHand: onHand})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// collector is a Handler that records events by id.
type collector struct {
	mu   sync.Mutex
	seen map[string]topics.Event
}

func (c *collector) handle(_ context.Context, batch []eventlog.Delivery) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range batch {
		c.seen[d.Event.ID] = d.Event
	}
	return nil
}

func (c *collector) has(ids ...string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if _, ok := c.seen[id]; !ok {
			return false
		}
	}
	return true
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Bad records go to the dead-letter topic with the reason and their
// original bytes; the valid records around them are all delivered.
func TestConsumerDeadLettersBadRecordsAndKeepsGoodOnes(t *testing.T) {
	ctx := context.Background()
	brokers, p, m := setup(t)
	item := testkafka.Unique("item")
	before, after := stockEvent(t, item, 1), stockEvent(t, item, 2)
	garbage := []byte("not an envelope " + item)
	unknown := []byte(`{"id":"` + item + `-u","type":"stock.teleported","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"k","data":{}}`)

	if err := p.Publish(ctx, topics.SupplierStock, before); err != nil {
		t.Fatal(err)
	}
	raw, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	defer raw.Close()
	for _, v := range [][]byte{garbage, unknown} {
		if err := raw.ProduceSync(ctx, &kgo.Record{Topic: topics.SupplierStock, Key: []byte(item), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Publish(ctx, topics.SupplierStock, after); err != nil {
		t.Fatal(err)
	}

	col := &collector{seen: map[string]topics.Event{}}
	cons, err := eventlog.NewConsumer(eventlog.ClientOpts(brokers, "test", 5*time.Second, nil), testkafka.Unique("dlq-test"),
		[]string{topics.SupplierStock}, col.handle, p, eventlog.CountIn(m.RecordsIn))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cons.Run(runCtx) }()
	eventually(t, "both valid events", func() bool { return col.has(before.ID, after.ID) })
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	dl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics.DeadLetterTopic(topics.SupplierStock)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer dl.Close()
	reasons := map[string]string{}
	eventually(t, "two dead letters", func() bool {
		pollCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		dl.PollFetches(pollCtx).EachRecord(func(r *kgo.Record) {
			ev, err := topics.Decode(r.Value)
			if err != nil {
				t.Fatalf("dead letter does not decode: %v", err)
			}
			d := ev.Data.(topics.DeadLetter)
			if bytes.Equal(d.Original, garbage) || bytes.Equal(d.Original, unknown) {
				reasons[string(d.Original)] = d.Reason
				if d.Topic != topics.SupplierStock || string(r.Key) != item {
					t.Errorf("dead letter lost its origin: %+v key %q", d, r.Key)
				}
			}
		})
		return len(reasons) == 2
	})
	if r := reasons[string(garbage)]; !bytes.Contains([]byte(r), []byte("malformed event")) {
		t.Errorf("garbage reason: %q", r)
	}
	if r := reasons[string(unknown)]; !bytes.Contains([]byte(r), []byte(`unknown event type "stock.teleported"`)) {
		t.Errorf("unknown type reason: %q", r)
	}
}

// A failing handler is retried on the same batch; nothing is skipped.
func TestConsumerRetriesFailedBatch(t *testing.T) {
	ctx := context.Background()
	brokers, p, _ := setup(t)
	ev := stockEvent(t, testkafka.Unique("retry"), 5)
	if err := p.Publish(ctx, topics.SupplierStock, ev); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failures := 0
	col := &collector{seen: map[string]topics.Event{}}
	h := func(ctx context.Context, batch []eventlog.Delivery) error {
		for _, d := range batch {
			if d.Event.ID == ev.ID {
				mu.Lock()
				defer mu.Unlock()
				if failures < 2 {
					failures++
					return errors.New("store unavailable")
				}
			}
		}
		return col.handle(ctx, batch)
	}
	cons, err := eventlog.NewConsumer(eventlog.ClientOpts(brokers, "test", 5*time.Second, nil), testkafka.Unique("retry"),
		[]string{topics.SupplierStock}, h, p)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go cons.Run(runCtx)
	eventually(t, "the event after two failures", func() bool { return col.has(ev.ID) })
}

func TestProducerCountsAcknowledgedRecords(t *testing.T) {
	_, p, m := setup(t)
	item := testkafka.Unique("count")
	var evs []topics.Event
	for i := 0; i < 25; i++ {
		evs = append(evs, stockEvent(t, item, int64(i)))
	}
	if err := p.Publish(context.Background(), topics.SupplierStock, evs...); err != nil {
		t.Fatal(err)
	}
	got := metricValue(t, m, "shopstream_records_out_total", map[string]string{"role": "test", "topic": topics.SupplierStock})
	if got != 25 {
		t.Errorf("records out = %v, want 25", got)
	}
}

// metricValue reads the counter or gauge name whose labels include want.
func metricValue(t *testing.T, m *ops.Metrics, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, mt := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			if mt.GetGauge() != nil {
				return mt.GetGauge().GetValue()
			}
			return mt.GetCounter().GetValue()
		}
	}
	return 0
}

// With Prefetch a batch's offsets are committed once it is handled and not
// before, whatever was polled after it: a consumer stopped inside a batch
// (the next one polled ahead) leaves both to the group's next consumer,
// and no event is lost.
func TestPrefetchCommitsOnlyHandledBatches(t *testing.T) {
	ctx := context.Background()
	brokers, p, _ := setup(t)
	run := testkafka.Unique("prefetch")
	want := map[string]bool{}
	for i := range 200 {
		ev := stockEvent(t, fmt.Sprintf("%s-%d", run, i%7), int64(i))
		if err := p.Publish(ctx, topics.SupplierStock, ev); err != nil {
			t.Fatal(err)
		}
		want[ev.ID] = true
	}
	ours := func(batch []eventlog.Delivery) []string {
		var ids []string
		for _, d := range batch {
			if want[d.Event.ID] {
				ids = append(ids, d.Event.ID)
			}
		}
		return ids
	}
	group := testkafka.Unique("prefetch-group")
	consume := func(h eventlog.Handler) (stop func()) {
		cons, err := eventlog.NewConsumer(eventlog.ClientOpts(brokers, "test", 5*time.Second, nil), group,
			[]string{topics.SupplierStock}, h, p, eventlog.MaxBatch(40), eventlog.Prefetch())
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- cons.Run(runCtx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("consumer stopped with %v", err)
			}
		}
	}

	var mu sync.Mutex
	first := map[string]bool{}
	blocked := make(chan []string, 1)
	stop := consume(func(ctx context.Context, batch []eventlog.Delivery) error {
		ids := ours(batch)
		mu.Lock()
		n := len(first)
		mu.Unlock()
		if n >= 60 && len(ids) > 0 {
			select {
			case blocked <- ids:
			default:
			}
			<-ctx.Done() // killed while writing this batch
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			first[id] = true
		}
		return nil
	})
	var inFlight []string
	select {
	case inFlight = <-blocked:
	case <-time.After(60 * time.Second):
		t.Fatal("the first consumer never reached its 60th event")
	}
	stop()

	second := &collector{seen: map[string]topics.Event{}}
	stop = consume(second.handle)
	defer stop()
	eventually(t, "every event handled by one consumer or the other", func() bool {
		second.mu.Lock()
		defer second.mu.Unlock()
		for id := range want {
			if _, ok := second.seen[id]; !ok && !first[id] {
				return false
			}
		}
		return true
	})
	second.mu.Lock()
	defer second.mu.Unlock()
	for _, id := range inFlight {
		if _, ok := second.seen[id]; !ok {
			t.Fatalf("event %s of the batch in hand at the stop was committed and never redelivered", id)
		}
	}
}
