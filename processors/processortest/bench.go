package processortest

import (
	"bytes"
	"context"
	"encoding/json"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/topics"
)

// BenchRecords is how many records a throughput benchmark writes.
const BenchRecords = 100_000

// BenchVsRaw reports a processor's rate against a raw franz-go consumer
// reading and decoding the same records, in the same run, on the embedded
// broker or the Kafka SHOPSTREAM_TEST_KAFKA names. Each iteration writes
// BenchRecords events, made by event from a key prefix unique to the
// iteration, to input; reads them with the raw consumer (JSON-decoding the
// envelope and its data into T), timed; then runs the processor from its
// start until it has written as many records to output, timed. Each event
// must make one output record. Beside the rates it reports the process's
// CPU time per record in each phase (the clients and, when embedded, the
// broker): steadier than the rates on a machine shared with other work.
func BenchVsRaw[T any](b *testing.B, define Graph, input, output string, event func(prefix string, i int) topics.Event) {
	k := StartKafka(b)
	var raw, proc phase
	for b.Loop() {
		r, p := benchOnce[T](b, k, define, input, output, BenchRecords, event)
		raw.add(r)
		proc.add(p)
	}
	b.ReportMetric(raw.rate/float64(b.N), "raw-records/s")
	b.ReportMetric(proc.rate/float64(b.N), "processor-records/s")
	b.ReportMetric(proc.rate/raw.rate, "ratio")
	b.ReportMetric(raw.cpu/float64(b.N), "raw-cpu-us/record")
	b.ReportMetric(proc.cpu/float64(b.N), "processor-cpu-us/record")
}

// phase is a timed phase: records per second, CPU microseconds per record.
type phase struct{ rate, cpu float64 }

func (p *phase) add(q phase) { p.rate, p.cpu = p.rate+q.rate, p.cpu+q.cpu }

func benchOnce[T any](b *testing.B, k *Kafka, define Graph, input, output string, n int, event func(prefix string, i int) topics.Event) (raw, proc phase) {
	group := goka.Group(testkafka.Unique("bench"))
	k.StartGroupAtEnd(b, group, input)
	start := k.ends(b, input).KOffsets()
	prefix := testkafka.Unique("b")
	cl := k.Client(b, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(n))
	for i := range n {
		ev := event(prefix, i)
		cl.Produce(context.Background(), Record(b, input, ev), func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}

	raw = rate(n, func() {
		raw := k.Client(b, kgo.ConsumePartitions(start))
		defer raw.Close()
		for got := 0; got < n; {
			raw.PollFetches(context.Background()).EachRecord(func(r *kgo.Record) {
				var env topics.Envelope
				var data T
				// On a shared Kafka other tests' records are read too.
				if json.Unmarshal(r.Value, &env) == nil && json.Unmarshal(env.Data, &data) == nil && bytes.HasPrefix(r.Key, []byte(prefix)) {
					got++
				}
			})
		}
	})

	out := k.Client(b, kgo.ConsumePartitions(k.ends(b, output).KOffsets()))
	var written atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reached := make(chan struct{})
	go func() {
		for ctx.Err() == nil {
			out.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				if bytes.HasPrefix(r.Key, []byte(prefix)) && written.Add(1) == int64(n) {
					close(reached)
				}
			})
		}
	}()
	var stop func()
	proc = rate(n, func() {
		rt := k.Runtime()
		_, stop = Run(b, rt, define(group, rt))
		select {
		case <-reached:
		case <-time.After(5 * time.Minute):
			b.Fatalf("the processor wrote %d of %d records in 5 minutes", written.Load(), n)
		}
	})
	stop()
	return raw, proc
}

func rate(n int, fn func()) phase {
	start, cpu := time.Now(), cpuTime()
	fn()
	return phase{rate: float64(n) / time.Since(start).Seconds(), cpu: float64((cpuTime() - cpu).Microseconds()) / float64(n)}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
