package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/topics"
)

// setup returns brokers holding the topic catalog and a producer on them.
func setup(t testing.TB) ([]string, *eventlog.Producer) {
	t.Helper()
	brokers := testkafka.Brokers(t)
	opts := eventlog.ClientOpts(brokers, "ingest-test", 5*time.Second, nil)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := topics.Ensure(context.Background(), cl, topics.Catalog(topics.Settings{Partitions: 3, Replication: 1}), true); err != nil {
		t.Fatal(err)
	}
	p, err := eventlog.NewProducer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return brokers, p
}

// consumed is one record read back, decoded.
type consumed struct {
	Event     topics.Event
	Partition int32
}

// readTopic reads every record topic holds now and decodes each, failing
// the test on a record that does not decode.
func readTopic(t testing.TB, brokers []string, topic string) []consumed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		want += o.Offset - s.Offset
	})
	var out []consumed
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", len(out), want, topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			ev, err := topics.Decode(r.Value)
			if err != nil {
				t.Fatalf("%s offset %d does not decode: %v", topic, r.Offset, err)
			}
			if ev.Key != string(r.Key) {
				t.Errorf("record key %q, envelope key %q", r.Key, ev.Key)
			}
			out = append(out, consumed{ev, r.Partition})
		})
	}
	return out
}

// bySupplier keeps the events of one supplier (a real broker holds other
// tests' records too).
func bySupplier(t testing.TB, evs []consumed, supplier string) []topics.Event {
	t.Helper()
	var out []topics.Event
	for _, c := range evs {
		switch d := c.Event.Data.(type) {
		case topics.SupplierItemUpserted:
			if d.SupplierID == supplier {
				out = append(out, c.Event)
			}
		case topics.SupplierStockLevel:
			if d.SupplierID == supplier {
				out = append(out, c.Event)
			}
		default:
			t.Fatalf("unexpected %s event on a supplier topic", c.Event.Type)
		}
	}
	return out
}
