// Package notification is the notification processor: it keeps each
// user's latest notifications (the notification.sent events the order
// processor writes to the notifications topic, keyed by user_id), newest
// first, each applied once by event id, in a table the API reads through a
// view (Table, Codec) for GET /v1/users/{user_id}/notifications. Bad
// records go to notifications.dlq with the reason. It emits nothing.
package notification

import (
	"fmt"
	"slices"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Group is the processor's consumer group; its table is Table.
const Group goka.Group = "notification"

// Table is the notification table ("notification-table"), keyed by
// user_id, of Inboxes.
var Table = goka.GroupTable(Group)

// Codec is the table's value codec: values are Inboxes.
type Codec = processors.JSON[Inbox]

// MaxKept is how many notifications an inbox keeps; older ones drop out.
const MaxKept = 100

// none is the output of a processor that emits nothing: Apply never
// returns Change or Reemit, so nothing is ever written to it.
var none processors.Output

// Graph is the notification processor; production runs it as Group, tests
// under names of their own.
func Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return goka.DefineGroup(group,
		processors.Input(rt, group, topics.Notifications, topics.TypeNotificationSent, none, Apply),
		processors.DeadLetters(topics.Notifications),
		goka.Persist(Codec{}),
	)
}

// Notification is one message to a user.
type Notification struct {
	// ID is the notification.sent event's id.
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	OrderID string `json:"order_id,omitempty"`
	Message string `json:"message"`
	// At is the event time.
	At time.Time `json:"at"`
}

// Inbox is the table value: a user's latest notifications.
type Inbox struct {
	UserID string `json:"user_id"`
	// Notifications holds at most MaxKept, newest (by event time) first.
	Notifications []Notification     `json:"notifications"`
	Applied       processors.Applied `json:"applied"`
}

// Apply adds one notification to the user's inbox (the zero Inbox if
// there is none), in event-time order, newest first, once by event id.
// Notifications about different orders come from different partitions of
// order.events and may arrive out of time order; among equal times the
// later arrival goes first. Beyond MaxKept the oldest drop out.
func Apply(cur Inbox, in processors.In, n topics.NotificationSent) (Inbox, processors.Verdict) {
	if cur.Applied.Has(in.ID) {
		return cur, processors.Verdict{Outcome: processors.Skip}
	}
	if errs := validate(n); len(errs) > 0 {
		return cur, processors.Invalid(topics.TypeNotificationSent, errs)
	}
	if n.UserID != in.Key {
		return cur, processors.Rejected("record key %q is not the user_id %q: notifications are keyed by user_id", in.Key, n.UserID)
	}
	at := slices.IndexFunc(cur.Notifications, func(o Notification) bool { return !o.At.After(in.At) })
	if at < 0 {
		at = len(cur.Notifications)
	}
	next := cur
	next.UserID = n.UserID
	// A fresh slice, so the caller's state is never written through.
	next.Notifications = slices.Insert(slices.Clone(cur.Notifications), at,
		Notification{ID: in.ID, Kind: n.Kind, OrderID: n.OrderID, Message: n.Message, At: in.At})
	next.Notifications = next.Notifications[:min(len(next.Notifications), MaxKept)]
	next.Applied = cur.Applied.Add(in, false)
	return next, processors.Stored()
}

func validate(n topics.NotificationSent) []ingest.FieldError {
	var errs []ingest.FieldError
	add := func(field, code, format string, args ...any) {
		errs = append(errs, ingest.FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if !ingest.IsID(n.UserID) {
		add("user_id", ingest.CodeInvalidFormat, "%q is not an id", n.UserID)
	}
	if n.OrderID != "" && !ingest.IsID(n.OrderID) {
		add("order_id", ingest.CodeInvalidFormat, "%q is not an id", n.OrderID)
	}
	if n.Kind == "" {
		add("kind", ingest.CodeRequired, "is required")
	}
	if n.Message == "" {
		add("message", ingest.CodeRequired, "is required")
	}
	return errs
}
