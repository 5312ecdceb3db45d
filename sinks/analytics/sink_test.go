package analytics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

// TestContractSink runs the sink over the real Kafka protocol (the
// embedded broker, or SHOPSTREAM_TEST_KAFKA) into each adapter; its name
// puts its real-clickhouse subtest in make's real pass.
func TestContractSink(t *testing.T) {
	for _, a := range []struct {
		name   string
		server func(t testing.TB) freshDB
	}{
		{"embedded-sqlite", embeddedSQLite},
		{"real-clickhouse", realClickHouse},
	} {
		t.Run(a.name, func(t *testing.T) { sinkContract(t, a.server(t)) })
	}
}

// crashing is the real store, made to fail a write after it succeeded, as
// a sink that crashes before it commits: the consumer delivers the batch
// again.
type crashing struct {
	Store
	crashes atomic.Int32
}

func (c *crashing) WriteEvents(ctx context.Context, events []Event) error {
	if err := c.Store.WriteEvents(ctx, events); err != nil {
		return err
	}
	if c.crashes.Add(-1) >= 0 {
		return errors.New("crashed after the write, before the commit")
	}
	return nil
}

func sinkContract(t *testing.T, fresh freshDB) {
	k := processortest.StartKafka(t)
	kopts, p := k.Producer(t, "analytics-sink-test")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Users and orders of this run only: a real broker keeps earlier runs'.
	run := testkafka.Unique("run")
	members := population(rand.New(rand.NewPCG(11, 7)), 300)
	var events []Event
	for i := range members {
		members[i].user = run + "-" + members[i].user
		for _, e := range members[i].events {
			e.ID, e.UserID = run+"-"+e.ID, members[i].user
			if e.OrderID != "" {
				e.OrderID = run + "-" + e.OrderID
			}
			events = append(events, e)
		}
	}
	// Both groups start where the topics end now.
	groups := []string{testkafka.Unique("analytics-sink"), testkafka.Unique("analytics-replay")}
	at := k.StartGroupAtEnd(t, goka.Group(groups[0]), Inputs...)
	k.Commit(t, goka.Group(groups[1]), at)

	var recs []*kgo.Record
	for i, e := range events {
		recs = append(recs, processortest.Record(t, topicOf(e), toTopic(t, e)))
		if i%10 == 0 {
			// Delivered twice (a record of its own: franz-go owns one
			// while it produces it).
			recs = append(recs, processortest.Record(t, topicOf(e), toTopic(t, e)))
		}
	}
	// What the sink must refuse, each with its reason.
	bad := toTopic(t, trialEv(run+"-bad-end", run+"-u-bad", w1, 30, 100))
	badData := bad.Data.(topics.MembershipTrialStarted)
	badData.TrialEndsAt = w1
	bad.Data = badData
	misplaced := toTopic(t, orderEv(run+"-misplaced", topics.TypeOrderPlaced, run+"-u-bad", w1, 100))
	recs = append(recs,
		&kgo.Record{Topic: topics.MembershipEvents, Key: []byte(run), Value: []byte("not an envelope " + run)},
		processortest.Record(t, topics.MembershipEvents, bad),
		processortest.Record(t, topics.MembershipEvents, misplaced),
	)
	k.Produce(t, recs...)

	wantCounts := countTypes(events)
	last := w1.AddDate(0, 0, 7*11)
	now := w1.AddDate(0, 0, 45)
	want := expect(members, w1.AddDate(0, 0, -7), last, now)

	// startSink runs a sink in group into s until the test ends.
	startSink := func(t *testing.T, s Writer, group string) {
		sink, err := NewSink(s, kopts, group, p, SinkLogger(quiet), BatchEvents(97), BatchDelay(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sink.Run(runCtx) }()
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("sink run: %v", err)
			}
		})
	}
	// stored waits until s holds every event once.
	stored := func(t *testing.T, s Store) {
		t.Helper()
		var got map[string]int64
		var err error
		waitFor(t, "every event stored", func() bool {
			got, err = s.EventCounts(context.Background())
			return err == nil && reflect.DeepEqual(got, wantCounts)
		}, func() string { return fmt.Sprintf("counts %v, %v; want %v", got, err, wantCounts) })
	}

	// settled waits until s's cohorts are the ones computed apart: on
	// ClickHouse a batch's events and its trials rows are two inserts run
	// at once, so the events can all be there a moment before the last
	// trials are.
	settled := func(t *testing.T, s Store, what string) {
		t.Helper()
		var got []CohortWeek
		waitFor(t, what, func() bool {
			got = cohorts(t, s, w1.AddDate(0, 0, -7), last, now)
			return reflect.DeepEqual(got, want)
		}, func() string { return fmt.Sprintf("got %s\nwant %s", showCohorts(got), showCohorts(want)) })
	}

	t.Run("writes-the-topics-through-crashes", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		// Three batches are written, then delivered again.
		w := &crashing{Store: s}
		w.crashes.Store(3)
		startSink(t, w, groups[0])
		stored(t, s)
		settled(t, s, "the cohorts")
		if n := w.crashes.Load(); n >= 0 {
			t.Errorf("%d crashes left: the sink wrote fewer batches than the test meant to redeliver", n+1)
		}
		var reasons []string
		for _, d := range testkafka.DeadLetters(t, kopts, topics.DeadLetterTopic(topics.MembershipEvents), 3, func(_ []byte, d topics.DeadLetter) bool {
			return strings.Contains(string(d.Original), run)
		}) {
			reasons = append(reasons, d.Reason)
		}
		for _, want := range []string{"malformed event", "trial_ends_at 2026-01-05T00:00:00Z is not after the trial start",
			`event type "order.placed" does not belong on membership.events`} {
			if !slicesContainsSubstring(reasons, want) {
				t.Errorf("no dead letter saying %q in %q", want, reasons)
			}
		}
	})

	t.Run("a-replay-into-a-fresh-store-gives-the-same-cohorts", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		startSink(t, s, groups[1])
		stored(t, s)
		settled(t, s, "the replayed cohorts")
	})
}

// toTopic is e as the event its producer writes.
func toTopic(t testing.TB, e Event) topics.Event {
	t.Helper()
	var data any
	key := e.UserID
	switch e.Type {
	case topics.TypeMembershipTrialStarted:
		data = topics.MembershipTrialStarted{UserID: e.UserID, TrialEndsAt: e.TrialEndsAt, SpendCents: e.AmountCents,
			Currency: e.Currency, TrialPeriodDays: int(e.TrialEndsAt.Sub(e.OccurredAt).Hours() / 24)}
	case topics.TypeMembershipConverted, topics.TypeMembershipCanceled:
		data = topics.MembershipChanged{UserID: e.UserID}
	case topics.TypeOrderCreated:
		data, key = topics.OrderCreated{OrderID: e.OrderID, UserID: e.UserID, TotalCents: e.AmountCents, Currency: e.Currency}, e.OrderID
	default:
		data, key = topics.OrderTransition{OrderID: e.OrderID, UserID: e.UserID, AmountCents: e.AmountCents, Currency: e.Currency}, e.OrderID
	}
	return processortest.Event(t, e.Type, key, data, topics.At(e.OccurredAt), topics.WithID(e.ID))
}

func topicOf(e Event) string {
	if strings.HasPrefix(e.Type, "order.") {
		return topics.OrderEvents
	}
	return topics.MembershipEvents
}

func slicesContainsSubstring(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds, for up to 60 s; state says where
// things stand when it gives up.
func waitFor(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after 60s: %s", what, state())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
