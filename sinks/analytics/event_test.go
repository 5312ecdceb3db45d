package analytics

import (
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/topics"
)

func TestFromTopicKeepsWhatTheCohortsNeedToTheSecond(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	at := time.Date(2026, 1, 5, 15, 30, 0, 700_000_000, ist) // 10:00:00.7 UTC
	utc := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		typ  string
		data any
		want Event
	}{
		{topics.TypeMembershipTrialStarted,
			topics.MembershipTrialStarted{UserID: "u-1", TrialEndsAt: at.AddDate(0, 0, 30), SpendCents: 10001, Currency: "USD", OrderID: "o-1", TrialPeriodDays: 30},
			Event{Type: topics.TypeMembershipTrialStarted, UserID: "u-1", OrderID: "o-1", AmountCents: 10001, Currency: "USD", TrialEndsAt: utc.AddDate(0, 0, 30)}},
		{topics.TypeMembershipTrialStarted,
			topics.MembershipTrialStarted{UserID: "u-1", TrialEndsAt: at.AddDate(0, 0, 7), TrialPeriodDays: 7},
			Event{Type: topics.TypeMembershipTrialStarted, UserID: "u-1", TrialEndsAt: utc.AddDate(0, 0, 7)}},
		{topics.TypeMembershipCanceled, topics.MembershipChanged{UserID: "u-1", Reason: "r"},
			Event{Type: topics.TypeMembershipCanceled, UserID: "u-1"}},
		{topics.TypeMembershipConverted, topics.MembershipChanged{UserID: "u-1"},
			Event{Type: topics.TypeMembershipConverted, UserID: "u-1"}},
		{topics.TypeOrderCreated, topics.OrderCreated{OrderID: "o-1", UserID: "u-1", TotalCents: 4200, Currency: "EUR"},
			Event{Type: topics.TypeOrderCreated, UserID: "u-1", OrderID: "o-1", AmountCents: 4200, Currency: "EUR"}},
		{topics.TypeOrderRefunded, topics.OrderTransition{OrderID: "o-1", UserID: "u-1", AmountCents: 4200, Currency: "EUR"},
			Event{Type: topics.TypeOrderRefunded, UserID: "u-1", OrderID: "o-1", AmountCents: 4200, Currency: "EUR"}},
		{topics.TypeOrderShipped, topics.OrderTransition{OrderID: "o-1"},
			Event{Type: topics.TypeOrderShipped, OrderID: "o-1"}},
	} {
		ev, err := topics.New(c.typ, "k", c.data, topics.At(at))
		if err != nil {
			t.Fatal(err)
		}
		got, err := FromTopic(ev)
		c.want.ID, c.want.OccurredAt = ev.ID, utc
		if err != nil || got != c.want {
			t.Errorf("%s:\n got %+v, %v\nwant %+v", c.typ, got, err, c.want)
		}
	}
}

func TestFromTopicRefusesWhatTheStoreCannotKeep(t *testing.T) {
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	trial := func(f func(*topics.MembershipTrialStarted)) topics.MembershipTrialStarted {
		d := topics.MembershipTrialStarted{UserID: "u-1", TrialEndsAt: at.AddDate(0, 0, 30), SpendCents: 100, Currency: "USD"}
		f(&d)
		return d
	}
	for _, c := range []struct {
		typ  string
		data any
		at   time.Time
		want string
	}{
		{topics.TypeMembershipTrialStarted, trial(func(d *topics.MembershipTrialStarted) { d.UserID = "" }), at, "no user_id"},
		{topics.TypeMembershipTrialStarted, trial(func(d *topics.MembershipTrialStarted) { d.TrialEndsAt = at }), at, "trial_ends_at 2026-01-05T10:00:00Z is not after the trial start 2026-01-05T10:00:00Z"},
		// Within one second: equal to the second, the store's precision.
		{topics.TypeMembershipTrialStarted, trial(func(d *topics.MembershipTrialStarted) { d.TrialEndsAt = at.Add(999 * time.Millisecond) }), at, "is not after the trial start"},
		{topics.TypeMembershipTrialStarted, trial(func(d *topics.MembershipTrialStarted) { d.TrialEndsAt = time.Time{} }), at, "trial_ends_at 0001-01-01T00:00:00Z is outside"},
		{topics.TypeMembershipTrialStarted, trial(func(d *topics.MembershipTrialStarted) { d.SpendCents = -1 }), at, "negative spend_cents -1"},
		{topics.TypeMembershipTrialStarted, trial(func(d *topics.MembershipTrialStarted) { d.Currency = "XXX" }), at, `spend of 100 in unknown currency "XXX"`},
		{topics.TypeMembershipCanceled, topics.MembershipChanged{}, at, "no user_id"},
		{topics.TypeOrderPlaced, topics.OrderTransition{UserID: "u-1"}, at, "no order_id"},
		{topics.TypeCartCleared, topics.CartCleared{UserID: "u-1"}, at, `type "cart.cleared" is not a membership or order event`},
		{topics.TypeMembershipCanceled, topics.MembershipChanged{UserID: "u-1"}, time.Unix(0, 0), "occurred_at 1970-01-01T00:00:00Z is outside 1970-01-01T00:00:01Z to 2106-02-07T06:28:15Z"},
		{topics.TypeMembershipCanceled, topics.MembershipChanged{UserID: "u-1"}, time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC), "occurred_at 2107-01-01T00:00:00Z is outside"},
	} {
		ev, err := topics.New(c.typ, "k", c.data, topics.At(c.at))
		if err != nil {
			t.Fatal(err)
		}
		_, err = FromTopic(ev)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), ev.ID) {
			t.Errorf("%s %+v: got %v, want an error naming the event and saying %q", c.typ, c.data, err, c.want)
		}
	}
}
