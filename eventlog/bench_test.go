package eventlog_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/topics"
)

const benchRecords = 200_000

// rawEnvelope is what a raw franz-go user would marshal by hand.
type rawEnvelope struct {
	ID         string                    `json:"id"`
	Type       string                    `json:"type"`
	Version    int                       `json:"version"`
	OccurredAt time.Time                 `json:"occurred_at"`
	Key        string                    `json:"key"`
	Data       topics.SupplierStockLevel `json:"data"`
}

// benchTopic creates a fresh 3-partition topic, so a long-lived real broker's
// earlier records never enter the measured range.
func benchTopic(b *testing.B, brokers []string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	name := testkafka.Unique("bench")
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, name); err != nil {
		b.Fatal(err)
	}
	return name
}

func benchEvents(b *testing.B, n int) []topics.Event {
	evs := make([]topics.Event, n)
	for i := range evs {
		item := "item-" + string(rune('a'+i%26)) + "-" + time.Duration(i).String()
		ev, err := topics.New(topics.TypeSupplierStockLevel, item, topics.SupplierStockLevel{SupplierID: "s-1", ItemID: item, WarehouseID: "w-1", OnHand: int64(i)})
		if err != nil {
			b.Fatal(err)
		}
		evs[i] = ev
	}
	return evs
}

// BenchmarkProduceVsRaw produces the same events through eventlog.Producer
// and through a raw franz-go client (json.Marshal + Produce) in the same
// process against the same broker, and reports both rates and their ratio.
// Against embedded kfake by default; set SHOPSTREAM_TEST_KAFKA for real Kafka.
func BenchmarkProduceVsRaw(b *testing.B) {
	brokers, _, _ := setup(b)
	ctx := context.Background()
	topic := benchTopic(b, brokers)
	evs := benchEvents(b, benchRecords)
	raw, err := kgo.NewClient(append(eventlog.ClientOpts(brokers, "bench-raw", 5*time.Second, nil), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))...)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	wrapped, err := eventlog.NewProducer(eventlog.ClientOpts(brokers, "bench-wrapped", 5*time.Second, nil))
	if err != nil {
		b.Fatal(err)
	}
	defer wrapped.Close(ctx)
	// Warm both clients up: connections, metadata, producer ids.
	warm := stockEvent(b, "warm", 0)
	if err := wrapped.Publish(ctx, topic, warm); err != nil {
		b.Fatal(err)
	}
	if err := raw.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("{}")}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	var rawRate, wrapRate float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rawRate += rate(func() {
			var wg sync.WaitGroup
			wg.Add(len(evs))
			for _, ev := range evs {
				v, err := json.Marshal(rawEnvelope{ev.ID, ev.Type, ev.Version, ev.OccurredAt, ev.Key, ev.Data.(topics.SupplierStockLevel)})
				if err != nil {
					b.Fatal(err)
				}
				raw.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(ev.Key), Value: v}, func(_ *kgo.Record, err error) {
					if err != nil {
						b.Error(err)
					}
					wg.Done()
				})
			}
			wg.Wait()
		})
		wrapRate += rate(func() {
			var wg sync.WaitGroup
			wg.Add(len(evs))
			for _, ev := range evs {
				wrapped.Produce(ctx, topic, ev, func(err error) {
					if err != nil {
						b.Error(err)
					}
					wg.Done()
				})
			}
			wg.Wait()
		})
	}
	b.StopTimer()
	b.ReportMetric(rawRate/float64(b.N), "raw-records/s")
	b.ReportMetric(wrapRate/float64(b.N), "wrapper-records/s")
	b.ReportMetric(wrapRate/rawRate, "ratio")
}

// BenchmarkConsumeVsRaw reads the same records with eventlog.Consumer
// (decode, hand to a handler, commit per batch) and with a raw franz-go
// group consumer doing the same (json.Unmarshal, commit per poll).
func BenchmarkConsumeVsRaw(b *testing.B) {
	brokers, p, _ := setup(b)
	ctx := context.Background()
	topic := benchTopic(b, brokers)
	// Fill the topic once; every group below reads it from the start.
	if err := p.Publish(ctx, topic, benchEvents(b, benchRecords)...); err != nil {
		b.Fatal(err)
	}
	const end = benchRecords
	var rawRate, wrapRate float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rawRate += rate(func() {
			cl, err := kgo.NewClient(append(eventlog.ClientOpts(brokers, "bench", 5*time.Second, nil),
				kgo.ConsumerGroup(testkafka.Unique("bench-raw")), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			for n := 0; n < end; {
				fs := cl.PollRecords(ctx, 5000)
				fs.EachRecord(func(r *kgo.Record) {
					var e rawEnvelope
					if err := json.Unmarshal(r.Value, &e); err != nil {
						b.Fatal(err)
					}
					n++
				})
				cl.CommitUncommittedOffsets(ctx)
			}
		})
		wrapRate += rate(func() {
			var n int
			cctx, cancel := context.WithCancel(ctx)
			c, err := eventlog.NewConsumer(eventlog.ClientOpts(brokers, "bench", 5*time.Second, nil), testkafka.Unique("bench-wrapped"), []string{topic},
				func(_ context.Context, batch []eventlog.Delivery) error {
					if n += len(batch); n >= end {
						cancel()
					}
					return nil
				}, p)
			if err != nil {
				b.Fatal(err)
			}
			c.Run(cctx)
		})
	}
	b.StopTimer()
	b.ReportMetric(rawRate/float64(b.N), "raw-records/s")
	b.ReportMetric(wrapRate/float64(b.N), "wrapper-records/s")
	b.ReportMetric(wrapRate/rawRate, "ratio")
}

func rate(fn func()) float64 {
	start := time.Now()
	fn()
	return benchRecords / time.Since(start).Seconds()
}
