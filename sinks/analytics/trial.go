package analytics

import (
	"math"
	"slices"
	"time"

	"github.com/shopstream/shopstream/sinks/analytics/cohort"
)

// trial is one trials row: a trial_started event with its cohort and the
// first cancel of its user during it. The cohort query counts these rows,
// so every rule of the definitions that needs more than one event is
// decided here, when the events are written, in plain Go.
type trial struct {
	eventID, userID   string
	week              time.Time // cohort.Week(startedAt)
	over              bool      // cohort.Over(spendCents)
	startedAt, endsAt time.Time
	spendCents        int64
	currency          string
	// canceledAt is the first cancel during the trial; zero when none.
	canceledAt time.Time
}

// trialColumns are a trials row's columns, in row's order: the trial's
// fields (what the sink reads back) and the version.
const (
	trialFields  = "event_id, user_id, week, over_100, started_at, ends_at, spend_cents, currency, canceled_at"
	trialColumns = trialFields + ", version"
)

// noCancel is how the trials table spells "no cancel during the trial": the
// epoch, as ClickHouse defaults a DateTime (the store has no NULLs).
var noCancel = time.Unix(0, 0).UTC()

func trialOf(e Event) trial {
	return trial{eventID: e.ID, userID: e.UserID, week: cohort.Week(e.OccurredAt), over: cohort.Over(e.AmountCents),
		startedAt: e.OccurredAt, endsAt: e.TrialEndsAt, spendCents: e.AmountCents, currency: e.Currency}
}

// during reports whether a cancel at c falls in the trial: at or after its
// start and before its end. A cancel at or after the end finds the user
// still a member when the trial ended: converted.
func (t trial) during(c time.Time) bool { return !c.Before(t.startedAt) && c.Before(t.endsAt) }

// cancel applies a cancel at c and reports whether it is now the first
// cancel during the trial.
func (t *trial) cancel(c time.Time) bool {
	if !t.during(c) || (!t.canceledAt.IsZero() && !c.Before(t.canceledAt)) {
		return false
	}
	t.canceledAt = c
	return true
}

// version orders the rows of one trial by what they know: 0 without a
// cancel, higher the earlier the cancel. The store keeps the highest
// (ClickHouse's ReplacingMergeTree(version), SQLite's upsert), so a row
// written from a staler view never undoes a cancel, whatever the order of
// writes.
func (t trial) version() uint32 {
	if t.canceledAt.IsZero() {
		return 0
	}
	return math.MaxUint32 - uint32(t.canceledAt.Unix())
}

// trialTable is ts as trials rows (trialColumns), in the Go types
// ClickHouse takes (SQLite converts them).
func trialTable(ts []trial) table {
	n := len(ts)
	ids, users, currencies := make([]string, n), make([]string, n), make([]string, n)
	weeks, started, ends, canceled := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	over, spend, versions := make([]uint8, n), make([]int64, n), make([]uint32, n)
	for i, t := range ts {
		ids[i], users[i], weeks[i], started[i], ends[i], spend[i], currencies[i], versions[i] =
			t.eventID, t.userID, t.week, t.startedAt, t.endsAt, t.spendCents, t.currency, t.version()
		canceled[i] = noCancel
		if !t.canceledAt.IsZero() {
			canceled[i] = t.canceledAt
		}
		if t.over {
			over[i] = 1
		}
	}
	return table{n: n, cols: []any{ids, users, weeks, over, started, ends, spend, currencies, canceled, versions}}
}

// resolve decides the trials rows a batch writes. batch holds the batch's
// trials; stored the stored rows of the trials of the users who canceled in
// the batch (maybe several rows of one trial, before ClickHouse merged
// them); cancels every cancel known of the users of both (the batch's and
// the stored ones). Each batch trial is written, with its first cancel; a
// stored trial only when the batch brings an earlier first cancel.
func resolve(batch, stored []trial, cancels map[string][]time.Time) []trial {
	out := make([]trial, 0, len(batch))
	written := make(map[string]bool, len(batch))
	for _, t := range batch {
		if written[t.eventID] {
			continue // the same trial twice in one batch
		}
		written[t.eventID] = true
		for _, c := range cancels[t.userID] {
			t.cancel(c)
		}
		out = append(out, t)
	}
	// The most knowing stored row of each trial the batch did not write.
	best := make(map[string]trial)
	var ids []string
	for _, t := range stored {
		if written[t.eventID] {
			continue
		}
		b, ok := best[t.eventID]
		if !ok {
			ids = append(ids, t.eventID)
		}
		if !ok || t.version() > b.version() {
			best[t.eventID] = t
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		t, changed := best[id], false
		for _, c := range cancels[t.userID] {
			changed = t.cancel(c) || changed
		}
		if changed {
			out = append(out, t)
		}
	}
	return out
}
