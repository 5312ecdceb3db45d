package membership

import (
	"time"

	"github.com/shopstream/shopstream/sinks/analytics/cohort"
)

// Status is a membership as it stands at a time, with its analytics
// cohort and bucket: what the REST edge shows. Fields that do not apply
// yet are null.
type Status struct {
	UserID string `json:"user_id"`
	State  State  `json:"state"`
	// AsOf is the time the status is taken at.
	AsOf           time.Time  `json:"as_of"`
	TrialStartedAt *time.Time `json:"trial_started_at"`
	TrialEndsAt    *time.Time `json:"trial_ends_at"`
	TrialDays      int        `json:"trial_period_days,omitempty"`
	SpendCents     int64      `json:"spend_cents"`
	Currency       string     `json:"currency,omitempty"`
	OrderID        string     `json:"order_id,omitempty"`
	// CohortWeek is the Monday (UTC) starting the trial's ISO week.
	CohortWeek *string `json:"cohort_week"`
	Bucket     *string `json:"bucket"`
	// Converted is null while the trial runs and without a trial.
	Converted   *bool      `json:"converted"`
	ConvertedAt *time.Time `json:"converted_at"`
	CanceledAt  *time.Time `json:"canceled_at"`
	Version     int64      `json:"version"`
}

// StatusAt is the membership's status as of t.
func (m Membership) StatusAt(t time.Time) Status {
	s := Status{UserID: m.UserID, State: m.StateAt(t), AsOf: t.UTC(), Version: m.Version}
	if m.State == "" {
		return s
	}
	week, bucket := cohort.Week(m.TrialStartedAt).Format(time.DateOnly), Bucket(m.SpendCents)
	s.TrialStartedAt, s.TrialEndsAt, s.TrialDays = at(m.TrialStartedAt), at(m.TrialEndsAt), m.TrialDays
	s.SpendCents, s.Currency, s.OrderID = m.SpendCents, m.Currency, m.OrderID
	s.CohortWeek, s.Bucket = &week, &bucket
	if converted, decided, when := m.Conversion(t); decided {
		s.Converted, s.ConvertedAt = &converted, at(when)
	}
	s.CanceledAt = at(m.CanceledAt)
	return s
}

// at is t, or nil for the zero time.
func at(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
