package reconcile

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/topics"
)

// The reader reads every committed event once, from the log start to the
// end at each call, over the real protocol: not the records that do not
// decode, not an aborted transaction's, and it notices a log whose
// oldest records were deleted.
func TestReaderReadsToTheEndAtEachCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	brokers := testkafka.Brokers(t)
	a, b := testkafka.Unique("reconcile-a"), testkafka.Unique("reconcile-b")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(a))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 3, 1, nil, a, b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.DeleteTopics(context.Background(), a, b) })

	produce := func(cl *kgo.Client, topic string, n int) []string {
		t.Helper()
		var ids []string
		for i := range n {
			ev := event(t, topics.TypeOrderCreated, testkafka.Unique("o"))
			rec, err := topics.Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte{byte(i)}, Value: rec}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.ID)
		}
		return ids
	}
	want := append(produce(cl, a, 5), produce(cl, b, 3)...)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: a, Value: []byte("not an event")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// One transaction committed, one aborted: the markers end the logs.
	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(testkafka.Unique("reconcile-tx")))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	for _, end := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		ids := produce(tx, a, 2)
		if end == kgo.TryCommit {
			want = append(want, ids...)
		}
		if err := tx.EndTransaction(ctx, end); err != nil {
			t.Fatal(err)
		}
	}

	r, err := NewReader([]kgo.Opt{kgo.SeedBrokers(brokers...)}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := func() []string {
		t.Helper()
		var got []string
		err := r.Read(ctx, func(topic string, ev topics.Event) {
			if topic != a && topic != b {
				t.Errorf("read topic %s", topic)
			}
			got = append(got, ev.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := read(); !sameIDs(got, want) {
		t.Fatalf("first read %d events %v, want %d %v", len(got), got, len(want), want)
	}
	if len(r.Trimmed()) != 0 {
		t.Fatalf("trimmed %v", r.Trimmed())
	}
	// A second read goes on from where the first stopped.
	if got := read(); len(got) != 0 {
		t.Fatalf("a read with nothing new read %v", got)
	}
	more := produce(cl, b, 4)
	if got := read(); !sameIDs(got, more) {
		t.Fatalf("second read %v, want %v", got, more)
	}

	// Retention deleted the oldest record of one of b's partitions: a new
	// reader says so.
	ends, err := adm.ListEndOffsets(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	var upTo kadm.Offsets
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 && upTo == nil {
			upTo = kadm.Offsets{}
			upTo.AddOffset(b, o.Partition, 1, -1)
		}
	})
	del, err := adm.DeleteRecords(ctx, upTo)
	if err == nil {
		err = del.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	r2, err := NewReader([]kgo.Opt{kgo.SeedBrokers(brokers...)}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := r2.Read(ctx, func(string, topics.Event) {}); err != nil {
		t.Fatal(err)
	}
	if got := r2.Trimmed(); !slices.Equal(got, []string{b}) {
		t.Fatalf("trimmed %v, want [%s]", got, b)
	}
}

func sameIDs(got, want []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)))
}
