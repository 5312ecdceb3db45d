package search

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/topics"
)

// runSinkContract runs the search sink over the real Kafka protocol into
// a fresh index of b's engine, then replays the topic into another one.
func runSinkContract(t *testing.T, b backend) {
	ctx := context.Background()
	brokers := testkafka.Brokers(t)
	kopts := eventlog.ClientOpts(brokers, "search-sink-test", 5*time.Second, nil)
	raw, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := topics.Ensure(ctx, raw, topics.Catalog(topics.Settings{Partitions: 3, Replication: 1}), true); err != nil {
		t.Fatal(err)
	}
	p, err := eventlog.NewProducer(kopts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)

	// Item ids of this run only: a real broker keeps earlier runs' records.
	run := testkafka.Unique("sink")
	var want []topics.Listing
	publish := func(ls ...topics.Listing) {
		t.Helper()
		for _, l := range ls {
			ev, err := topics.New(topics.TypeListingChanged, l.ItemID, l)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Publish(ctx, topics.Listings, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	produceRaw := func(key string, value []byte) {
		t.Helper()
		if err := raw.ProduceSync(ctx, &kgo.Record{Topic: topics.Listings, Key: []byte(key), Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range catalog()[:12] {
		l.ItemID = run + "-" + l.ItemID
		l.Title += " " + run
		if i == 0 {
			// Versions 1 and 3 before 2, on the same key: 3 stays.
			v1, v2 := l, l
			v2.Version, v2.Title = 2, "regressed "+run
			l.Version = 3
			publish(v1, l, v2)
		} else {
			publish(l)
		}
		want = append(want, l)
		if i == 5 {
			garbage := []byte("not an envelope " + run)
			produceRaw(l.ItemID, garbage)
			stock, err := topics.New(topics.TypeSupplierStockLevel, l.ItemID, topics.SupplierStockLevel{ItemID: l.ItemID, OnHand: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Publish(ctx, topics.Listings, stock); err != nil {
				t.Fatal(err)
			}
			publish(topics.Listing{ItemID: l.ItemID + "-v0", Version: 0, Title: "never " + run})
		}
	}

	// startSink runs a sink in a new group into s until the test ends.
	startSink := func(t *testing.T, s adapter) {
		sink, err := NewSink(s, kopts, testkafka.Unique("search-sink"), p, SinkLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- sink.Run(runCtx) }()
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("sink run: %v", err)
			}
		})
	}
	// indexed reports whether every listing of want is in s, at its
	// version, and searchable.
	indexed := func(s adapter) func() bool {
		return func() bool {
			res, err := s.Search(ctx, Query{Text: run, InStock: ptr(false), Page: 1, Size: MaxSize})
			if err != nil || res.Total != int64(len(want)) {
				return false
			}
			for _, l := range want {
				got, ok, err := s.Get(ctx, l.ItemID)
				if err != nil || !ok || got.Version != l.Version {
					return false
				}
			}
			return true
		}
	}

	first := freshStore(t, b)
	t.Run("indexes-the-topic", func(t *testing.T) {
		startSink(t, first)
		t.Logf("the sink indexed the topic in %s", waitFor(t, "every listing indexed", indexed(first)).Round(time.Millisecond))
		for _, l := range want {
			if got, _, _ := first.Get(ctx, l.ItemID); !reflect.DeepEqual(got, l) {
				t.Errorf("indexed %s:\n got %+v\nwant %+v", l.ItemID, got, l)
			}
		}
		if _, ok, _ := first.Get(ctx, want[5].ItemID+"-v0"); ok {
			t.Errorf("a listing with version 0 was indexed")
		}
		// The garbage, the stock event and the version-0 listing are in
		// the dead-letter topic with their reasons. The sink sends a
		// rejected listing there after indexing the batch: it still runs.
		var reasons []string
		for _, d := range testkafka.DeadLetters(t, kopts, topics.DeadLetterTopic(topics.Listings), 3, func(_ []byte, d topics.DeadLetter) bool {
			return bytes.Contains(d.Original, []byte(run))
		}) {
			reasons = append(reasons, d.Reason)
		}
		for _, want := range []string{"malformed event", `event type "supplier.stock.level" is not listing.changed`, "has version 0"} {
			found := false
			for _, r := range reasons {
				found = found || strings.Contains(r, want)
			}
			if !found {
				t.Errorf("no dead letter saying %q in %q", want, reasons)
			}
		}
	})

	second := freshStore(t, b)
	t.Run("a-replay-into-an-empty-index-gives-the-same-documents", func(t *testing.T) {
		startSink(t, second)
		waitFor(t, "every listing replayed", indexed(second))
		for _, l := range want {
			a, _, _ := first.Get(ctx, l.ItemID)
			c, _, _ := second.Get(ctx, l.ItemID)
			if !reflect.DeepEqual(a, c) {
				t.Errorf("replayed %s:\n got %+v\nwant %+v", l.ItemID, c, a)
			}
		}
	})

	t.Run("stock-change-freshness", func(t *testing.T) {
		startSink(t, second)
		l := want[1]
		var lat []time.Duration
		for i := range 5 {
			l.Version++
			l.OnHand = int64(i % 2) // out of stock, back, out ...
			publish(l)
			lat = append(lat, waitFor(t, "the stock change searchable", func() bool {
				res, err := second.Search(ctx, Query{Text: l.Title, Page: 1, Size: 1})
				return err == nil && (res.Total == 1) == (l.OnHand > 0)
			}))
		}
		t.Logf("produce -> searchable: %v", lat)
	})
}

// waitFor polls cond until it holds, for up to 30 s, and returns how long
// that took.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("still waiting for %s after 30s", what)
		}
	}
	return time.Since(start)
}
