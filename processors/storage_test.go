package processors

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/broker"
)

func openTable(t *testing.T, dir string) *batched {
	t.Helper()
	st, err := storageBuilder(dir)("t-table", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	return st.(*batched)
}

func wantValue(t *testing.T, st storage.Storage, key, want string) {
	t.Helper()
	v, err := st.Get(key)
	if err != nil || string(v) != want {
		t.Errorf("get %s: %q, %v; want %q", key, v, err, want)
	}
	if has, _ := st.Has(key); has != (want != "") {
		t.Errorf("has %s: %v, want %v", key, has, want != "")
	}
}

// Writes are readable at once, iterators see them, and the offset key
// stays out of iterations.
func TestTableReadsItsPendingWrites(t *testing.T) {
	st := openTable(t, t.TempDir())
	defer st.Close()
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"c", "3"}} {
		if err := st.Set(kv[0], []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete("b"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetOffset(7); err != nil {
		t.Fatal(err)
	}
	wantValue(t, st, "a", "1")
	wantValue(t, st, "b", "")
	it, err := st.Iterator()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for it.Next() {
		v, _ := it.Value()
		got = append(got, string(it.Key())+"="+string(v))
	}
	it.Release()
	if fmt.Sprint(got) != "[a=1 c=3]" {
		t.Errorf("iterated %v, want [a=1 c=3]", got)
	}
}

// The changes and the offset are written together: a clean close keeps
// both; a crash loses the pending changes and the offset that came with
// them, so the table recovers from its changelog at the older offset, as
// goka recovers any table whose offset lags.
func TestTableWritesChangesWithTheirOffset(t *testing.T) {
	dir := t.TempDir()
	st := openTable(t, dir)
	st.Set("k", []byte("v1"))
	st.SetOffset(1)
	if err := st.MarkRecovered(); err != nil { // writes what is pending
		t.Fatal(err)
	}
	st.Set("k", []byte("v2"))
	st.SetOffset(2)
	// A crash: nothing more reaches the database.
	close(st.stop)
	<-st.done
	if err := st.db.Close(); err != nil {
		t.Fatal(err)
	}

	st = openTable(t, dir)
	if off, err := st.GetOffset(-1); err != nil || off != 1 {
		t.Errorf("offset after a crash %d, %v; want 1", off, err)
	}
	wantValue(t, st, "k", "v1")
	st.Set("k", []byte("v3"))
	st.SetOffset(3)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openTable(t, dir)
	defer st.Close()
	if off, err := st.GetOffset(-1); err != nil || off != 3 {
		t.Errorf("offset after a close %d, %v; want 3", off, err)
	}
	wantValue(t, st, "k", "v3")
}

// Enough changes are written without waiting for the timer.
func TestTableWritesFullBatches(t *testing.T) {
	st := openTable(t, t.TempDir())
	defer st.Close()
	for i := range flushRecords {
		st.Set(fmt.Sprint(i), []byte("v"))
	}
	if v, err := st.db.Get([]byte("0"), nil); err != nil || string(v) != "v" {
		t.Errorf("after %d changes the database holds %q, %v", flushRecords, v, err)
	}
}

// The producer writes each key to the partition goka's hasher gives it, so
// a table's changelog sits with its input, and reports the offset.
func TestProducerPartitionsByTheHasher(t *testing.T) {
	b, err := broker.Start(filepath.Join(t.TempDir(), "kafka"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 5, 1, nil, "p.out"); err != nil {
		t.Fatal(err)
	}
	rt := NewRuntime([]string{b.Addr()}, t.TempDir(), 5*time.Second)
	p, err := rt.producerBuilder("p.out")([]string{b.Addr()}, "test", KafkaHasher)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		key string
		msg *sarama.ProducerMessage
		err error
	}
	done := make(chan result, 20)
	for i := range 20 {
		key := fmt.Sprintf("item-%d", i)
		p.Emit("p.out", key, []byte("v")).ThenWithMessage(func(m *sarama.ProducerMessage, err error) { done <- result{key, m, err} })
	}
	offsets := map[int32]int64{}
	for range 20 {
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		h := KafkaHasher()
		h.Write([]byte(r.key))
		if want := int32(h.Sum32() % 5); r.msg.Partition != want {
			t.Errorf("%s went to partition %d, want %d", r.key, r.msg.Partition, want)
		}
		if r.msg.Offset != offsets[r.msg.Partition] {
			t.Errorf("%s at offset %d of partition %d, want %d", r.key, r.msg.Offset, r.msg.Partition, offsets[r.msg.Partition])
		}
		offsets[r.msg.Partition]++
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// A table opened empty answers lookups of keys it never had from its
// filter, and every key it had from its writes or LevelDB.
func TestAnEmptyTableKnowsTheKeysItWasGiven(t *testing.T) {
	dir := t.TempDir()
	st := openTable(t, dir)
	if st.written == nil {
		t.Fatal("an empty table keeps no filter of its keys")
	}
	wantValue(t, st, "never", "")
	for i := range flushRecords + 10 { // some written to LevelDB
		st.Set(fmt.Sprint("k", i), []byte("v"))
	}
	wantValue(t, st, "k0", "v")
	wantValue(t, st, fmt.Sprint("k", flushRecords+9), "v")
	wantValue(t, st, "never", "")
	st.Close()

	st = openTable(t, dir)
	defer st.Close()
	if st.written != nil {
		t.Error("a table opened with keys in it keeps a filter that lacks them")
	}
	wantValue(t, st, "k0", "v")
}

func TestKeyFilter(t *testing.T) {
	f := newKeyFilter()
	added := 0
	for ; f.add(fmt.Sprint("key-", added)); added++ {
		f.add(fmt.Sprint("key-", added)) // again: no new key
	}
	// A new key the filter already matches is not counted.
	if added < keyFilterKeys || added > keyFilterKeys*102/100 {
		t.Errorf("full after %d keys, sized for %d", added, keyFilterKeys)
	}
	falsePositives := 0
	for i := range added {
		if !f.mayHave(fmt.Sprint("key-", i)) {
			t.Fatalf("lost key-%d", i)
		}
		if f.mayHave(fmt.Sprint("other-", i)) {
			falsePositives++
		}
	}
	if rate := float64(falsePositives) / float64(added); rate > 0.02 {
		t.Errorf("false positive rate %.3f", rate)
	}
}
