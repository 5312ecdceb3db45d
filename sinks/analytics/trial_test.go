package analytics

import (
	"reflect"
	"testing"
	"time"
)

func TestResolveGivesEachTrialItsFirstCancelDuringIt(t *testing.T) {
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 0, 30)
	tr := func(id, user string, canceled time.Time) trial {
		return trial{eventID: id, userID: user, startedAt: start, endsAt: end, canceledAt: canceled}
	}
	day := func(n int) time.Time { return start.AddDate(0, 0, n) }
	none := time.Time{}

	got := resolve(
		[]trial{tr("t-1", "u-1", none), tr("t-2", "u-2", none), tr("t-1", "u-1", none), tr("t-3", "u-3", none)},
		[]trial{
			// u-4's trial, stored twice: once without a cancel, once with
			// the cancel of day 9. The batch brings day 3.
			tr("t-4", "u-4", none), tr("t-4", "u-4", day(9)),
			// u-5's holds day 2; the batch's day 8 is later.
			tr("t-5", "u-5", day(2)),
			// t-1 is in the batch too: written once, from the batch.
			tr("t-1", "u-1", none),
			// u-6's holds nothing; the batch's cancel is after its end.
			tr("t-6", "u-6", none),
		},
		map[string][]time.Time{
			// Before the start, at the end, after it, and two during it.
			"u-1": {start.Add(-time.Second), end, end.Add(time.Second), day(20), day(4)},
			// In the last second, and at the start.
			"u-2": {end.Add(-time.Second)},
			"u-3": {start},
			"u-4": {day(3), day(12)},
			"u-5": {day(8)},
			"u-6": {end},
		})
	want := []trial{tr("t-1", "u-1", day(4)), tr("t-2", "u-2", end.Add(-time.Second)), tr("t-3", "u-3", start), tr("t-4", "u-4", day(3))}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolved\n %+v\nwant\n %+v", got, want)
	}
}

func TestVersionGrowsAsTheCancelComesEarlier(t *testing.T) {
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	none, late, early := trial{}, trial{canceledAt: at.Add(time.Hour)}, trial{canceledAt: at}
	if !(none.version() == 0 && late.version() > none.version() && early.version() > late.version()) {
		t.Errorf("versions: none %d, late cancel %d, early cancel %d", none.version(), late.version(), early.version())
	}
	if row := trialTable([]trial{early, none}).appendRow(nil, 1); row[8] != noCancel || row[9] != uint32(0) {
		t.Errorf("a trial without a cancel is stored as canceled_at %v, version %v", row[8], row[9])
	}
}
