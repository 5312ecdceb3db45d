package analytics

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/sinks/analytics/cohort"
	"github.com/shopstream/shopstream/topics"
)

// The cohort part of the contract: every adapter gives these numbers. The
// expectations are written out by hand (edge cases) or computed in the test
// by a direct reading of the definitions (member.expect), never by the code
// under test.

// Events of the tests, built by hand.
func trialEv(id, user string, at time.Time, days int, spendCents int64) Event {
	cur := "USD"
	if spendCents == 0 {
		cur = "" // a trial without a purchase
	}
	return Event{ID: id, Type: topics.TypeMembershipTrialStarted, UserID: user, OccurredAt: at,
		AmountCents: spendCents, Currency: cur, TrialEndsAt: at.AddDate(0, 0, days)}
}

func cancelEv(id, user string, at time.Time) Event {
	return Event{ID: id, Type: topics.TypeMembershipCanceled, UserID: user, OccurredAt: at}
}

func convertEv(id, user string, at time.Time) Event {
	return Event{ID: id, Type: topics.TypeMembershipConverted, UserID: user, OccurredAt: at}
}

func orderEv(id, typ, user string, at time.Time, cents int64) Event {
	return Event{ID: id, Type: typ, UserID: user, OrderID: "o-" + id, OccurredAt: at, AmountCents: cents, Currency: "USD"}
}

func write(t *testing.T, s Store, events ...Event) {
	t.Helper()
	if err := s.WriteEvents(ctx(t), events); err != nil {
		t.Fatalf("write %d events: %v", len(events), err)
	}
}

func cohorts(t *testing.T, s Store, from, to, now time.Time) []CohortWeek {
	t.Helper()
	got, err := s.PrimeCohorts(ctx(t), from, to, now)
	if err != nil {
		t.Fatalf("prime cohorts: %v", err)
	}
	return got
}

func equalCohorts(t *testing.T, what string, got, want []CohortWeek) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, showCohorts(got), showCohorts(want))
	}
}

func showCohorts(ws []CohortWeek) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "\n  %s over %+v up-to %+v", w.Week.Format(time.DateOnly), w.Over100, w.UpTo100)
	}
	return b.String()
}

// Mon 2026-01-05 starts the week of most edge cases.
var w1 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func cohortContract(t *testing.T, fresh freshDB) {
	t.Run("edge-cases", func(t *testing.T) { edgeCases(t, openMigrated(t, fresh(t))) })
	t.Run("generated-populations", func(t *testing.T) { populations(t, fresh) })
	t.Run("event-counts-count-each-event-once", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		at := w1.Add(time.Hour)
		evs := []Event{
			trialEv("c-1", "u-1", at, 30, 12000), cancelEv("c-2", "u-1", at.Add(time.Hour)),
			convertEv("c-3", "u-2", at), orderEv("c-4", topics.TypeOrderCreated, "u-1", at, 12000),
			orderEv("c-5", topics.TypeOrderPlaced, "u-1", at, 0), orderEv("c-6", topics.TypeOrderCreated, "u-3", at, 500),
		}
		write(t, s, evs...)
		write(t, s, evs[1], evs[3], evs[0])
		got, err := s.EventCounts(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{topics.TypeMembershipTrialStarted: 1, topics.TypeMembershipCanceled: 1, topics.TypeMembershipConverted: 1,
			topics.TypeOrderCreated: 2, topics.TypeOrderPlaced: 1}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("counts %v, want %v", got, want)
		}
	})
	t.Run("an-invalid-event-fails-the-batch-and-writes-nothing", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		bad := trialEv("i-2", "u-2", w1, 30, 100)
		bad.TrialEndsAt = bad.OccurredAt
		err := s.WriteEvents(ctx(t), []Event{trialEv("i-1", "u-1", w1, 30, 100), bad})
		if err == nil || !strings.Contains(err.Error(), "i-2") || !strings.Contains(err.Error(), "not after the trial start") {
			t.Fatalf("got %v, want an error naming i-2 and its end", err)
		}
		if got, _ := s.EventCounts(ctx(t)); len(got) != 0 {
			t.Errorf("stored %v", got)
		}
		if got := cohorts(t, s, w1, w1, w1.AddDate(0, 2, 0)); len(got) != 0 {
			t.Errorf("cohorts %s", showCohorts(got))
		}
	})
}

// edgeCases writes one user per edge case of docs/analytics.md and checks
// the hand-counted result.
func edgeCases(t *testing.T, s Store) {
	w0, w2 := w1.AddDate(0, 0, -7), w1.AddDate(0, 0, 7)
	at := w1.Add(10 * time.Hour) // Monday 10:00
	end := at.AddDate(0, 0, 30)
	sec := time.Second

	// First batch: events that arrive before their trial.
	write(t, s,
		convertEv("e-convert-first-c", "u-convert-first", at.AddDate(0, 0, 3)),
		cancelEv("e-cancel-first-c", "u-cancel-first", at.AddDate(0, 0, 2)),
	)
	// Second batch, in no particular order.
	write(t, s,
		// $100.00 exactly is "100 or less"; one cent more is over.
		trialEv("e-exact", "u-exact", at, 30, 10000),
		trialEv("e-over", "u-over", at, 30, 10001),
		orderEv("e-over-order", topics.TypeOrderCreated, "u-over", at.Add(-sec), 10001),
		// No purchase: spend 0, no currency.
		trialEv("e-none", "u-none", at, 30, 0),
		// A cancel in the trial's last second: not converted.
		trialEv("e-last", "u-last", at, 30, 500),
		cancelEv("e-last-c", "u-last", end.Add(-sec)),
		// A cancel at the end, and one second after: still a member when
		// the trial ended, converted.
		trialEv("e-at-end", "u-at-end", at, 30, 500),
		cancelEv("e-at-end-c", "u-at-end", end),
		trialEv("e-after", "u-after", at, 30, 20000),
		cancelEv("e-after-c", "u-after", end.Add(sec)),
		// An explicit convert, then a cancel during the trial: not a
		// member at its end.
		trialEv("e-convert-cancel", "u-convert-cancel", at, 30, 20000),
		convertEv("e-convert-cancel-v", "u-convert-cancel", at.AddDate(0, 0, 5)),
		cancelEv("e-convert-cancel-c", "u-convert-cancel", at.AddDate(0, 0, 10)),
		// Their trials arrive after the convert and the cancel above.
		trialEv("e-convert-first", "u-convert-first", at, 30, 20000),
		trialEv("e-cancel-first", "u-cancel-first", at, 30, 20000),
		// A cancel before its trial in the same batch.
		cancelEv("e-same-batch-c", "u-same-batch", at.Add(time.Hour)),
		trialEv("e-same-batch", "u-same-batch", at, 30, 500),
		// A cancel stamped before the trial started belongs to no trial.
		cancelEv("e-before-c", "u-before", at.Add(-sec)),
		trialEv("e-before", "u-before", at, 30, 500),
		// Sunday 23:59:59 is the week before Monday 00:00:00.
		trialEv("e-sunday", "u-sunday", w1.Add(-sec), 30, 500),
		trialEv("e-monday", "u-monday", w1, 30, 500),
		trialEv("e-sunday2", "u-sunday2", w2.Add(-sec), 30, 20000),
		// Next week: a trial still running at now, one canceled and still
		// running, one ending exactly at now (ended).
		trialEv("e-pending", "u-pending", w2.Add(time.Hour), 60, 500),
		trialEv("e-pending-c", "u-pending-c", w2.Add(time.Hour), 60, 500),
		cancelEv("e-pending-c-c", "u-pending-c", w2.Add(2*time.Hour)),
		trialEv("e-ends-now", "u-ends-now", w2.Add(4*time.Hour), 30, 500),
		// Times count to the second: a trial started at .9 s ends at .9 s,
		// and a cancel at .3 s of that last second counts as at the end.
		trialEv("e-frac", "u-frac", w2.Add(3*time.Hour+900*time.Millisecond), 30, 20000),
		cancelEv("e-frac-c", "u-frac", w2.Add(3*time.Hour+300*time.Millisecond).AddDate(0, 0, 30)),
	)
	// Duplicates: a trial and a cancel delivered again, alone and in a batch.
	write(t, s, trialEv("e-last", "u-last", at, 30, 500))
	write(t, s, cancelEv("e-last-c", "u-last", end.Add(-sec)), trialEv("e-exact", "u-exact", at, 30, 10000),
		trialEv("e-exact", "u-exact", at, 30, 10000))

	now := w2.Add(4*time.Hour).AddDate(0, 0, 30)
	want := []CohortWeek{
		// sunday.
		{Week: w0, UpTo100: cohort.Counts{Trials: 1, Converted: 1}},
		// Over: over, after, sunday2, convert-first converted; convert-cancel
		// and cancel-first not. Up to $100: exact, none, at-end, before,
		// monday converted; last and same-batch not.
		{Week: w1,
			Over100: cohort.Counts{Trials: 6, Converted: 4},
			UpTo100: cohort.Counts{Trials: 7, Converted: 5}},
		// frac converted. pending and pending-c run past now; ends-now
		// ended at now and converted.
		{Week: w2,
			Over100: cohort.Counts{Trials: 1, Converted: 1},
			UpTo100: cohort.Counts{Trials: 3, Converted: 1, Pending: 2}},
	}
	equalCohorts(t, "edge cases", cohorts(t, s, w0, w2, now), want)
	// The range snaps to whole weeks and leaves out weeks without trials.
	equalCohorts(t, "one week by any of its days", cohorts(t, s, w1.AddDate(0, 0, 6), w1.AddDate(0, 0, 3), now), want[1:2])
	equalCohorts(t, "a range without trials", cohorts(t, s, w2.AddDate(0, 0, 7), w2.AddDate(0, 0, 70), now), nil)
	equalCohorts(t, "a reversed range", cohorts(t, s, w2, w0, now), nil)
	// A second before the end of the trials started at 10:00, only
	// monday's (started at 00:00) has ended.
	early := cohorts(t, s, w1, w1, end.Add(-sec))
	equalCohorts(t, "w1 before the trials end", early, []CohortWeek{{Week: w1,
		Over100: cohort.Counts{Trials: 6, Pending: 6}, UpTo100: cohort.Counts{Trials: 7, Converted: 1, Pending: 6}}})
}

// member is one generated user: a trial (or none), its cancels and the
// other events around it.
type member struct {
	user       string
	trial      bool
	start, end time.Time
	spend      int64
	cancels    []time.Time
	events     []Event
}

// mondayOf is the week start computed apart from cohort.Week: days since
// the epoch, which was a Thursday.
func mondayOf(t time.Time) time.Time {
	days := t.Unix() / 86400
	return time.Unix((days-(days+3)%7)*86400, 0).UTC()
}

// expect reads the definitions directly: a trial is in the week of its
// start and the bucket of its spend; pending until its end; converted if
// ended and no cancel fell at or after its start and before its end. All
// to the second.
func expect(members []member, from, to, now time.Time) []CohortWeek {
	sec := func(t time.Time) time.Time { return t.Truncate(time.Second) }
	from, to, now = mondayOf(from), mondayOf(to), sec(now)
	byWeek := map[time.Time]*CohortWeek{}
	for _, m := range members {
		if !m.trial {
			continue
		}
		start, end := sec(m.start), sec(m.end)
		week := mondayOf(start)
		if week.Before(from) || week.After(to) {
			continue
		}
		w := byWeek[week]
		if w == nil {
			w = &CohortWeek{Week: week}
			byWeek[week] = w
		}
		c := &w.UpTo100
		if m.spend > 10000 {
			c = &w.Over100
		}
		c.Trials++
		canceled := false
		for _, x := range m.cancels {
			x = sec(x)
			canceled = canceled || (!x.Before(start) && x.Before(end))
		}
		switch {
		case now.Before(end):
			c.Pending++
		case !canceled:
			c.Converted++
		}
	}
	var out []CohortWeek
	for week := from; !week.After(to); week = week.AddDate(0, 0, 7) {
		if w := byWeek[week]; w != nil {
			out = append(out, *w)
		}
	}
	return out
}

// population generates n users over ten weeks from w1, with the edge
// values drawn often: spends around $100, starts on week boundaries,
// cancels around the trial's end, before the start, twice, or alone.
func population(r *rand.Rand, n int) []member {
	spends := []int64{0, 9999, 10000, 10001, 25000}
	var members []member
	id := 0
	next := func() string { id++; return fmt.Sprintf("g-%06d", id) }
	for i := range n {
		m := member{user: fmt.Sprintf("pop-%05d", i), trial: r.IntN(20) != 0}
		m.start = w1.Add(time.Duration(r.Int64N(70*24*3600)) * time.Second)
		switch r.IntN(10) {
		case 0:
			m.start = mondayOf(m.start) // Monday 00:00:00
		case 1:
			m.start = mondayOf(m.start).Add(-time.Second) // Sunday 23:59:59
		case 2:
			m.start = m.start.Add(time.Duration(r.IntN(1e9))) // a fraction of a second
		}
		days := []int{7, 14, 30, 30, 30}[r.IntN(5)]
		m.end = m.start.AddDate(0, 0, days)
		m.spend = spends[r.IntN(len(spends))]
		if r.IntN(3) == 0 {
			m.spend = r.Int64N(30000)
		}
		if m.trial {
			m.events = append(m.events, trialEv(next(), m.user, m.start, days, m.spend))
		}
		for range r.IntN(3) {
			var c time.Time
			switch r.IntN(6) {
			case 0:
				c = m.end.Add(-time.Second)
			case 1:
				c = m.end
			case 2:
				c = m.end.Add(time.Second)
			case 3:
				c = m.start.Add(-time.Duration(r.IntN(3600)+1) * time.Second)
			default:
				c = m.start.Add(time.Duration(r.Int64N(int64(m.end.Sub(m.start)) * 2)))
			}
			m.cancels = append(m.cancels, c)
			m.events = append(m.events, cancelEv(next(), m.user, c))
		}
		if r.IntN(3) == 0 {
			m.events = append(m.events, convertEv(next(), m.user, m.start.Add(time.Duration(r.Int64N(int64(m.end.Sub(m.start)))))))
		}
		for range r.IntN(3) {
			m.events = append(m.events, orderEv(next(), topics.TypeOrderCreated, m.user, m.start.Add(time.Duration(r.IntN(3600*24*60))*time.Second), r.Int64N(30000)))
		}
		members = append(members, m)
	}
	return members
}

// populations checks generated populations against expect, written in time
// order, shuffled in random batches, and shuffled with every event twice:
// the live run, a backfill, a redelivery.
func populations(t *testing.T, fresh freshDB) {
	for seed := range uint64(2) {
		r := rand.New(rand.NewPCG(seed, 7))
		members := population(r, 1500)
		var events []Event
		for _, m := range members {
			events = append(events, m.events...)
		}
		byTime := append([]Event(nil), events...)
		sortByTime(byTime)
		shuffled := append([]Event(nil), events...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		twice := append(append([]Event(nil), shuffled...), events...)
		r.Shuffle(len(twice), func(i, j int) { twice[i], twice[j] = twice[j], twice[i] })

		last := w1.AddDate(0, 0, 7*11)
		nows := []time.Time{w1.AddDate(0, 0, 20), w1.AddDate(0, 0, 45).Add(time.Duration(r.IntN(86400)) * time.Second), last.AddDate(0, 1, 0)}
		for _, order := range []struct {
			name   string
			events []Event
		}{{"in-time-order", byTime}, {"shuffled", shuffled}, {"shuffled-twice", twice}} {
			t.Run(fmt.Sprintf("seed-%d/%s", seed, order.name), func(t *testing.T) {
				s := openMigrated(t, fresh(t))
				for evs := order.events; len(evs) > 0; {
					n := min(len(evs), 1+r.IntN(400))
					write(t, s, evs[:n]...)
					evs = evs[n:]
				}
				for _, now := range nows {
					equalCohorts(t, "all weeks at "+now.Format(time.RFC3339), cohorts(t, s, w1.AddDate(0, 0, -7), last, now), expect(members, w1.AddDate(0, 0, -7), last, now))
				}
				from, to := w1.AddDate(0, 0, 17), w1.AddDate(0, 0, 40)
				equalCohorts(t, "weeks 3 to 6", cohorts(t, s, from, to, nows[1]), expect(members, from, to, nows[1]))
				counts, err := s.EventCounts(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				if want := countTypes(events); !reflect.DeepEqual(counts, want) {
					t.Errorf("event counts %v, want %v", counts, want)
				}
			})
		}
	}
}

func sortByTime(evs []Event) {
	// Stable, so a trial stays before a cancel of the same second.
	slices.SortStableFunc(evs, func(a, b Event) int { return a.OccurredAt.Compare(b.OccurredAt) })
}

func countTypes(evs []Event) map[string]int64 {
	seen, counts := map[string]bool{}, map[string]int64{}
	for _, e := range evs {
		if !seen[e.ID] {
			seen[e.ID] = true
			counts[e.Type]++
		}
	}
	return counts
}
