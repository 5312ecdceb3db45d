package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/topics"
)

func TestIngestGenerateOutIsReproducible(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string, seed int) []byte {
		path := filepath.Join(dir, name)
		code, out, errOut := runBin(t, nil, "ingest", "generate", "--items", "300", "--suppliers", "4", "--warehouses", "2", "--seed", strconv.Itoa(seed), "--out", path)
		if code != 0 || !strings.Contains(out, "wrote 900 records (300 items, 600 stock levels)") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := gen("a.jsonl", 9), gen("b.jsonl", 9)
	if !bytes.Equal(a, b) || bytes.Count(a, []byte("\n")) != 900 {
		t.Fatalf("same seed: %d and %d bytes, equal %v", len(a), len(b), bytes.Equal(a, b))
	}
	if bytes.Equal(a, gen("c.jsonl", 10)) {
		t.Fatal("another seed gave the same catalog")
	}
	code, out, _ := runBin(t, nil, "ingest", "generate", "--items", "300", "--suppliers", "4", "--warehouses", "2", "--seed", "9", "--out", "-")
	if code != 0 || out != string(a) {
		t.Fatalf("--out - differs from the file (exit %d, %d bytes)", code, len(out))
	}
	for _, args := range [][]string{{"--items", "0"}, {"--currency", "XXX"}, {"stray"}, {"--seed", "-1"}} {
		if code, _, errOut := runBin(t, nil, append([]string{"ingest", "generate", "--out", "-"}, args...)...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
}

func TestIngestHelpAndUsage(t *testing.T) {
	for _, args := range [][]string{{"ingest", "--help"}, {"ingest", "file", "--help"}, {"ingest", "generate", "--help"}} {
		code, out, errOut := runBin(t, nil, args...)
		if code != 0 || !strings.Contains(out+errOut, "Usage: shopstream") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if _, _, errOut := runBin(t, nil, "ingest", "file", "--help"); !strings.Contains(errOut, "Examples:") || !strings.Contains(errOut, "-kind") {
		t.Errorf("file help lacks examples or flags:\n%s", errOut)
	}
	for _, args := range [][]string{{"ingest", "file"}, {"ingest", "file", "a.jsonl", "b.jsonl"}, {"ingest", "file", "a.jsonl", "--kind", "bogus"}, {"ingest", "file", "a", "--format", "xml"}} {
		if code, _, errOut := runBin(t, nil, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ingest file and ingest generate against a running all-in-one: records
// land on its topics, bad lines on the dead-letter topic, and a broker that
// is not there is a clear failure.
func TestIngestAgainstAllInOne(t *testing.T) {
	dir := t.TempDir()
	port := strconv.Itoa(freePort(t))
	startAllInOne(t, filepath.Join(dir, "data"), io.Discard, "--kafka.embedded.port", port)

	feed := filepath.Join(dir, "feed.jsonl")
	if code, out, errOut := runBin(t, nil, "ingest", "generate", "--items", "200", "--warehouses", "1", "--seed", "3", "--out", feed); code != 0 {
		t.Fatalf("generate: exit %d %s%s", code, out, errOut)
	}
	f, _ := os.OpenFile(feed, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintln(f, `{"supplier_id":"sup-001","item_id":"bad","title":"t","category":"c","price_cents":"abc","currency":"USD"}`)
	f.Close()

	code, out, errOut := runBin(t, nil, "ingest", "file", feed, "--kafka.embedded.port", port)
	if code != 0 || !strings.Contains(out, "produced 400 (200 items, 200 stock levels), dead-lettered 1") || !strings.Contains(out, "feed.jsonl:401: invalid item: price_cents must be an integer") {
		t.Fatalf("ingest file: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runBin(t, nil, "ingest", "generate", "--items", "50", "--warehouses", "0", "--kafka.embedded.port", port); code != 0 || !strings.Contains(out, "produced 50 (50 items") {
		t.Fatalf("ingest generate: exit %d\n%s%s", code, out, errOut)
	}
	counts := countRecords(t, "127.0.0.1:"+port, topics.SupplierItems, topics.SupplierStock, topics.DeadLetterTopic(topics.SupplierItems))
	if counts[topics.SupplierItems] != 250 || counts[topics.SupplierStock] != 200 || counts[topics.DeadLetterTopic(topics.SupplierItems)] != 1 {
		t.Fatalf("records on the all-in-one's topics: %v", counts)
	}

	code, _, errOut = runBin(t, nil, "ingest", "file", feed, "--kafka.embedded.port", strconv.Itoa(freePort(t)), "--kafka.dial-timeout", "1s")
	if code != 1 || !strings.Contains(errOut, "did not answer") || !strings.Contains(errOut, "all-in-one") {
		t.Fatalf("no broker: exit %d %s", code, errOut)
	}
}

// countRecords counts the records of each topic, reading to the end
// offsets it has now.
func countRecords(t *testing.T, broker string, names ...string) map[string]int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(names...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	ends.Each(func(o kadm.ListedOffset) { want += int(o.Offset) })
	counts := map[string]int{}
	for n := 0; n < want && ctx.Err() == nil; {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			ev, err := topics.Decode(r.Value)
			if err != nil {
				t.Errorf("%s: %v", r.Topic, err)
			}
			if d, ok := ev.Data.(topics.DeadLetter); ok {
				t.Logf("dead letter %s: %s", d.Source, d.Reason)
			}
			counts[r.Topic]++
			n++
		})
	}
	return counts
}
