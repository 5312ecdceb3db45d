// Package membership is the Prime membership processor. It applies the
// commands of membership.commands (keyed by user_id; written by the REST
// edge and, for a trial started at checkout, by the order-taking outbox)
// exactly once each, by event id, to a table of one Membership per user,
// and emits what changed to membership.events: membership.trial_started,
// membership.converted and membership.canceled.
//
// Every rule decides on the command's event time (occurred_at, which the
// edge stamps from its clock), never on the processor's clock, so a replay
// decides the same and tests can move weeks in seconds. A trial lasts
// Rules.TrialDays; a user still in at its end has converted, without an
// event of its own (processors act on events, not on time), which is why a
// convert or cancel at or after trial_ends_at finds the trial converted.
//
// An illegal transition (a second trial, a convert without a trial or when
// already a member, a cancel without a trial or twice) is refused: the
// command is dead-lettered with the reason and the refusal is recorded in
// the table (Membership.Refused), so the REST edge, which waits for its
// command to show in the table, answers 409 instead of waiting. The API
// reads the table through a view (Table, Codec).
package membership

import (
	"fmt"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/sinks/analytics/cohort"
	"github.com/shopstream/shopstream/topics"
)

// Group is the processor's consumer group; its table is Table.
const Group goka.Group = "membership"

// Table is the membership table ("membership-table"), keyed by user_id, of
// Memberships.
var Table = goka.GroupTable(Group)

// Codec is the table's value codec: values are Memberships.
type Codec = processors.JSON[Membership]

// DefaultTrialDays is the length of a trial unless configured.
const DefaultTrialDays = 30

// RefusedConflict is the code of every refusal: an illegal transition.
const RefusedConflict = "membership_conflict"

// ThresholdCurrency is the currency of a trial without a purchase, whose
// spend is 0; the buckets' threshold is cohort.ThresholdCents.
const ThresholdCurrency = "USD"

// The analytics buckets of the spend at signup.
const (
	BucketOver100   = "over_100"
	Bucket100OrLess = "100_or_less"
)

// State is where a membership stands.
type State string

// The states. A stored Membership without a trial has the empty state,
// which StateAt reads as None.
const (
	None     State = "none"
	Trial    State = "trial"
	Member   State = "member"
	Canceled State = "canceled"
)

// Reasons the processor gives on membership.converted and
// membership.canceled.
const (
	ReasonConverted        = "converted during the trial"
	ReasonCanceledInTrial  = "canceled during the trial"
	ReasonCanceledAfterEnd = "canceled after the trial converted at its end"
	ReasonCanceledAsMember = "canceled as a full member"
)

// Membership is the table value: a user's Prime membership, with times
// that are the event times of the commands that set them.
type Membership struct {
	UserID string `json:"user_id"`
	// State is as last changed by a command: a trial past its end is still
	// "trial" here; StateAt reads it as of a time.
	State          State     `json:"state,omitempty"`
	TrialStartedAt time.Time `json:"trial_started_at"`
	TrialEndsAt    time.Time `json:"trial_ends_at"`
	TrialDays      int       `json:"trial_days,omitempty"`
	// SpendCents and Currency are the spend at signup: the order's total
	// for a trial started at checkout, else 0.
	SpendCents int64  `json:"spend_cents"`
	Currency   string `json:"currency,omitempty"`
	OrderID    string `json:"order_id,omitempty"`
	// ConvertedAt is when the user became a full member: an explicit
	// convert during the trial, or the trial's end when a cancel at or
	// after it found the trial converted. Zero otherwise.
	ConvertedAt time.Time `json:"converted_at"`
	CanceledAt  time.Time `json:"canceled_at"`
	// Version counts the applied changes (refusals excluded).
	Version int64 `json:"version"`
	// Refused are the last commands refused, for the edge waiting on one.
	Refused processors.Refusals `json:"refused,omitempty"`
	// Applied holds the ids of the commands decided, refused ones too.
	Applied processors.Applied `json:"applied"`
}

// StateAt is the membership's state as of t: a trial whose end is not
// after t has converted.
func (m Membership) StateAt(t time.Time) State {
	switch {
	case m.State == "":
		return None
	case m.State == Trial && !t.Before(m.TrialEndsAt):
		return Member
	}
	return m.State
}

// Conversion says, as of t, whether the trial converted: the user was
// still a member when the trial ended, as the analytics counts it
// (docs/analytics.md). A cancel before trial_ends_at means no, even after
// an explicit convert; a cancel at or after it still counts as converted.
// decided is false without a trial and while the trial runs (pending); at
// is when the conversion became certain (the trial's end).
func (m Membership) Conversion(t time.Time) (converted, decided bool, at time.Time) {
	switch {
	case m.State == "":
		return false, false, time.Time{}
	case !m.CanceledAt.IsZero() && m.CanceledAt.Before(m.TrialEndsAt):
		return false, true, time.Time{}
	case !t.Before(m.TrialEndsAt):
		return true, true, m.TrialEndsAt
	}
	return false, false, time.Time{}
}

// Bucket is the analytics bucket of a spend at signup, by the analytics'
// own rule (cohort.Over).
func Bucket(spendCents int64) string {
	if cohort.Over(spendCents) {
		return BucketOver100
	}
	return Bucket100OrLess
}

// Output is the event of the membership's last change: its type and data.
func (m Membership) Output() (typ string, data any) {
	switch m.State {
	case Trial:
		return topics.TypeMembershipTrialStarted, topics.MembershipTrialStarted{UserID: m.UserID, TrialEndsAt: m.TrialEndsAt,
			SpendCents: m.SpendCents, Currency: m.Currency, OrderID: m.OrderID, TrialPeriodDays: m.TrialDays}
	case Member:
		return topics.TypeMembershipConverted, topics.MembershipChanged{UserID: m.UserID, Reason: ReasonConverted}
	case Canceled:
		reason := ReasonCanceledInTrial
		switch {
		case m.ConvertedAt.Equal(m.TrialEndsAt):
			reason = ReasonCanceledAfterEnd
		case !m.ConvertedAt.IsZero():
			reason = ReasonCanceledAsMember
		}
		return topics.TypeMembershipCanceled, topics.MembershipChanged{UserID: m.UserID, Reason: reason}
	}
	return "", nil
}

// Rules are the membership rules with the trial length.
type Rules struct {
	// TrialDays is the length of a trial; below 1 it is DefaultTrialDays.
	TrialDays int
}

// DefaultRules are the rules with DefaultTrialDays.
var DefaultRules = Rules{TrialDays: DefaultTrialDays}

func (r Rules) trialDays() int {
	if r.TrialDays < 1 {
		return DefaultTrialDays
	}
	return r.TrialDays
}

// Apply decides one command on the user's membership (the zero Membership
// if there is none). A command decided before is skipped, unless it is the
// record whose output went out last, read again after a crash: its event,
// or its dead letter, goes out again under the same id. A command that is
// malformed (another type, a bad id, a user_id that is not the record key,
// a negative spend, an unknown currency) is rejected and the table keeps
// nothing of it. An illegal transition is refused: rejected, and recorded
// as the last rejection with its id applied.
func (r Rules) Apply(cur Membership, in processors.In, ev topics.Event) (Membership, processors.Verdict) {
	if cur.Applied.Has(in.ID) {
		return cur, again(cur, in)
	}
	userID, err := commandUser(ev)
	if err != nil {
		return cur, processors.Rejected("%v", err)
	}
	if userID != in.Key {
		return cur, processors.Rejected("record key %q is not the user_id %q: membership commands are keyed by user_id", in.Key, userID)
	}

	next, refusal := r.decide(cur, in.At, ev)
	next.UserID = in.Key
	next.Applied = cur.Applied.Add(in, true)
	if refusal != "" {
		r := processors.Refusal{EventID: in.ID, Type: ev.Type, Code: RefusedConflict, Reason: refusal}
		next.Refused = cur.Refused.Add(r)
		v := processors.Rejected("%s", r)
		v.Outcome = processors.Refuse
		return next, v
	}
	next.Version = cur.Version + 1
	typ, out := next.Output()
	v := processors.Changed(out)
	v.Type = typ
	return next, v
}

// decide applies a valid command at event time at, or says why the rules
// refuse it.
func (r Rules) decide(cur Membership, at time.Time, ev topics.Event) (Membership, string) {
	if reason := cur.Refusal(ev.Type, at); reason != "" {
		return cur, reason
	}
	next := cur
	switch ev.Type {
	case topics.TypeMembershipTrialRequested:
		d := ev.Data.(topics.MembershipTrialRequested)
		days := r.trialDays()
		next.State, next.TrialStartedAt, next.TrialDays = Trial, at, days
		next.TrialEndsAt = at.Add(time.Duration(days) * 24 * time.Hour)
		next.SpendCents, next.Currency, next.OrderID = d.SpendCents, d.Currency, d.OrderID
	case topics.TypeMembershipConvertRequested:
		next.State, next.ConvertedAt = Member, at
	case topics.TypeMembershipCancelRequested:
		if cur.StateAt(at) == Member && cur.State == Trial {
			// Still in at the trial's end: it converted then.
			next.ConvertedAt = cur.TrialEndsAt
		}
		next.State, next.CanceledAt = Canceled, at
	}
	return next, ""
}

// Refusal says why the rules refuse a command of type typ at event time at
// on the membership as it stands, or is "" if they accept it: a trial
// needs no membership before; a convert needs a running trial; a cancel
// needs a trial or a membership not yet canceled. The REST edge checks
// with it before it sends the command.
func (m Membership) Refusal(typ string, at time.Time) string {
	now := m.StateAt(at)
	switch typ {
	case topics.TypeMembershipTrialRequested:
		if now != None {
			return fmt.Sprintf("a trial already started at %s; the membership is %s", stamp(m.TrialStartedAt), now)
		}
	case topics.TypeMembershipConvertRequested:
		switch {
		case now == None:
			return "there is no trial to convert"
		case now == Member && m.State == Trial:
			return fmt.Sprintf("the trial already converted at its end, %s", stamp(m.TrialEndsAt))
		case now == Member:
			return fmt.Sprintf("already a full member since %s", stamp(m.ConvertedAt))
		case now == Canceled:
			return fmt.Sprintf("the membership was canceled at %s", stamp(m.CanceledAt))
		}
	case topics.TypeMembershipCancelRequested:
		switch now {
		case None:
			return "there is no trial or membership to cancel"
		case Canceled:
			return fmt.Sprintf("already canceled at %s", stamp(m.CanceledAt))
		}
	default:
		return fmt.Sprintf("%q is not a membership command", typ)
	}
	return ""
}

// again is the verdict on a command decided before (see
// processors.Again): the record whose output went out last emits it again,
// its event or, if it was refused, its dead letter; any other is skipped.
func again(cur Membership, in processors.In) processors.Verdict {
	if in.Pos != cur.Applied.Emitted {
		return processors.Verdict{Outcome: processors.Skip}
	}
	if r, ok := cur.Refused.Of(in.ID); ok {
		return processors.Rejected("%s", r)
	}
	typ, out := cur.Output()
	v := processors.Again(cur.Applied.Emitted, in, out)
	v.Type = typ
	return v
}

// commandUser returns the user a membership command is for, or why it is
// not a valid one.
func commandUser(ev topics.Event) (string, error) {
	switch d := ev.Data.(type) {
	case topics.MembershipTrialRequested:
		if ev.Type != topics.TypeMembershipTrialRequested {
			break
		}
		if err := (topics.Money{AmountCents: d.SpendCents, Currency: d.Currency}).Validate(); err != nil {
			return "", fmt.Errorf("invalid %s: spend: %w", ev.Type, err)
		}
		if d.OrderID != "" && !ingest.IsID(d.OrderID) {
			return "", fmt.Errorf("invalid %s: order_id %q is not an id", ev.Type, d.OrderID)
		}
		return checkUser(ev.Type, d.UserID)
	case topics.MembershipChanged:
		if ev.Type == topics.TypeMembershipConvertRequested || ev.Type == topics.TypeMembershipCancelRequested {
			return checkUser(ev.Type, d.UserID)
		}
	}
	return "", fmt.Errorf("event type %q does not belong on %s, which carries membership commands", ev.Type, topics.MembershipCommands)
}

func checkUser(typ, userID string) (string, error) {
	if !ingest.IsID(userID) {
		return "", fmt.Errorf("invalid %s: user_id %q is not an id", typ, userID)
	}
	return userID, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
