package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/shopstream/shopstream/api/ordertaking"
	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/processors/membership"
	"github.com/shopstream/shopstream/topics"
)

// CodeMembershipConflict is the 409 of an illegal membership transition: a
// second trial, a convert without a running trial, a cancel without a
// membership or twice. Checkout answers it too, for a prime_trial order by
// a user who already had a trial.
const CodeMembershipConflict = ordertaking.CodeMembershipConflict

// MembershipReader reads the membership processor's table (a goka view in
// production): a user's membership, the commands decided on it and the
// last one refused.
type MembershipReader interface {
	Membership(userID string) (membership.Membership, bool, error)
}

// Memberships serves the Prime membership routes. A write checks the
// command against the membership as the reader shows it (membership's own
// Refusal rule), produces it to membership.commands stamped with the
// clock's time and, once Kafka has acknowledged it, waits for the reader
// to show it decided: it answers with the membership, 409 if the processor
// refused it after all (a command that raced another), or 202 if it has
// not been decided within the catch-up bound. Reads show the membership as
// of the clock, so a trial past its end reads "member".
type Memberships struct {
	producer   *eventlog.Producer
	reader     MembershipReader
	clock      func() time.Time
	log        *slog.Logger
	ackTimeout time.Duration
	catchUp    time.Duration
}

// MembershipOption configures Memberships.
type MembershipOption func(*Memberships)

// MembershipClock sets where the routes take the time from (default
// time.Now): the event time of every command and the "as of" of every
// answer. Tests move it by weeks.
func MembershipClock(now func() time.Time) MembershipOption {
	return func(m *Memberships) { m.clock = now }
}

// MembershipLogger sets the logger for failures the client only sees as a
// 5xx.
func MembershipLogger(l *slog.Logger) MembershipOption {
	return func(m *Memberships) { m.log = l }
}

// MembershipCatchUp bounds how long a write waits for the reader to show
// the command decided (default 5s) before it answers 202.
func MembershipCatchUp(d time.Duration) MembershipOption {
	return func(m *Memberships) { m.catchUp = d }
}

// NewMemberships returns the membership routes producing through producer
// and reading memberships through reader.
func NewMemberships(producer *eventlog.Producer, reader MembershipReader, opts ...MembershipOption) *Memberships {
	m := &Memberships{producer: producer, reader: reader, clock: time.Now, log: slog.Default(),
		ackTimeout: 10 * time.Second, catchUp: 5 * time.Second}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Mount adds the routes to mux.
func (m *Memberships) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/users/{user_id}/membership", m.get)
	mux.HandleFunc("POST /v1/users/{user_id}/membership/trial", m.command(topics.TypeMembershipTrialRequested))
	mux.HandleFunc("POST /v1/users/{user_id}/membership/convert", m.command(topics.TypeMembershipConvertRequested))
	mux.HandleFunc("POST /v1/users/{user_id}/membership/cancel", m.command(topics.TypeMembershipCancelRequested))
}

func (m *Memberships) get(w http.ResponseWriter, r *http.Request) {
	user, ok := pathUser(w, r, m.log)
	if !ok {
		return
	}
	if cur, ok := m.read(w, user); ok {
		rest.JSON(w, http.StatusOK, m.status(cur, user))
	}
}

// command handles a POST that sends a command of type typ. The body is
// optional and, when sent, must be an empty JSON object: a trial from this
// route has no purchase.
func (m *Memberships) command(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, ok := pathUser(w, r, m.log)
		if !ok {
			return
		}
		if r.ContentLength != 0 {
			var none struct{}
			if err := rest.Decode(w, r, bodyLimit, &none); err != nil {
				rest.WriteError(w, m.log, err)
				return
			}
		}
		cur, ok := m.read(w, user)
		if !ok {
			return
		}
		at := m.clock().UTC()
		if reason := cur.Refusal(typ, at); reason != "" {
			rest.WriteError(w, m.log, m.conflict(cur, user, reason))
			return
		}
		var data any = topics.MembershipChanged{UserID: user}
		if typ == topics.TypeMembershipTrialRequested {
			data = topics.MembershipTrialRequested{UserID: user, Currency: membership.ThresholdCurrency}
		}
		ev, err := topics.New(typ, user, data, topics.At(at))
		if err != nil {
			rest.WriteError(w, m.log, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), m.ackTimeout)
		defer cancel()
		if err := m.producer.Publish(ctx, topics.MembershipCommands, ev); err != nil {
			m.log.Error("membership command not acknowledged", "type", typ, "user_id", user, "err", err)
			rest.WriteError(w, m.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the command was not acknowledged by Kafka; retry"))
			return
		}
		cur, ok = m.awaitDecided(r.Context(), user, ev.ID)
		refusal, refused := cur.Refused.Of(ev.ID)
		switch {
		case !ok:
			rest.JSON(w, http.StatusAccepted, pendingResponse{Status: "pending", EventID: ev.ID,
				Message: "the command is accepted and will be decided shortly; GET the membership to see it"})
		case refused:
			rest.WriteError(w, m.log, m.conflict(cur, user, refusal.Reason))
		default:
			rest.JSON(w, http.StatusOK, m.status(cur, user))
		}
	}
}

// awaitDecided reads the user's membership until it shows the command
// decided (applied or refused), for at most the catch-up bound and while
// the request lasts.
func (m *Memberships) awaitDecided(ctx context.Context, user, eventID string) (membership.Membership, bool) {
	ctx, cancel := context.WithTimeout(ctx, m.catchUp)
	defer cancel()
	tick := time.NewTicker(catchUpPoll)
	defer tick.Stop()
	for {
		// A read error (the view reconnecting) is retried like a lag.
		if cur, _, err := m.reader.Membership(user); err == nil && cur.Applied.Has(eventID) {
			return cur, true
		}
		select {
		case <-ctx.Done():
			return membership.Membership{}, false
		case <-tick.C:
		}
	}
}

// read reads a user's membership; a user without one has the zero
// Membership.
func (m *Memberships) read(w http.ResponseWriter, user string) (membership.Membership, bool) {
	cur, _, err := m.reader.Membership(user)
	if err != nil {
		m.log.Warn("membership not readable", "user_id", user, "err", err)
		rest.WriteError(w, m.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "memberships are not readable yet; retry"))
		return membership.Membership{}, false
	}
	return cur, true
}

// status is the user's membership as of the clock.
func (m *Memberships) status(cur membership.Membership, user string) membership.Status {
	s := cur.StatusAt(m.clock())
	s.UserID = user
	return s
}

// conflict is the 409 of a refused command, with the membership as it
// stands in the details.
func (m *Memberships) conflict(cur membership.Membership, user, reason string) *rest.Error {
	return rest.Errorf(http.StatusConflict, CodeMembershipConflict, "%s", reason).WithDetails(m.status(cur, user))
}
