// Package processortest runs shopstream's processors in tests and
// benchmarks: on goka's in-memory tester, or over the Kafka protocol
// against the embedded broker, or the real Kafka that SHOPSTREAM_TEST_KAFKA
// names (internal/testkafka), with the topic catalog created.
package processortest

import (
	"context"
	"io"
	"log"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/broker"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Partitions of every catalog topic in these tests.
const Partitions = 3

// Graph builds a processor under a group name.
type Graph func(group goka.Group, rt *processors.Runtime) *goka.GroupGraph

// Tester runs the processor on goka's tester until the test ends.
func Tester(t *testing.T, group goka.Group, define Graph) *tester.Tester {
	t.Helper()
	tt := tester.New(t)
	rt := processors.NewRuntime(nil, t.TempDir(), time.Second)
	p, err := goka.NewProcessor(nil, define(group, rt), goka.WithTester(tt),
		goka.WithNilHandling(goka.NilDecode), goka.WithLogger(log.New(io.Discard, "", 0)))
	if err != nil {
		t.Fatal(err)
	}
	start(t, group, p)
	return tt
}

// Drain returns the events a tester queue received since the last call.
func Drain(q *tester.QueueTracker) []topics.Event {
	var evs []topics.Event
	for {
		_, v, ok := q.Next()
		if !ok {
			return evs
		}
		evs = append(evs, v.(topics.Event))
	}
}

// Event builds an event or fails the test.
func Event(t testing.TB, typ, key string, data any, opts ...topics.Option) topics.Event {
	t.Helper()
	ev, err := topics.New(typ, key, data, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// Kafka is a cluster holding the topic catalog, for one test.
type Kafka struct {
	Brokers []string
	dir     string
	// embedded is nil on a real Kafka.
	embedded *broker.Embedded
}

// StartKafka returns the real Kafka if SHOPSTREAM_TEST_KAFKA names one,
// else an embedded broker persisted in a temporary directory, with the
// topic catalog created on it.
func StartKafka(t testing.TB) *Kafka {
	t.Helper()
	k := &Kafka{dir: t.TempDir()}
	if b, ok := testkafka.Real(); ok {
		k.Brokers = b
	} else {
		k.start(t)
		t.Cleanup(func() { k.embedded.Close() })
	}
	cl := k.client(t)
	defer cl.Close()
	if _, err := topics.Ensure(context.Background(), cl, topics.Catalog(topics.Settings{Partitions: Partitions, Replication: 1}), true); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *Kafka) start(t testing.TB) {
	b, err := broker.Start(filepath.Join(k.dir, "kafka"), broker.SyncWrites())
	if err != nil {
		t.Fatal(err)
	}
	k.embedded, k.Brokers = b, []string{b.Addr()}
}

// Embedded reports whether the broker is the embedded one, which Restart
// can stop and start.
func (k *Kafka) Embedded() bool { return k.embedded != nil }

// Restart stops the embedded broker and starts it again on the same data
// directory (at a new address). Stop every processor and client first.
func (k *Kafka) Restart(t testing.TB) {
	t.Helper()
	k.embedded.Close()
	k.start(t)
}

// Runtime returns a goka runtime on the cluster whose tables live in the
// test's state directory, which survives Restart.
func (k *Kafka) Runtime() *processors.Runtime {
	return processors.NewRuntime(k.Brokers, filepath.Join(k.dir, "state"), 5*time.Second)
}

// Client returns a franz-go client closed when the test ends.
func (k *Kafka) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl := k.client(t, opts...)
	t.Cleanup(cl.Close)
	return cl
}

// client returns a client for the caller to close right away: a client
// left open across Restart retries the old address until it is closed.
func (k *Kafka) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// Producer returns client options for the cluster and an eventlog
// producer built from them, closed when the test ends: what a role under
// test takes.
func (k *Kafka) Producer(t testing.TB, clientID string) ([]kgo.Opt, *eventlog.Producer) {
	t.Helper()
	kopts := eventlog.ClientOpts(k.Brokers, clientID, 5*time.Second, nil)
	p, err := eventlog.NewProducer(kopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return kopts, p
}

// Produce writes records and waits for their acknowledgement. Keys decide
// partitions as every Kafka client's default partitioner does.
func (k *Kafka) Produce(t testing.TB, recs ...*kgo.Record) {
	t.Helper()
	cl := k.client(t, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.ProducerLinger(0))
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// Record is the Kafka record of an event on topic.
func Record(t testing.TB, topic string, ev topics.Event) *kgo.Record {
	t.Helper()
	v, err := topics.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(ev.Key), Value: v}
}

// StartGroupAtEnd commits a new group's offsets at the current end of its
// input topics, so on a long-lived Kafka it reads only what the test
// writes. It returns those offsets.
func (k *Kafka) StartGroupAtEnd(t testing.TB, group goka.Group, inputs ...string) kadm.Offsets {
	t.Helper()
	at := k.ends(t, inputs...).Offsets()
	k.Commit(t, group, at)
	return at
}

// Commit sets a group's committed offsets; no member may be running.
func (k *Kafka) Commit(t testing.TB, group goka.Group, at kadm.Offsets) {
	t.Helper()
	cl := k.client(t)
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CommitOffsets(context.Background(), string(group), at)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit offsets of %s: %v", group, err)
	}
}

func (k *Kafka) ends(t testing.TB, topicNames ...string) kadm.ListedOffsets {
	t.Helper()
	cl := k.client(t)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topicNames...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %v: %v", topicNames, err)
	}
	return ends
}

// Run runs a processor until the returned stop is called (or the test
// ends); stop waits for a clean shutdown, offsets committed.
func Run(t testing.TB, rt *processors.Runtime, g *goka.GroupGraph) (p *goka.Processor, stop func()) {
	t.Helper()
	p, err := rt.NewProcessor(g)
	if err != nil {
		t.Fatal(err)
	}
	return p, start(t, g.Group(), p)
}

func start(t testing.TB, group goka.Group, p processors.Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- processors.Run(ctx, p) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("processor %s stopped with %v", group, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// WaitValue returns the processor's table value of key once done is true
// of it, failing the test after 30 s with the last value read.
func WaitValue[T any](t testing.TB, p *goka.Processor, key string, done func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last T
	for {
		// goka's Get panics on a partition still being set up.
		if p.Recovered() {
			if v, err := p.Get(key); err == nil && v != nil {
				if last = v.(T); done(last) {
					return last
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the table value never got there; last %+v", key, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
