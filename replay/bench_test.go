package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/realserver"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/replay"
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/sinks/search"
	"github.com/shopstream/shopstream/topics"
)

// benchTarget is one target of BenchmarkReplayVsRaw: the events it
// replays and how to make it over an empty store.
type benchTarget struct {
	name   string
	topics []string
	// records is how many records the replay reads: 20,000, and three of
	// the analytics sink's large batches for analytics, so that reading
	// overlaps writing there as in any real backfill.
	records int
	// batch is what one Apply takes: the live sink's batch.
	batch int
	// events returns the i-th record's topic and event.
	events func(b *testing.B, i int) (string, topics.Event)
	open   func(b *testing.B, s stores, p *eventlog.Producer) (replay.Target, []replay.Option)
}

var benchTargets = []benchTarget{
	{
		name: "search", topics: []string{topics.Listings}, records: 20_000, batch: 5000,
		events: func(b *testing.B, i int) (string, topics.Event) {
			id := fmt.Sprintf("item-%06d", i)
			l := topics.Listing{ItemID: id, Version: 1, CatalogVersion: 1, InventoryVersion: 1, SupplierID: "sup-1",
				Title: fmt.Sprintf("Thing %d", i), Category: []string{"Books", "Toys", "Sports"}[i%3], Brand: "Acme",
				PriceCents: int64(1000 + i%5000), Currency: "USD", OnHand: int64(i % 7), CreatedAt: t0, UpdatedAt: t0}
			return topics.Listings, pt.Event(b, topics.TypeListingChanged, id, l)
		},
		open: func(b *testing.B, s stores, p *eventlog.Producer) (replay.Target, []replay.Option) {
			return replay.Handler(search.Handler(s.search, p, search.SinkLogger(benchLog))), []replay.Option{replay.DeadLetters(p, "search-sink")}
		},
	},
	{
		name: "analytics", topics: []string{topics.MembershipEvents}, records: 3 * analytics.DefaultBatchEvents, batch: analytics.DefaultBatchEvents,
		events: func(b *testing.B, i int) (string, topics.Event) {
			user := fmt.Sprintf("m-%06d", i/2)
			start := t0.Add(time.Duration(i/2) * time.Minute)
			if i%2 == 0 {
				return topics.MembershipEvents, pt.Event(b, topics.TypeMembershipTrialStarted, user, topics.MembershipTrialStarted{UserID: user,
					TrialEndsAt: start.Add(30 * 24 * time.Hour), SpendCents: int64(i % 20000), Currency: "USD", TrialPeriodDays: 30}, topics.At(start))
			}
			return topics.MembershipEvents, pt.Event(b, topics.TypeMembershipConverted, user, topics.MembershipChanged{UserID: user}, topics.At(start.Add(time.Hour)))
		},
		open: func(b *testing.B, s stores, p *eventlog.Producer) (replay.Target, []replay.Option) {
			return replay.Handler(analytics.Handler(s.analytics, p, analytics.SinkLogger(benchLog))),
				[]replay.Option{replay.DeadLetters(p, "analytics-sink")}
		},
	},
	{
		// Orders created, placed, shipped and delivered, and paid.
		name: "history", topics: replay.HistoryTopics, records: 20_000, batch: 5000,
		events: func(b *testing.B, i int) (string, topics.Event) {
			id, user := fmt.Sprintf("o-%06d", i/5), fmt.Sprintf("u-%04d", i/5%1000)
			at := topics.At(t0.Add(time.Duration(i) * time.Second))
			step := func(typ string) (string, topics.Event) {
				return topics.OrderEvents, pt.Event(b, typ, id, topics.OrderTransition{OrderID: id, UserID: user}, at)
			}
			switch i % 5 {
			case 0:
				return topics.OrderEvents, pt.Event(b, topics.TypeOrderCreated, id, topics.OrderCreated{OrderID: id, UserID: user,
					Lines: []topics.OrderLine{{ItemID: "i-1", Quantity: 1, PriceCents: 2500}}, TotalCents: 2500, Currency: "USD", ExpiresAt: t0}, at)
			case 1:
				return topics.PaymentEvents, pt.Event(b, topics.TypePaymentSucceeded, id, topics.Payment{OrderID: id, PaymentID: "pay-" + id, AmountCents: 2500, Currency: "USD"}, at)
			case 2:
				return step(topics.TypeOrderPlaced)
			case 3:
				return step(topics.TypeOrderShipped)
			default:
				return step(topics.TypeOrderDelivered)
			}
		},
		open: func(b *testing.B, s stores, p *eventlog.Producer) (replay.Target, []replay.Option) {
			return replay.NewHistory(s.history), nil
		},
	},
}

var benchLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// benchStores are empty stores: on the real servers the environment names
// (SHOPSTREAM_TEST_ELASTICSEARCH, _CLICKHOUSE, _CASSANDRA), each in a
// scratch index, database or keyspace, else embedded.
func benchStores(b *testing.B) stores {
	cs := embeddedStores.fresh(b)
	if url := os.Getenv(realserver.Elasticsearch); url != "" {
		cs.search = scratchSearch(b, url)
	}
	if addr := os.Getenv(realserver.ClickHouse); addr != "" {
		cs.analytics = scratchAnalytics(b, addr)
	}
	if addr := os.Getenv(realserver.Cassandra); addr != "" {
		cs.history = scratchHistory(b, addr)
	}
	return openStoresOn(b, b.TempDir(), cs)
}

// BenchmarkReplayVsRaw replays the target's records into each target's
// empty store (embedded, or the real server the environment names), against a raw franz-go read of the same range
// (direct assignment, the envelope JSON-decoded) in the same run, on the
// embedded broker or the Kafka SHOPSTREAM_TEST_KAFKA names. It reports
// both rates and replay/raw ("ratio"); and, to tell the reader's cost from
// the store's, the target alone taking the same events already decoded,
// in batches of the replay's size, into another empty store, and
// replay/store ("store-ratio").
func BenchmarkReplayVsRaw(b *testing.B) {
	for _, bt := range benchTargets {
		b.Run(bt.name, func(b *testing.B) {
			ctx := context.Background()
			k := pt.StartKafka(b)
			kopts, p := k.Producer(b, "replay-bench")
			adm := kadm.NewClient(k.Client(b))
			time.Sleep(5 * time.Millisecond)
			from := time.Now() // on a shared Kafka, skip what came before
			time.Sleep(5 * time.Millisecond)
			byTopic := map[string][]topics.Event{}
			for i := range bt.records {
				topic, ev := bt.events(b, i)
				byTopic[topic] = append(byTopic[topic], ev)
			}
			for topic, evs := range byTopic {
				if err := p.Publish(ctx, topic, evs...); err != nil {
					b.Fatal(err)
				}
			}
			plan := must(replay.Resolve(ctx, adm, bt.topics, replay.Time(from), replay.End())).of(b)
			if plan.Offsets() < int64(bt.records) {
				b.Fatalf("the plan spans %d offsets, want %d", plan.Offsets(), bt.records)
			}
			var deliveries []eventlog.Delivery
			for _, topic := range bt.topics {
				for _, ev := range byTopic[topic] {
					deliveries = append(deliveries, eventlog.Delivery{Event: ev, Record: &kgo.Record{Topic: topic, Key: []byte(ev.Key)}})
				}
			}
			var raw, rep, alone float64
			for b.Loop() {
				n, took := rawRead(b, kopts, plan)
				raw += float64(n) / took.Seconds()
				target, opts := bt.open(b, benchStores(b), p)
				sum, err := replay.Run(ctx, kopts, plan, target, append(opts, replay.MaxBatch(bt.batch), replay.Logger(benchLog))...)
				if err != nil {
					b.Fatal(err)
				}
				if sum.Applied != int64(n) {
					b.Fatalf("replay applied %d records, the raw read read %d", sum.Applied, n)
				}
				rep += float64(sum.Records) / sum.Took.Seconds()
				alone += storeAlone(b, bt, p, deliveries)
			}
			b.ReportMetric(raw/float64(b.N), "raw-records/s")
			b.ReportMetric(rep/float64(b.N), "replay-records/s")
			b.ReportMetric(alone/float64(b.N), "store-records/s")
			b.ReportMetric(rep/raw, "ratio")
			b.ReportMetric(rep/alone, "store-ratio")
		})
	}
}

// storeAlone applies the deliveries to the target over an empty store, in
// the batches a replay hands it, and returns the rate.
func storeAlone(b *testing.B, bt benchTarget, p *eventlog.Producer, deliveries []eventlog.Delivery) float64 {
	ctx := context.Background()
	target, _ := bt.open(b, benchStores(b), p)
	start := time.Now()
	for i := 0; i < len(deliveries); i += bt.batch {
		if err := target.Apply(ctx, deliveries[i:min(i+bt.batch, len(deliveries))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := target.Finish(ctx); err != nil {
		b.Fatal(err)
	}
	return float64(len(deliveries)) / time.Since(start).Seconds()
}

// rawRead reads the plan's spans with a plain franz-go client, decoding
// each envelope with encoding/json, and returns the records read and the
// time it took.
func rawRead(b *testing.B, kopts []kgo.Opt, plan replay.Plan) (int, time.Duration) {
	start := time.Now()
	assign := map[string]map[int32]kgo.Offset{}
	ends := map[string]map[int32]int64{}
	left := 0
	for _, s := range plan.Spans {
		if s.Offsets() == 0 {
			continue
		}
		if assign[s.Topic] == nil {
			assign[s.Topic], ends[s.Topic] = map[int32]kgo.Offset{}, map[int32]int64{}
		}
		assign[s.Topic][s.Partition], ends[s.Topic][s.Partition] = kgo.NewOffset().At(s.Start), s.End
		left++
	}
	cl, err := kgo.NewClient(append(kopts, kgo.ConsumePartitions(assign))...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for left > 0 {
		cl.PollFetches(context.Background()).EachRecord(func(r *kgo.Record) {
			end := ends[r.Topic][r.Partition]
			if r.Offset >= end {
				return
			}
			var env topics.Envelope
			if json.Unmarshal(r.Value, &env) == nil {
				n++
			}
			if r.Offset == end-1 {
				left--
			}
		})
	}
	return n, time.Since(start)
}
