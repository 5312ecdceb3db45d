package eventlog

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/topics"
)

// Producer writes envelopes to catalog topics through franz-go's idempotent
// producer (acks=all, retries without duplicates or reordering per
// partition). Each record's key is the event key and its value the JSON
// envelope.
type Producer struct {
	cl      *kgo.Client
	own     bool
	role    string
	out     *prometheus.CounterVec
	mu      sync.Mutex
	counter map[string]prometheus.Counter
}

// ProducerOption configures a Producer.
type ProducerOption func(*Producer)

// Role names the role producing, as the metrics' role label.
func Role(name string) ProducerOption { return func(p *Producer) { p.role = name } }

// CountOut counts acknowledged records in vec (labels role and topic).
func CountOut(vec *prometheus.CounterVec) ProducerOption { return func(p *Producer) { p.out = vec } }

// NewProducer creates a producer with its own client from opts (see
// ClientOpts). Close flushes and closes it.
func NewProducer(opts []kgo.Opt, popts ...ProducerOption) (*Producer, error) {
	opts = append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		// Kafka's default murmur2 key partitioning, which the Java client and
		// shopstream's goka processors (processors.KafkaHasher) share.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("eventlog: new producer client: %w", err)
	}
	p := WrapProducer(cl, popts...)
	p.own = true
	return p, nil
}

// WrapProducer produces through an existing client, which the caller closes.
func WrapProducer(cl *kgo.Client, popts ...ProducerOption) *Producer {
	p := &Producer{cl: cl, role: "shopstream", counter: map[string]prometheus.Counter{}}
	for _, o := range popts {
		o(p)
	}
	return p
}

// Record builds the Kafka record for an event.
func Record(topic string, ev topics.Event) (*kgo.Record, error) {
	value, err := topics.Encode(ev)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: topic, Key: []byte(ev.Key), Value: value}, nil
}

// Produce encodes ev and produces it asynchronously; done (which may be nil)
// runs once the record is acknowledged or has failed. Encoding errors are
// reported through done too.
func (p *Producer) Produce(ctx context.Context, topic string, ev topics.Event, done func(error)) {
	r, err := Record(topic, ev)
	if err != nil {
		if done != nil {
			done(err)
		}
		return
	}
	p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
		if err == nil {
			p.count(r.Topic)
		} else {
			err = fmt.Errorf("eventlog: produce %s %s to %s: %w", ev.Type, ev.ID, topic, err)
		}
		if done != nil {
			done(err)
		}
	})
}

// Publish produces events and waits until all are acknowledged; it returns
// every failure joined.
func (p *Producer) Publish(ctx context.Context, topic string, evs ...topics.Event) error {
	recs := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		r, err := Record(topic, ev)
		if err != nil {
			return fmt.Errorf("eventlog: encode %s %s for %s: %w", ev.Type, ev.ID, topic, err)
		}
		recs[i] = r
	}
	return p.PublishRecords(ctx, recs...)
}

// PublishRecords produces ready records (an outbox's stored envelopes) in
// the order given and waits until all are acknowledged; records of one key
// keep their order. It returns every failure joined.
func (p *Producer) PublishRecords(ctx context.Context, recs ...*kgo.Record) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	wg.Add(len(recs))
	for _, r := range recs {
		p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err == nil {
				p.count(r.Topic)
			} else {
				mu.Lock()
				errs = append(errs, fmt.Errorf("eventlog: produce to %s (key %q): %w", r.Topic, r.Key, err))
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Flush waits until every buffered record is acknowledged or failed.
func (p *Producer) Flush(ctx context.Context) error { return p.cl.Flush(ctx) }

// Close flushes within ctx, then closes the client if the producer owns it.
func (p *Producer) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	if p.own {
		p.cl.Close()
	}
	if err != nil {
		return fmt.Errorf("eventlog: flush on close: %w", err)
	}
	return nil
}

func (p *Producer) count(topic string) {
	if p.out == nil {
		return
	}
	p.mu.Lock()
	c, ok := p.counter[topic]
	if !ok {
		c = p.out.WithLabelValues(p.role, topic)
		p.counter[topic] = c
	}
	p.mu.Unlock()
	c.Inc()
}
