package analytics

import (
	"container/heap"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

// The speed targets of docs/analytics.md, measured against the real
// ClickHouse (SHOPSTREAM_TEST_CLICKHOUSE) and the embedded SQLite:
//
//	SHOPSTREAM_TEST_CLICKHOUSE=127.0.0.1:19000 go test ./sinks/analytics -run '^$' -bench SinkVsRaw -benchtime 1x
//	SHOPSTREAM_TEST_CLICKHOUSE=127.0.0.1:19000 go test ./sinks/analytics -run '^$' -bench CohortQuery -benchtime 1x -timeout 60m

// benchPopulation generates users spread evenly over a year from 2025-01-06,
// each with a 30-day trial and, on average, 5 events: the trial, a cancel
// within 60 days for 35% (half during the trial), a convert during it for
// 40%, and 3.25 orders within 30 days. One million users are the 1M trials
// and 5M events of the issue.
type benchPopulation struct{ users int }

var benchStart = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// events appends user i's events, the trial first.
func (p benchPopulation) events(i int, out []Event) []Event {
	r := rand.New(rand.NewPCG(uint64(i), 3))
	user := "user-" + strconv.Itoa(i)
	start := benchStart.Add(time.Duration(int64(365*24*time.Hour) / int64(p.users) * int64(i)))
	end := start.AddDate(0, 0, 30)
	id := func(k int) string { return fmt.Sprintf("%08x-%04x-7000-8000-%012x", i, k, r.Uint64()>>16) }
	spend := []int64{0, 0, 4999, 10000, 10001, 25000}[r.IntN(6)]
	out = append(out, trialEv(id(0), user, start, 30, spend))
	if r.IntN(100) < 35 {
		c := start.Add(time.Duration(r.Int64N(int64(60 * 24 * time.Hour))))
		out = append(out, cancelEv(id(1), user, c))
	}
	if r.IntN(100) < 40 {
		out = append(out, convertEv(id(2), user, start.Add(time.Duration(r.Int64N(int64(end.Sub(start)))))))
	}
	orders := r.IntN(7)
	if r.IntN(4) == 0 {
		orders++
	}
	for k := range orders {
		typ := []string{topics.TypeOrderCreated, topics.TypeOrderPlaced, topics.TypeOrderDelivered}[k%3]
		out = append(out, orderEv(id(3+k), typ, user, start.Add(time.Duration(r.Int64N(int64(30*24*time.Hour)))), 100+r.Int64N(30000)))
	}
	return out
}

// batches hands the events of users [from, to) to fn in batches of size
// (the last may be smaller), in the order of their times, as the topics
// hold them: each user's later events wait in a heap until the users
// generated after them start later still.
func (p benchPopulation) batches(from, to, size int, fn func([]Event) error) error {
	var later eventHeap
	var batch, user []Event
	emit := func(e Event) error {
		batch = append(batch, e)
		if len(batch) < size {
			return nil
		}
		err := fn(batch)
		batch = batch[:0]
		return err
	}
	for i := from; i < to; i++ {
		user = p.events(i, user[:0])
		for len(later) > 0 && later[0].OccurredAt.Before(user[0].OccurredAt) {
			if err := emit(heap.Pop(&later).(Event)); err != nil {
				return err
			}
		}
		if err := emit(user[0]); err != nil {
			return err
		}
		for _, e := range user[1:] {
			heap.Push(&later, e)
		}
	}
	for len(later) > 0 {
		if err := emit(heap.Pop(&later).(Event)); err != nil {
			return err
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// eventHeap orders events by time (container/heap).
type eventHeap []Event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].OccurredAt.Before(h[j].OccurredAt) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(Event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// counting passes writes on and tells when n events went through, timing
// from the start of the first write to the end of the last.
type counting struct {
	Writer
	n           int
	mu          sync.Mutex
	seen        int
	first, last time.Time
	inside      time.Duration
	batches     int
	done        chan struct{}
}

func (c *counting) WriteEvents(ctx context.Context, evs []Event) error {
	c.mu.Lock()
	t0 := time.Now()
	if c.first.IsZero() {
		c.first = t0
	}
	c.mu.Unlock()
	if err := c.Writer.WriteEvents(ctx, evs); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inside += time.Since(t0)
	c.batches++
	c.seen += len(evs)
	c.last = time.Now()
	if c.seen >= c.n && c.done != nil {
		close(c.done)
		c.done = nil
	}
	return nil
}

// BenchmarkSinkVsRaw measures events/s into ClickHouse three ways, on the
// same 200,000 events (40,000 users, in time order) into fresh databases,
// in batches of the sink's default size (DefaultBatchEvents):
//   - raw: clickhouse-go's native batch, one Append per event, the
//     baseline (the events table, with its materialized view);
//   - store: WriteEvents (events, lookups, trials);
//   - sink: the Sink with its defaults over the embedded broker, from its
//     first write to its last (records polled, decoded, checked, written,
//     offsets committed), with the share of that time in WriteEvents;
//   - consume only: the same sink writing nowhere, the ceiling that
//     eventlog.Consumer sets.
//
// The machine is shared, so each iteration runs five rounds of the four,
// in a rotating order, and reports the medians.
func BenchmarkSinkVsRaw(b *testing.B) {
	fresh := realClickHouse(b)
	pop := benchPopulation{users: 40_000}
	var events []Event
	_ = pop.batches(0, pop.users, 1<<30, func(evs []Event) error { events = slices.Clone(evs); return nil })

	k := processortest.StartKafka(b)
	kopts, p := k.Producer(b, "analytics-bench")
	recs := make([]*kgo.Record, len(events))
	for i, e := range events {
		recs[i] = processortest.Record(b, topicOf(e), toTopic(b, e))
	}
	k.Produce(b, recs...)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	const size = DefaultBatchEvents
	// Each way writes into a database of its own, dropped once it is done:
	// ClickHouse's background merges of one way's parts would otherwise
	// take CPU from the ways after it.
	scratch := func() (*sqlStore, func()) {
		db := fresh(b)
		s := openMigrated(b, db)
		return s, func() {
			if _, err := s.DB().Exec("DROP DATABASE " + db.cfg.Database); err != nil {
				b.Fatal(err)
			}
		}
	}
	raw := func() time.Duration {
		s, drop := scratch()
		defer drop()
		start := time.Now()
		for chunk := range slices.Chunk(events, size) {
			batch, err := s.native.PrepareBatch(ctx(b), s.d.insertEvent)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range chunk {
				if err := batch.Append(e.ID, e.Type, e.UserID, e.OrderID, e.OccurredAt, e.AmountCents, e.Currency); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	store := func() time.Duration {
		s, drop := scratch()
		defer drop()
		start := time.Now()
		for chunk := range slices.Chunk(events, size) {
			if err := s.WriteEvents(ctx(b), chunk); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	// runSink runs a sink into w until it wrote every event.
	runSink := func(w Writer) *counting {
		c := &counting{Writer: w, n: len(events), done: make(chan struct{})}
		done := c.done
		sk, err := NewSink(c, kopts, testkafka.Unique("analytics-bench"), p, SinkLogger(quiet))
		if err != nil {
			b.Fatal(err)
		}
		runCtx, stop := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- sk.Run(runCtx) }()
		select {
		case <-done:
		case <-time.After(10 * time.Minute):
			b.Fatal("the sink did not write every event in 10 minutes")
		}
		stop()
		if err := <-ran; err != nil {
			b.Fatal(err)
		}
		return c
	}
	sink := func() time.Duration {
		s, drop := scratch()
		defer drop()
		c := runSink(s)
		if counts, err := s.EventCounts(ctx(b)); err != nil || sum(counts) != int64(len(events)) {
			b.Fatalf("the sink stored %v, %v; want %d events", counts, err, len(events))
		}
		b.Logf("sink: %d batches, %.0f%% of the time in WriteEvents", c.batches, 100*c.inside.Seconds()/c.last.Sub(c.first).Seconds())
		return c.last.Sub(c.first)
	}
	// consume is the sink writing nowhere: what eventlog.Consumer alone
	// allows.
	consume := func() time.Duration {
		c := runSink(discard{})
		return c.last.Sub(c.first)
	}

	ways := []func() time.Duration{raw, store, sink, consume}
	var rates [4][]float64 // events/s of raw, store, sink, consume
	var ratios [2][]float64
	for range b.N {
		for round := range 5 {
			var d [4]time.Duration
			for i := range ways {
				w := (round + i) % len(ways)
				d[w] = ways[w]()
			}
			for w := range d {
				rates[w] = append(rates[w], float64(len(events))/d[w].Seconds())
			}
			ratios[0] = append(ratios[0], d[0].Seconds()/d[1].Seconds())
			ratios[1] = append(ratios[1], d[0].Seconds()/d[2].Seconds())
			b.Logf("round %d: raw %.0f, store %.0f, sink %.0f, consume only %.0f events/s", round,
				rates[0][len(rates[0])-1], rates[1][len(rates[1])-1], rates[2][len(rates[2])-1], rates[3][len(rates[3])-1])
		}
	}
	b.ReportMetric(median(rates[0]), "raw-events/s")
	b.ReportMetric(median(rates[1]), "store-events/s")
	b.ReportMetric(median(rates[2]), "sink-events/s")
	b.ReportMetric(median(rates[3]), "consume-only-events/s")
	b.ReportMetric(median(ratios[0]), "store/raw")
	b.ReportMetric(median(ratios[1]), "sink/raw")
}

// discard is a Writer that keeps nothing.
type discard struct{}

func (discard) WriteEvents(context.Context, []Event) error { return nil }

// activeParts counts the parts of ClickHouse's trials table.
func activeParts(b *testing.B, s *sqlStore) int {
	var n int
	if err := s.DB().QueryRow("SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'trials' AND active").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// merging reports whether ClickHouse is merging parts of s's database.
func merging(b *testing.B, s *sqlStore) bool {
	var n int
	if err := s.DB().QueryRow("SELECT count() FROM system.merges WHERE database = currentDatabase()").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n > 0
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// BenchmarkCohortQuery loads a population through WriteEvents (100,000
// events a call, in time order: the fastest honest path, the one a
// backfill from the topics takes) and times PrimeCohorts over every week (all the
// trials) and over the dashboard's default 12 weeks, as of the end of the
// year; on ClickHouse right after the load and again once its background
// merges are done. ClickHouse holds 1M trials and 5M events; SQLite
// SHOPSTREAM_BENCH_SQLITE_USERS users (default 1M).
func BenchmarkCohortQuery(b *testing.B) {
	sqliteUsers := 1_000_000
	if v := os.Getenv("SHOPSTREAM_BENCH_SQLITE_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SHOPSTREAM_BENCH_SQLITE_USERS=%q is not a number of users", v)
		}
		sqliteUsers = n
	}
	for _, a := range []struct {
		name    string
		server  func(testing.TB) freshDB
		users   int
		queries int
	}{
		{"real-clickhouse", realClickHouse, 1_000_000, 200},
		{"embedded-sqlite", embeddedSQLite, sqliteUsers, 40},
	} {
		b.Run(a.name, func(b *testing.B) {
			s := openMigrated(b, a.server(b)(b))
			pop := benchPopulation{users: a.users}
			start, events := time.Now(), 0
			err := pop.batches(0, pop.users, 100_000, func(evs []Event) error {
				events += len(evs)
				return s.WriteEvents(context.Background(), evs)
			})
			if err != nil {
				b.Fatal(err)
			}
			load := time.Since(start)
			b.Logf("%s: loaded %d trials, %d events in %s (%.0f events/s)", a.name, a.users, events, load.Round(time.Second), float64(events)/load.Seconds())

			start = time.Now()
			counts, err := s.EventCounts(context.Background())
			if err != nil || sum(counts) != int64(events) {
				b.Fatalf("stored %v, %v; want %d events", counts, err, events)
			}
			b.Logf("EventCounts: %s", time.Since(start).Round(time.Millisecond))

			last := benchStart.AddDate(0, 0, 364)
			now := last.AddDate(0, 2, 0)
			measure := func(when string) {
				for _, q := range []struct {
					name     string
					from, to time.Time
				}{{"all-weeks", benchStart, last}, {"12-weeks", last.AddDate(0, 0, -7*11), last}} {
					var lat []time.Duration
					var weeks []CohortWeek
					for range a.queries {
						t0 := time.Now()
						weeks, err = s.PrimeCohorts(context.Background(), q.from, q.to, now)
						lat = append(lat, time.Since(t0))
						if err != nil {
							b.Fatal(err)
						}
					}
					var trials int64
					for _, w := range weeks {
						trials += w.Over100.Trials + w.UpTo100.Trials
					}
					slices.Sort(lat)
					p50, p99 := lat[len(lat)/2], lat[(len(lat)*99+99)/100-1]
					b.Logf("%s %s, %s: %d weeks, %d trials; p50 %s, p99 %s over %d queries", a.name, q.name, when, len(weeks), trials,
						p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), len(lat))
					b.ReportMetric(float64(p50.Microseconds())/1000, q.name+"-"+when+"-p50-ms")
					b.ReportMetric(float64(p99.Microseconds())/1000, q.name+"-"+when+"-p99-ms")
				}
			}
			if s.native == nil {
				measure("loaded")
				return
			}
			// ClickHouse merges the parts of the load in the background:
			// measured at once, and again once it is done.
			b.Logf("trials in %d parts", activeParts(b, s))
			measure("loaded")
			start = time.Now()
			for merging(b, s) && time.Since(start) < 5*time.Minute {
				time.Sleep(time.Second)
			}
			b.Logf("merges done after %s more: trials in %d parts", time.Since(start).Round(time.Second), activeParts(b, s))
			measure("merged")
		})
	}
}
