package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors/notification"
)

// Limits of GET /v1/users/{user_id}/notifications.
const (
	DefaultNotificationsLimit = 20
	MaxNotificationsLimit     = notification.MaxKept
)

// NotificationReader reads the notification processor's table, keyed by
// user_id, whose values are notification.Inboxes. A *goka.View of
// notification.Table is one.
type NotificationReader interface {
	Recovered() bool
	Get(userID string) (any, error)
}

// Notifications serves a user's latest notifications.
type Notifications struct {
	reader NotificationReader
	log    *slog.Logger
}

// NotificationsOption configures Notifications.
type NotificationsOption func(*Notifications)

// NotificationsLogger sets the logger for failures the client only sees
// as a 5xx.
func NotificationsLogger(l *slog.Logger) NotificationsOption {
	return func(n *Notifications) { n.log = l }
}

// NewNotifications returns the notification routes reading through reader.
func NewNotifications(reader NotificationReader, opts ...NotificationsOption) *Notifications {
	n := &Notifications{reader: reader, log: slog.Default()}
	for _, o := range opts {
		o(n)
	}
	return n
}

// Mount adds the routes to mux.
func (n *Notifications) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/users/{user_id}/notifications", n.list)
}

type notificationsResponse struct {
	UserID string `json:"user_id"`
	// Notifications are newest first.
	Notifications []notification.Notification `json:"notifications"`
}

func (n *Notifications) list(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user_id")
	if !ingest.IsID(user) {
		rest.WriteError(w, n.log, badParam("user_id", "%q must be 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", user))
		return
	}
	limit, perr := notificationsLimit(r)
	if perr != nil {
		rest.WriteError(w, n.log, perr)
		return
	}
	if !n.reader.Recovered() {
		rest.WriteError(w, n.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "notifications are not readable yet; retry"))
		return
	}
	v, err := n.reader.Get(user)
	if err != nil {
		n.log.Error("notification table read failed", "user_id", user, "err", err)
		rest.WriteError(w, n.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "notifications are not readable; retry"))
		return
	}
	inbox, ok := v.(notification.Inbox)
	if v != nil && !ok {
		rest.WriteError(w, n.log, fmt.Errorf("api: the notification reader holds %T, not notification.Inbox", v))
		return
	}
	out := notificationsResponse{UserID: user, Notifications: inbox.Notifications[:min(limit, len(inbox.Notifications))]}
	if out.Notifications == nil {
		out.Notifications = []notification.Notification{}
	}
	rest.JSON(w, http.StatusOK, out)
}

// notificationsLimit is the limit parameter: a whole number of at least 1,
// DefaultNotificationsLimit when absent, at most MaxNotificationsLimit.
func notificationsLimit(r *http.Request) (int, *rest.Error) {
	v := r.URL.Query()
	for name := range v {
		if name != "limit" {
			return 0, badParam(name, "unknown; use limit")
		}
	}
	if len(v["limit"]) > 1 {
		return 0, badParam("limit", "given %d times", len(v["limit"]))
	}
	s := v.Get("limit")
	if s == "" {
		return DefaultNotificationsLimit, nil
	}
	limit, err := strconv.Atoi(s)
	if err != nil || limit < 1 {
		return 0, badParam("limit", "%q is not a whole number of at least 1", s)
	}
	return min(limit, MaxNotificationsLimit), nil
}
