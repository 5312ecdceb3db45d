package processors

import (
	"context"
	"fmt"
	"hash"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
)

// producerLinger is how long a partition's records wait for more before
// they are sent: the 5 ms goka's sarama producer flushed at, so a change
// still crosses the two processor hops to search in tens of milliseconds.
const producerLinger = 5 * time.Millisecond

// producerBuffer bounds the bytes a processor's producer holds unsent.
const producerBuffer = 16 << 20

// closeTimeout bounds the flush of a closing producer, as goka's own does.
const closeTimeout = time.Minute

// producerBuilder gives goka a franz-go producer instead of sarama's. Each
// processor record emits at least twice (its table's changelog and its
// output), and sarama walks every message through four goroutines and
// their channels; franz-go batches in the caller's goroutine, which took
// a quarter off the CPU a record costs. Records go to the partition goka's
// hasher picks, as sarama's hash partitioner would, so a table's changelog
// stays co-partitioned with its input. table is the group's table topic,
// "" for a group without one.
func (r *Runtime) producerBuilder(table string) goka.ProducerBuilder {
	return func(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
		opts := append(eventlog.ClientOpts(brokers, clientID, r.dialTimeout, r.log),
			kgo.ProducerLinger(producerLinger),
			// Emits wait once this much is unacknowledged: franz-go's
			// default, 50,000 records, held a hundred megabytes per
			// processor while the broker fell behind a catalog load.
			kgo.MaxBufferedBytes(producerBuffer),
			kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
				// One partitioner per topic is used by one record at a
				// time, so it keeps its hasher.
				h := hasher()
				return func(rec *kgo.Record, n int) int {
					h.Reset()
					_, _ = h.Write(rec.Key)
					// sarama's hashPartitioner: the hash as int32, modulo,
					// negated if negative.
					p := int32(h.Sum32()) % int32(n)
					if p < 0 {
						p = -p
					}
					return int(p)
				}
			})),
		)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("processors: producer for %v: %w", brokers, err)
		}
		return &producer{cl: cl, table: table}, nil
	}
}

// producer implements goka.Producer on a franz-go client. Acknowledgement
// by all in-sync replicas and idempotence are franz-go's defaults.
type producer struct {
	cl    *kgo.Client
	table string
}

// Emit sends value under key to topic; a nil value is a tombstone.
func (p *producer) Emit(topic, key string, value []byte) *goka.Promise {
	return p.EmitWithHeaders(topic, key, value, nil)
}

// EmitWithHeaders is Emit with record headers. The promise of a record of
// the table's changelog gets its partition and offset, which goka keeps as
// the table's offset; goka reads no other record's.
func (p *producer) EmitWithHeaders(topic, key string, value []byte, headers goka.Headers) *goka.Promise {
	promise, finish := goka.NewPromiseWithFinisher()
	rec := &kgo.Record{Topic: topic, Key: []byte(key), Value: value}
	for k, v := range headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	p.cl.Produce(context.Background(), rec, func(rec *kgo.Record, err error) {
		if err != nil {
			finish(nil, fmt.Errorf("processors: produce to %s: %w", rec.Topic, err))
			return
		}
		if rec.Topic != p.table {
			finish(nil, nil)
			return
		}
		finish(&sarama.ProducerMessage{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp}, nil)
	})
	return promise
}

// Close sends what is buffered, waiting at most closeTimeout, and closes
// the client; records still unsent fail their promises.
func (p *producer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := p.cl.Flush(ctx)
	p.cl.Close()
	if err != nil {
		return fmt.Errorf("processors: flush producer: %w", err)
	}
	return nil
}
