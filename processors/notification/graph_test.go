package notification_test

import (
	"strings"
	"testing"

	"github.com/shopstream/shopstream/processors/notification"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

func TestGraphOnTester(t *testing.T) {
	tt := pt.Tester(t, notification.Group, notification.Graph)
	dlq := tt.NewQueueTracker(topics.DeadLetterTopic(topics.Notifications))

	n1 := pt.Event(t, topics.TypeNotificationSent, "u-1", sent("created", "o-1"), topics.At(t0))
	n2 := pt.Event(t, topics.TypeNotificationSent, "u-1", sent("placed", "o-1"), topics.At(t0.Add(1)))
	tt.Consume(topics.Notifications, "u-1", n1)
	tt.Consume(topics.Notifications, "u-1", n2)
	tt.Consume(topics.Notifications, "u-1", n1) // a redelivery
	tt.Consume(topics.Notifications, "u-2", pt.Event(t, topics.TypeNotificationSent, "u-2", sent("placed", "o-2")))
	tt.Consume(topics.Notifications, "u-1", pt.Event(t, topics.TypeCartCleared, "u-1", topics.CartCleared{UserID: "u-1"}))
	tt.Consume(topics.Notifications, "u-1", []byte("garbage"))

	inbox := tt.TableValue(notification.Table, "u-1").(notification.Inbox)
	if ids(inbox) != n2.ID+","+n1.ID || inbox.Notifications[0].Kind != "placed" || !inbox.Notifications[0].At.Equal(n2.OccurredAt) {
		t.Errorf("inbox %+v", inbox)
	}
	if v := tt.TableValue(notification.Table, "u-2"); v != nil {
		t.Errorf("u-2 has a table value from a record about u-1: %+v", v)
	}
	dead := pt.Drain(dlq)
	wantReasons := []string{`record key "u-2" is not the user_id "u-1"`, `event type "cart.cleared" does not belong on notifications`, "malformed event"}
	if len(dead) != len(wantReasons) {
		t.Fatalf("%d dead letters, want %d: %+v", len(dead), len(wantReasons), dead)
	}
	for i, ev := range dead {
		if dl := ev.Data.(topics.DeadLetter); !strings.Contains(dl.Reason, wantReasons[i]) || dl.Source != "notification" {
			t.Errorf("dead letter %d: %+v, want %q", i, dl, wantReasons[i])
		}
	}
}
