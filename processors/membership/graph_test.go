package membership_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/membership"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

func command(t testing.TB, typ, user string, at time.Time, data any) topics.Event {
	return pt.Event(t, typ, user, data, topics.At(at))
}

func types(evs []topics.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func TestGraphOnTester(t *testing.T) {
	week := membership.Rules{TrialDays: 7}
	tt := pt.Tester(t, membership.Group, week.Graph)
	events := tt.NewQueueTracker(topics.MembershipEvents)
	dlq := tt.NewQueueTracker(topics.DeadLetterTopic(topics.MembershipCommands))

	trialReq := command(t, topics.TypeMembershipTrialRequested, user, start, topics.MembershipTrialRequested{UserID: user, SpendCents: 12000, Currency: "USD", OrderID: "o-1"})
	second := command(t, topics.TypeMembershipTrialRequested, user, start.Add(time.Hour), topics.MembershipTrialRequested{UserID: user, Currency: "USD"})
	conv := command(t, topics.TypeMembershipConvertRequested, user, start.Add(2*time.Hour), topics.MembershipChanged{UserID: user})
	canc := command(t, topics.TypeMembershipCancelRequested, user, start.AddDate(0, 0, 20), topics.MembershipChanged{UserID: user})
	for _, ev := range []topics.Event{trialReq, trialReq, second, conv, canc} {
		tt.Consume(topics.MembershipCommands, ev.Key, ev)
	}
	tt.Consume(topics.MembershipCommands, user, []byte("not an event"))

	out := pt.Drain(events)
	if got := types(out); !reflect.DeepEqual(got, []string{topics.TypeMembershipTrialStarted, topics.TypeMembershipConverted, topics.TypeMembershipCanceled}) {
		t.Fatalf("emitted %v", got)
	}
	wantStarted := topics.MembershipTrialStarted{UserID: user, TrialEndsAt: start.AddDate(0, 0, 7), SpendCents: 12000, Currency: "USD", OrderID: "o-1", TrialPeriodDays: 7}
	if out[0].Data != wantStarted || out[0].ID != processors.OutputID(string(membership.Group), trialReq.ID) || !out[0].OccurredAt.Equal(start) || out[0].Key != user {
		t.Errorf("trial_started %+v, want data %+v at %s", out[0], wantStarted, start)
	}
	if out[2].Data != (topics.MembershipChanged{UserID: user, Reason: membership.ReasonCanceledAsMember}) || !out[2].OccurredAt.Equal(canc.OccurredAt) {
		t.Errorf("canceled %+v", out[2])
	}

	dead := pt.Drain(dlq)
	if len(dead) != 2 {
		t.Fatalf("dead letters %+v, want the second trial and the bad bytes", dead)
	}
	if d := dead[0].Data.(topics.DeadLetter); d.Source != string(membership.Group) ||
		d.Reason != "membership.trial_requested refused: a trial already started at 2026-11-25T10:00:00Z; the membership is trial" {
		t.Errorf("dead letter %+v", d)
	}
	m := tt.TableValue(membership.Table, user).(membership.Membership)
	if m.StateAt(start.AddDate(0, 0, 20)) != membership.Canceled || m.Version != 3 || !refusedOf(m, second.ID) || len(m.Applied.IDs) != 4 {
		t.Errorf("table value %+v", m)
	}
}

// Over the Kafka protocol: commands produced twice, and again after a
// restart of the processor and the broker, decide once and emit once; a
// refusal is dead-lettered with its reason and recorded; a new instance
// without local state recovers the table from its changelog.
func TestExactlyOnceAcrossRestarts(t *testing.T) {
	k := pt.StartKafka(t)
	group := goka.Group(testkafka.Unique("membership"))
	k.StartGroupAtEnd(t, group, topics.MembershipCommands)
	u := testkafka.Unique("user")
	trialReq := command(t, topics.TypeMembershipTrialRequested, u, start, topics.MembershipTrialRequested{UserID: u, Currency: "USD"})
	second := command(t, topics.TypeMembershipTrialRequested, u, start.Add(time.Hour), topics.MembershipTrialRequested{UserID: u, SpendCents: 500, Currency: "USD"})
	conv := command(t, topics.TypeMembershipConvertRequested, u, start.AddDate(0, 0, 3), topics.MembershipChanged{UserID: u})
	canc := command(t, topics.TypeMembershipCancelRequested, u, start.AddDate(0, 2, 0), topics.MembershipChanged{UserID: u})
	twice := command(t, topics.TypeMembershipCancelRequested, u, start.AddDate(0, 2, 1), topics.MembershipChanged{UserID: u})
	records := func(evs ...topics.Event) []*kgo.Record {
		var recs []*kgo.Record
		for _, ev := range evs {
			recs = append(recs, pt.Record(t, topics.MembershipCommands, ev))
		}
		return recs
	}
	outputs := pt.Outputs(group, trialReq.ID, second.ID, conv.ID, canc.ID, twice.ID)

	events := k.Tail(t, topics.MembershipEvents)
	dlq := k.Tail(t, topics.DeadLetterTopic(topics.MembershipCommands))
	k.Produce(t, records(trialReq, trialReq, second, trialReq)...)
	rt := k.Runtime()
	p, stop := pt.Run(t, rt, membership.Graph(group, rt))
	pt.WaitValue(t, p, u, func(m membership.Membership) bool { return refusedOf(m, second.ID) })
	if got := events.Wait(t, 1, 30*time.Second, outputs); len(got) != 1 || got[0].Type != topics.TypeMembershipTrialStarted {
		t.Errorf("events after duplicates: %+v", got)
	}
	dead := dlq.Wait(t, 1, 30*time.Second, pt.Keys(u))
	if d := dead[0].Data.(topics.DeadLetter); d.Source != string(group) || d.Reason != "membership.trial_requested refused: a trial already started at 2026-11-25T10:00:00Z; the membership is trial" {
		t.Errorf("dead letter %+v", d)
	}
	stop()

	if k.Embedded() {
		events.Stop()
		dlq.Stop()
		k.Restart(t)
		events = k.Tail(t, topics.MembershipEvents)
	}
	k.Produce(t, records(second, conv, trialReq, conv)...)
	rt = k.Runtime()
	p, stop = pt.Run(t, rt, membership.Graph(group, rt))
	m := pt.WaitValue(t, p, u, func(m membership.Membership) bool { return m.Version == 2 })
	if m.StateAt(start.AddDate(0, 0, 3)) != membership.Member || !m.ConvertedAt.Equal(conv.OccurredAt) {
		t.Errorf("after restart: %+v", m)
	}
	stop()

	// A new instance without local state: only the changelog.
	rt = processors.NewRuntime(k.Brokers, t.TempDir(), 5*time.Second)
	k.Produce(t, records(conv, canc, twice)...)
	p, _ = pt.Run(t, rt, membership.Graph(group, rt))
	m = pt.WaitValue(t, p, u, func(m membership.Membership) bool { return refusedOf(m, twice.ID) })
	if m.Version != 3 || m.State != membership.Canceled || !m.Applied.Has(trialReq.ID) || !m.Applied.Has(second.ID) {
		t.Errorf("recovered from the changelog: %+v", m)
	}
	// Outputs of one partition arrive in order: once the cancel's is in,
	// any duplicate of an earlier one would be too.
	got := events.Until(t, 30*time.Second, outputs, func(evs []topics.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Type == topics.TypeMembershipCanceled
	})
	want := []string{topics.TypeMembershipConverted, topics.TypeMembershipCanceled}
	if !k.Embedded() {
		want = append([]string{topics.TypeMembershipTrialStarted}, want...)
	}
	if !reflect.DeepEqual(types(got), want) {
		t.Errorf("events since the restart: %v, want %v once each", types(got), want)
	}
}

func refusedOf(m membership.Membership, id string) bool {
	_, ok := m.Refused.Of(id)
	return ok
}
