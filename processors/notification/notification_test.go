package notification_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/notification"
	"github.com/shopstream/shopstream/topics"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func sent(kind, order string) topics.NotificationSent {
	return topics.NotificationSent{UserID: "u-1", Kind: kind, OrderID: order, Message: "Your order " + order + " was " + kind + "."}
}

func in(id string, offset int64, at time.Time) processors.In {
	return processors.In{ID: id, Key: "u-1", At: at, Pos: processors.Position{Topic: topics.Notifications, Offset: offset}}
}

func ids(inbox notification.Inbox) string {
	var s []string
	for _, n := range inbox.Notifications {
		s = append(s, n.ID)
	}
	return strings.Join(s, ",")
}

// The rules applied in sequence to one user's inbox.
func TestApply(t *testing.T) {
	steps := []struct {
		name   string
		id     string
		at     time.Time
		n      topics.NotificationSent
		want   processors.Outcome
		ids    string // the inbox after the step, newest first
		reason string
	}{
		{name: "first", id: "n1", at: t0, n: sent("created", "o-1"), want: processors.Store, ids: "n1"},
		{name: "a newer one goes first", id: "n2", at: t0.Add(time.Minute), n: sent("placed", "o-1"), want: processors.Store, ids: "n2,n1"},
		{name: "a redelivery changes nothing", id: "n1", at: t0, n: sent("created", "o-1"), want: processors.Skip, ids: "n2,n1"},
		{name: "an older one from another order's partition sorts by time", id: "n3", at: t0.Add(30 * time.Second), n: sent("created", "o-2"),
			want: processors.Store, ids: "n2,n3,n1"},
		{name: "at the same time, the later arrival goes first", id: "n4", at: t0.Add(time.Minute), n: sent("canceled", "o-2"),
			want: processors.Store, ids: "n4,n2,n3,n1"},
		{name: "another user's notification under this key", id: "n5", at: t0, n: topics.NotificationSent{UserID: "u-2", Kind: "placed", Message: "m"},
			want: processors.Reject, ids: "n4,n2,n3,n1", reason: `record key "u-1" is not the user_id "u-2"`},
		{name: "an empty notification", id: "n6", at: t0, n: topics.NotificationSent{UserID: "u-1", OrderID: "bad id"},
			want: processors.Reject, ids: "n4,n2,n3,n1", reason: `invalid notification.sent: order_id: "bad id" is not an id; kind: is required; message: is required`},
	}
	var inbox notification.Inbox
	for i, s := range steps {
		next, v := notification.Apply(inbox, in(s.id, int64(i), s.at), s.n)
		if v.Outcome != s.want || ids(next) != s.ids || !strings.Contains(v.Reason, s.reason) {
			t.Fatalf("step %d (%s): outcome %v inbox %s reason %q; want %v %s %q", i, s.name, v.Outcome, ids(next), v.Reason, s.want, s.ids, s.reason)
		}
		inbox = next
	}
	want := notification.Notification{ID: "n3", Kind: "created", OrderID: "o-2", Message: "Your order o-2 was created.", At: t0.Add(30 * time.Second)}
	if inbox.UserID != "u-1" || inbox.Notifications[2] != want || len(inbox.Applied.IDs) != 4 {
		t.Errorf("inbox %+v", inbox)
	}
}

// An inbox keeps the newest MaxKept; a notification older than all of
// them is recorded as applied but not kept, and the original state is
// never written through.
func TestInboxIsCapped(t *testing.T) {
	var inbox notification.Inbox
	for i := range notification.MaxKept + 5 {
		inbox, _ = notification.Apply(inbox, in(fmt.Sprint("n", i), int64(i), t0.Add(time.Duration(i)*time.Minute)), sent("placed", fmt.Sprint("o-", i)))
	}
	if len(inbox.Notifications) != notification.MaxKept || inbox.Notifications[0].ID != fmt.Sprint("n", notification.MaxKept+4) ||
		inbox.Notifications[notification.MaxKept-1].ID != "n5" {
		t.Fatalf("%d kept, newest %s, oldest %s", len(inbox.Notifications), inbox.Notifications[0].ID, inbox.Notifications[len(inbox.Notifications)-1].ID)
	}
	before := ids(inbox)
	old, v := notification.Apply(inbox, in("old", 999, t0.Add(-time.Hour)), sent("created", "o-0"))
	if v.Outcome != processors.Store || ids(old) != before || !old.Applied.Has("old") {
		t.Errorf("a too-old notification: %v, kept %d, applied %v", v.Outcome, len(old.Notifications), old.Applied.Has("old"))
	}
	if _, v := notification.Apply(old, in("old", 1000, t0.Add(-time.Hour)), sent("created", "o-0")); v.Outcome != processors.Skip {
		t.Errorf("its redelivery: %v, want skipped", v.Outcome)
	}
	newest, _ := notification.Apply(inbox, in("new", 1001, t0.Add(time.Hour*24)), sent("shipped", "o-9"))
	if ids(inbox) != before || newest.Notifications[0].ID != "new" || len(newest.Notifications) != notification.MaxKept {
		t.Errorf("the original changed or the new one is missing: %s", ids(newest)[:20])
	}
}
