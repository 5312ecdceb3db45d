package membership_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/membership"
	"github.com/shopstream/shopstream/sinks/analytics/cohort"
	"github.com/shopstream/shopstream/topics"
)

// start is a Wednesday; its cohort is Monday 2026-11-23.
var (
	start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ends  = start.AddDate(0, 0, membership.DefaultTrialDays)
)

const user = "u-1"

// cmd is one command of a rules test: its type, data and event time.
type cmd struct {
	typ  string
	at   time.Time
	data any
}

func trial(at time.Time, spend int64, order string) cmd {
	return cmd{topics.TypeMembershipTrialRequested, at, topics.MembershipTrialRequested{UserID: user, SpendCents: spend, Currency: "USD", OrderID: order}}
}
func convert(at time.Time) cmd {
	return cmd{topics.TypeMembershipConvertRequested, at, topics.MembershipChanged{UserID: user}}
}
func cancel(at time.Time) cmd {
	return cmd{topics.TypeMembershipCancelRequested, at, topics.MembershipChanged{UserID: user}}
}

// feed applies commands in order, each with its own id at the next
// offset, and returns the membership and each verdict.
func feed(t *testing.T, r membership.Rules, cmds ...cmd) (membership.Membership, []processors.Verdict) {
	t.Helper()
	var m membership.Membership
	var vs []processors.Verdict
	for i, c := range cmds {
		ev, in := event(t, c, fmt.Sprintf("e-%d", i), int64(i))
		var v processors.Verdict
		m, v = r.Apply(m, in, ev)
		vs = append(vs, v)
	}
	return m, vs
}

func event(t *testing.T, c cmd, id string, offset int64) (topics.Event, processors.In) {
	t.Helper()
	ev, err := topics.New(c.typ, user, c.data, topics.At(c.at), topics.WithID(id))
	if err != nil {
		t.Fatal(err)
	}
	return ev, processors.In{ID: id, Key: user, At: c.at, Pos: processors.Position{Topic: topics.MembershipCommands, Offset: offset}}
}

// outcome names a verdict: the event type emitted, "refused: <reason>" or
// "rejected: <reason>".
func outcome(v processors.Verdict) string {
	switch {
	case v.Outcome == processors.Change:
		return v.Type
	case v.Outcome == processors.Refuse:
		return "refused: " + v.Reason
	case v.Outcome == processors.Reject:
		return "rejected: " + v.Reason
	}
	return fmt.Sprintf("outcome %d", v.Outcome)
}

func TestTransitions(t *testing.T) {
	const (
		started   = topics.TypeMembershipTrialStarted
		converted = topics.TypeMembershipConverted
		canceled  = topics.TypeMembershipCanceled
	)
	cases := []struct {
		name string
		cmds []cmd
		want []string
		// state and conversion as of asOf
		asOf      time.Time
		state     membership.State
		converted string // "true", "false" or "pending"
		reason    string // of the last emitted event, if any
	}{
		{name: "trial runs", cmds: []cmd{trial(start, 0, "")}, want: []string{started},
			asOf: ends.Add(-time.Second), state: membership.Trial, converted: "pending"},
		{name: "trial still in at its end has converted", cmds: []cmd{trial(start, 0, "")}, want: []string{started},
			asOf: ends, state: membership.Member, converted: "true"},
		{name: "cancel in the trial's last second", cmds: []cmd{trial(start, 0, ""), cancel(ends.Add(-time.Second))},
			want: []string{started, canceled}, asOf: ends.AddDate(0, 1, 0), state: membership.Canceled, converted: "false",
			reason: membership.ReasonCanceledInTrial},
		{name: "cancel at the trial's end", cmds: []cmd{trial(start, 0, ""), cancel(ends)},
			want: []string{started, canceled}, asOf: ends, state: membership.Canceled, converted: "true",
			reason: membership.ReasonCanceledAfterEnd},
		{name: "cancel one second after the end", cmds: []cmd{trial(start, 0, ""), cancel(ends.Add(time.Second))},
			want: []string{started, canceled}, asOf: ends.Add(time.Second), state: membership.Canceled, converted: "true",
			reason: membership.ReasonCanceledAfterEnd},
		{name: "explicit convert makes a member at once", cmds: []cmd{trial(start, 0, ""), convert(start.Add(time.Hour))},
			want: []string{started, converted}, asOf: start.Add(time.Hour), state: membership.Member, converted: "pending",
			reason: membership.ReasonConverted},
		{name: "a converted member who cancels in the trial period did not convert",
			cmds: []cmd{trial(start, 0, ""), convert(start.Add(time.Hour)), cancel(start.Add(48 * time.Hour))},
			want: []string{started, converted, canceled}, asOf: start.Add(48 * time.Hour), state: membership.Canceled, converted: "false",
			reason: membership.ReasonCanceledAsMember},
		{name: "convert before any trial", cmds: []cmd{convert(start), trial(start.Add(time.Minute), 0, "")},
			want: []string{"refused: membership.convert_requested refused: there is no trial to convert", started},
			asOf: start.Add(time.Minute), state: membership.Trial, converted: "pending"},
		{name: "cancel without a trial", cmds: []cmd{cancel(start)},
			want: []string{"refused: membership.cancel_requested refused: there is no trial or membership to cancel"},
			asOf: start, state: membership.None, converted: "pending"},
		{name: "second trial", cmds: []cmd{trial(start, 0, ""), trial(start.Add(time.Hour), 20000, "o-2")},
			want: []string{started, "refused: membership.trial_requested refused: a trial already started at 2026-11-25T10:00:00Z; the membership is trial"},
			asOf: start.Add(time.Hour), state: membership.Trial, converted: "pending"},
		{name: "second trial after a cancel", cmds: []cmd{trial(start, 0, ""), cancel(start.Add(time.Hour)), trial(start.AddDate(0, 2, 0), 0, "")},
			want: []string{started, canceled, "refused: membership.trial_requested refused: a trial already started at 2026-11-25T10:00:00Z; the membership is canceled"},
			asOf: start.AddDate(0, 2, 0), state: membership.Canceled, converted: "false"},
		{name: "convert when a member", cmds: []cmd{trial(start, 0, ""), convert(start.Add(time.Hour)), convert(start.Add(2 * time.Hour))},
			want: []string{started, converted, "refused: membership.convert_requested refused: already a full member since 2026-11-25T11:00:00Z"},
			asOf: start.Add(2 * time.Hour), state: membership.Member, converted: "pending"},
		{name: "convert at the trial's end", cmds: []cmd{trial(start, 0, ""), convert(ends)},
			want: []string{started, "refused: membership.convert_requested refused: the trial already converted at its end, 2026-12-25T10:00:00Z"},
			asOf: ends, state: membership.Member, converted: "true"},
		{name: "convert after a cancel", cmds: []cmd{trial(start, 0, ""), cancel(start.Add(time.Hour)), convert(start.Add(2 * time.Hour))},
			want: []string{started, canceled, "refused: membership.convert_requested refused: the membership was canceled at 2026-11-25T11:00:00Z"},
			asOf: ends, state: membership.Canceled, converted: "false"},
		{name: "cancel twice", cmds: []cmd{trial(start, 0, ""), cancel(start.Add(time.Hour)), cancel(start.Add(2 * time.Hour))},
			want: []string{started, canceled, "refused: membership.cancel_requested refused: already canceled at 2026-11-25T11:00:00Z"},
			asOf: ends, state: membership.Canceled, converted: "false"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, vs := feed(t, membership.DefaultRules, c.cmds...)
			var got []string
			for _, v := range vs {
				got = append(got, outcome(v))
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("verdicts\n got %q\nwant %q", got, c.want)
			}
			if s := m.StateAt(c.asOf); s != c.state {
				t.Errorf("state as of %s is %s, want %s", c.asOf, s, c.state)
			}
			conv, decided, _ := m.Conversion(c.asOf)
			if gotConv := map[bool]string{false: "pending", true: fmt.Sprint(conv)}[decided]; gotConv != c.converted {
				t.Errorf("converted as of %s: %s, want %s", c.asOf, gotConv, c.converted)
			}
			if len(m.Applied.IDs) != len(c.cmds) {
				t.Errorf("applied %v, want every command's id (refusals too)", m.Applied.IDs)
			}
			last := vs[len(vs)-1]
			if c.reason != "" && last.Out.(topics.MembershipChanged).Reason != c.reason {
				t.Errorf("reason %q, want %q", last.Out.(topics.MembershipChanged).Reason, c.reason)
			}
			var refused []string
			for i, v := range vs {
				if v.Outcome == processors.Refuse {
					refused = append(refused, fmt.Sprintf("e-%d", i))
				}
			}
			var ids []string
			for _, r := range m.Refused {
				ids = append(ids, r.EventID)
				if r.Code != membership.RefusedConflict || r.Reason == "" {
					t.Errorf("refusal %+v", r)
				}
			}
			if !slices.Equal(ids, refused) {
				t.Errorf("refusals %v, want every refused command's, %v", ids, refused)
			}
		})
	}
}

func TestTrialStartedCarriesSpendAndEnd(t *testing.T) {
	m, vs := feed(t, membership.Rules{TrialDays: 7}, trial(start, 10001, "o-1"))
	want := topics.MembershipTrialStarted{UserID: user, TrialEndsAt: start.AddDate(0, 0, 7), SpendCents: 10001, Currency: "USD", OrderID: "o-1", TrialPeriodDays: 7}
	if vs[0].Out != want || vs[0].Type != topics.TypeMembershipTrialStarted {
		t.Fatalf("emitted %s %+v, want %+v", vs[0].Type, vs[0].Out, want)
	}
	if m.Version != 1 || m.UserID != user || !m.TrialStartedAt.Equal(start) || m.SpendCents != 10001 || m.OrderID != "o-1" {
		t.Errorf("table value %+v", m)
	}
	// Rules without a trial length use the default.
	if m, _ := feed(t, membership.Rules{}, trial(start, 0, "")); !m.TrialEndsAt.Equal(ends) || m.TrialDays != membership.DefaultTrialDays {
		t.Errorf("zero rules: trial ends %s after %d days", m.TrialEndsAt, m.TrialDays)
	}
}

// A command decided before is skipped, except the record whose output
// went out last read again (a crash between storing and emitting): it
// emits the same event, or the same dead letter, again.
func TestDuplicates(t *testing.T) {
	r := membership.DefaultRules
	t1, t2, c1 := trial(start, 0, ""), trial(start.Add(time.Hour), 0, ""), cancel(start.Add(2*time.Hour))
	m, _ := feed(t, r, t1)
	ev, in := event(t, t1, "e-0", 0)

	again, v := r.Apply(m, in, ev)
	if v.Outcome != processors.Reemit || v.Type != topics.TypeMembershipTrialStarted || !reflect.DeepEqual(again, m) {
		t.Fatalf("the last emitting record read again: %s, state changed %v", outcome(v), !reflect.DeepEqual(again, m))
	}
	if _, first := feed(t, r, t1); v.Out != first[0].Out {
		t.Errorf("re-emitted %+v, first emitted %+v", v.Out, first[0].Out)
	}
	in.Pos.Offset = 9 // the same event produced twice
	if _, v := r.Apply(m, in, ev); v.Outcome != processors.Skip {
		t.Errorf("a duplicate elsewhere: %s, want skipped", outcome(v))
	}

	ev2, in2 := event(t, t2, "e-1", 1)
	m, v = r.Apply(m, in2, ev2)
	if v.Outcome != processors.Refuse {
		t.Fatalf("second trial: %s", outcome(v))
	}
	if _, v := r.Apply(m, in2, ev2); v.Outcome != processors.Reject || v.Reason != m.Refused[0].String() {
		t.Errorf("the refused record read again: %s, want its dead letter again without a change", outcome(v))
	}
	ev3, in3 := event(t, c1, "e-2", 2)
	m, _ = r.Apply(m, in3, ev3)
	if _, v := r.Apply(m, in2, ev2); v.Outcome != processors.Skip {
		t.Errorf("an older refusal read again: %s, want skipped", outcome(v))
	}
	if _, v := r.Apply(m, in, ev); v.Outcome != processors.Skip {
		t.Errorf("an older change read again: %s, want skipped", outcome(v))
	}
	if m.Version != 2 || m.StateAt(ends) != membership.Canceled {
		t.Errorf("after duplicates: %+v", m)
	}
}

// Malformed commands are rejected and leave nothing in the table.
func TestMalformedCommandsLeaveNoTrace(t *testing.T) {
	r := membership.DefaultRules
	m, _ := feed(t, r, trial(start, 0, ""))
	cases := map[string]struct {
		typ  string
		key  string
		data any
		want string
	}{
		"negative spend":   {topics.TypeMembershipTrialRequested, user, topics.MembershipTrialRequested{UserID: user, SpendCents: -1, Currency: "USD"}, "invalid membership.trial_requested: spend: negative amount -1"},
		"unknown currency": {topics.TypeMembershipTrialRequested, user, topics.MembershipTrialRequested{UserID: user, Currency: "XXX"}, `invalid membership.trial_requested: spend: unknown currency "XXX"`},
		"bad order id":     {topics.TypeMembershipTrialRequested, user, topics.MembershipTrialRequested{UserID: user, Currency: "USD", OrderID: "o 1"}, `invalid membership.trial_requested: order_id "o 1" is not an id`},
		"bad user id":      {topics.TypeMembershipCancelRequested, user, topics.MembershipChanged{UserID: ""}, `invalid membership.cancel_requested: user_id "" is not an id`},
		"wrong key":        {topics.TypeMembershipCancelRequested, "u-2", topics.MembershipChanged{UserID: user}, `record key "u-2" is not the user_id "u-1": membership commands are keyed by user_id`},
		"an output type":   {topics.TypeMembershipCanceled, user, topics.MembershipChanged{UserID: user}, `event type "membership.canceled" does not belong on membership.commands, which carries membership commands`},
		"another type":     {topics.TypeCartCleared, user, topics.CartCleared{UserID: user}, `event type "cart.cleared" does not belong on membership.commands, which carries membership commands`},
	}
	for name, c := range cases {
		ev, err := topics.New(c.typ, c.key, c.data, topics.At(start.Add(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		next, v := r.Apply(m, processors.In{ID: ev.ID, Key: c.key, At: ev.OccurredAt, Pos: processors.Position{Topic: topics.MembershipCommands, Offset: 5}}, ev)
		if v.Outcome != processors.Reject || v.Reason != c.want {
			t.Errorf("%s: %s, want rejected: %s", name, outcome(v), c.want)
		}
		if !reflect.DeepEqual(next, m) {
			t.Errorf("%s: the table changed: %+v", name, next)
		}
	}
}

func TestCohortWeekAndBucket(t *testing.T) {
	monday := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for at, want := range map[time.Time]time.Time{
		monday:                          monday,
		start:                           monday,
		monday.AddDate(0, 0, 7).Add(-1): monday, // Sunday 23:59:59.999999999
		time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC): time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC), // across the year
		// Monday 00:30 in Paris is still Sunday in UTC.
		time.Date(2026, 11, 30, 0, 30, 0, 0, time.FixedZone("CET", 3600)): monday,
	} {
		if got := cohort.Week(at); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("cohort of %s: %s, want %s", at, got, want)
		}
	}
	for spend, want := range map[int64]string{0: membership.Bucket100OrLess, 10000: membership.Bucket100OrLess, 10001: membership.BucketOver100} {
		if got := membership.Bucket(spend); got != want {
			t.Errorf("bucket of %d: %s, want %s", spend, got, want)
		}
	}
}
