package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/shopstream/shopstream/api"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/notification"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

// Production reads the notification table through a goka view.
var _ api.NotificationReader = (*goka.View)(nil)

// notificationView runs the notification processor and a goka view of its
// table on one goka tester, until the test ends.
func notificationView(t *testing.T) (*tester.Tester, *goka.View) {
	t.Helper()
	tt := pt.Tester(t, notification.Group, notification.Graph)
	view, err := goka.NewView(nil, notification.Table, notification.Codec{}, goka.WithViewTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- processors.Run(ctx, view) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("view stopped with %v", err)
		}
	})
	<-view.WaitRunning()
	return tt, view
}

type notificationsAnswer struct {
	UserID        string                      `json:"user_id"`
	Notifications []notification.Notification `json:"notifications"`
	Error         struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Details map[string]string `json:"details"`
	} `json:"error"`
}

func getNotifications(t *testing.T, mux *http.ServeMux, path string) (int, notificationsAnswer) {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var body notificationsAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("GET %s: %d %q is not JSON: %v", path, rec.Code, rec.Body, err)
	}
	return rec.Code, body
}

func TestNotificationsRoute(t *testing.T) {
	tt, view := notificationView(t)
	mux := http.NewServeMux()
	api.NewNotifications(view).Mount(mux)

	// 120 notifications, about orders o-0 to o-119, a minute apart; the
	// table keeps the newest notification.MaxKept.
	const sent = 120
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := range sent {
		n := topics.NotificationSent{UserID: "u-1", Kind: "placed", OrderID: fmt.Sprint("o-", i), Message: fmt.Sprintf("Your order o-%d was placed.", i)}
		ev := pt.Event(t, topics.TypeNotificationSent, "u-1", n, topics.At(t0.Add(time.Duration(i)*time.Minute)))
		tt.Consume(topics.Notifications, "u-1", ev)
		ids = append(ids, ev.ID)
	}

	for _, tc := range []struct {
		query string
		n     int
	}{{"", api.DefaultNotificationsLimit}, {"?limit=1", 1}, {"?limit=100", 100}, {"?limit=500", api.MaxNotificationsLimit}} {
		code, body := getNotifications(t, mux, "/v1/users/u-1/notifications"+tc.query)
		if code != http.StatusOK || body.UserID != "u-1" || len(body.Notifications) != tc.n {
			t.Fatalf("%s: %d, user %q, %d notifications; want 200 with %d", tc.query, code, body.UserID, len(body.Notifications), tc.n)
		}
		for i, n := range body.Notifications {
			src := sent - 1 - i
			if n.ID != ids[src] || n.OrderID != fmt.Sprint("o-", src) || n.Kind != "placed" || !n.At.Equal(t0.Add(time.Duration(src)*time.Minute)) {
				t.Fatalf("%s: notification %d is %+v, want the one about o-%d (newest first)", tc.query, i, n, src)
			}
		}
	}

	if code, body := getNotifications(t, mux, "/v1/users/u-2/notifications"); code != http.StatusOK || body.UserID != "u-2" || body.Notifications == nil || len(body.Notifications) != 0 {
		t.Errorf("a user with none: %d %+v, want 200 with an empty list", code, body)
	}

	for _, tc := range []struct{ path, param string }{
		{"/v1/users/u-1/notifications?limit=0", "limit"},
		{"/v1/users/u-1/notifications?limit=-3", "limit"},
		{"/v1/users/u-1/notifications?limit=ten", "limit"},
		{"/v1/users/u-1/notifications?limit=1&limit=2", "limit"},
		{"/v1/users/u-1/notifications?page=2", "page"},
		{"/v1/users/bad%20user/notifications", "user_id"},
		{"/v1/users/-u/notifications", "user_id"},
	} {
		code, body := getNotifications(t, mux, tc.path)
		if code != http.StatusBadRequest || body.Error.Code != "invalid_parameter" || body.Error.Details["parameter"] != tc.param {
			t.Errorf("GET %s: %d %+v, want 400 invalid_parameter naming %s", tc.path, code, body.Error, tc.param)
		}
	}
}

// A view that has not caught up with its table is not read: the client
// is told to retry.
func TestNotificationsBeforeTheViewRecovers(t *testing.T) {
	view, err := goka.NewView(nil, notification.Table, notification.Codec{}, goka.WithViewTester(tester.New(t)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.NewNotifications(view).Mount(mux)
	if code, body := getNotifications(t, mux, "/v1/users/u-1/notifications"); code != http.StatusServiceUnavailable || body.Error.Code != "unavailable" {
		t.Errorf("%d %+v, want 503 unavailable", code, body.Error)
	}
}
