package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/sinks/analytics/cohort"
)

// The range of GET /v1/analytics/prime-cohorts.
const (
	// DefaultCohortWeeks is the range without from: the weeks up to to
	// (by default the current one).
	DefaultCohortWeeks = 12
	// MaxCohortWeeks bounds a range: ten years of weekly cohorts.
	MaxCohortWeeks = 520
)

// CohortReader is the part of the analytics store the cohort route reads;
// an analytics.Store is one.
type CohortReader interface {
	PrimeCohorts(ctx context.Context, from, to, now time.Time) ([]analytics.CohortWeek, error)
}

// Analytics serves the Prime trial cohorts (DESIGN, flow 7; the
// definitions and the statistics are in docs/analytics.md).
type Analytics struct {
	store CohortReader
	now   func() time.Time
	log   *slog.Logger
}

// AnalyticsOption configures Analytics.
type AnalyticsOption func(*Analytics)

// AnalyticsClock sets the clock that decides the default range and which
// trials are still pending (default time.Now).
func AnalyticsClock(now func() time.Time) AnalyticsOption {
	return func(a *Analytics) { a.now = now }
}

// AnalyticsLogger sets the logger for failures the client only sees as a
// 5xx.
func AnalyticsLogger(l *slog.Logger) AnalyticsOption {
	return func(a *Analytics) { a.log = l }
}

// NewAnalytics returns the analytics routes reading store.
func NewAnalytics(store CohortReader, opts ...AnalyticsOption) *Analytics {
	a := &Analytics{store: store, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Mount adds the routes to mux.
func (a *Analytics) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/analytics/prime-cohorts", a.primeCohorts)
}

// cohortsTimeout bounds the store's query: a stuck store is a 503.
const cohortsTimeout = 10 * time.Second

// The JSON body. The dashboard (api/dashboard) reads these names.
type cohortsResponse struct {
	From           string       `json:"from"`
	To             string       `json:"to"`
	GeneratedAt    string       `json:"generated_at"`
	ThresholdCents int64        `json:"threshold_cents"`
	Weeks          []cohortJSON `json:"weeks"`
}

type cohortJSON struct {
	Week    string     `json:"week"`
	Pending bool       `json:"pending"`
	Over100 bucketJSON `json:"over_100"`
	UpTo100 bucketJSON `json:"100_or_less"`
	// Null when undefined (cohort.Compare).
	Difference *float64    `json:"difference"`
	CI95       *[2]float64 `json:"ci95"`
	PValue     *float64    `json:"p_value"`
}

type bucketJSON struct {
	Trials    int64    `json:"trials"`
	Converted int64    `json:"converted"`
	Pending   int64    `json:"pending"`
	Rate      *float64 `json:"rate"`
}

// cohortsQuery is a checked query string.
type cohortsQuery struct {
	from, to time.Time // week starts
	csv      bool
}

func (a *Analytics) primeCohorts(w http.ResponseWriter, r *http.Request) {
	now := a.now().UTC()
	q, perr := parseCohortsQuery(r.URL.Query(), now)
	if perr != nil {
		rest.WriteError(w, a.log, perr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), cohortsTimeout)
	defer cancel()
	weeks, err := a.store.PrimeCohorts(ctx, q.from, q.to, now)
	if err != nil {
		a.log.Error("prime cohorts query failed", "from", q.from, "to", q.to, "err", err)
		rest.WriteError(w, a.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the analytics store did not answer; retry"))
		return
	}
	if q.csv {
		writeCohortsCSV(w, q, weeks)
		return
	}
	out := cohortsResponse{From: isoDate(q.from), To: isoDate(q.to), GeneratedAt: now.Format(time.RFC3339),
		ThresholdCents: cohort.ThresholdCents, Weeks: make([]cohortJSON, len(weeks))}
	for i, wk := range weeks {
		cmp := cohort.Compare(wk.Over100, wk.UpTo100)
		out.Weeks[i] = cohortJSON{Week: isoDate(wk.Week), Pending: wk.Over100.Pending+wk.UpTo100.Pending > 0,
			Over100: bucketOf(wk.Over100), UpTo100: bucketOf(wk.UpTo100),
			Difference: orNull(cmp.Difference), PValue: orNull(cmp.PValue)}
		if !math.IsNaN(cmp.Low) && !math.IsNaN(cmp.High) {
			out.Weeks[i].CI95 = &[2]float64{cmp.Low, cmp.High}
		}
	}
	rest.JSON(w, http.StatusOK, out)
}

// parseCohortsQuery reads from, to and format, refusing anything else. The
// range snaps to whole weeks, to's week included; without from it is the
// DefaultCohortWeeks weeks up to to, without to it ends with now's week.
func parseCohortsQuery(v url.Values, now time.Time) (cohortsQuery, *rest.Error) {
	for name, vals := range v {
		switch name {
		case "from", "to", "format":
		default:
			return cohortsQuery{}, badParam(name, "unknown; use from, to and format")
		}
		if len(vals) > 1 {
			return cohortsQuery{}, badParam(name, "given %d times", len(vals))
		}
	}
	q := cohortsQuery{to: cohort.Week(now)}
	switch f := v.Get("format"); f {
	case "", "json":
	case "csv":
		q.csv = true
	default:
		return q, badParam("format", "%q is not json or csv", f)
	}
	var perr *rest.Error
	if s := v.Get("to"); s != "" {
		if q.to, perr = weekParam("to", s); perr != nil {
			return q, perr
		}
	}
	q.from = q.to.AddDate(0, 0, -7*(DefaultCohortWeeks-1))
	if s := v.Get("from"); s != "" {
		if q.from, perr = weekParam("from", s); perr != nil {
			return q, perr
		}
	}
	if q.from.After(q.to) {
		return q, badParam("from", "the week of %s starts after the week of to, %s", isoDate(q.from), isoDate(q.to))
	}
	if n := int(q.to.Sub(q.from).Hours()/24/7) + 1; n > MaxCohortWeeks {
		return q, badParam("from", "the range from %s to %s spans %d weeks; at most %d", isoDate(q.from), isoDate(q.to), n, MaxCohortWeeks)
	}
	return q, nil
}

// weekParam parses a YYYY-MM-DD date a trial can start on and returns the
// start of its week.
func weekParam(name, s string) (time.Time, *rest.Error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, badParam(name, "%q is not a date YYYY-MM-DD", s)
	}
	if d.Year() < 1970 || d.Year() > 2105 {
		return time.Time{}, badParam(name, "%s is outside the years 1970 to 2105", s)
	}
	return cohort.Week(d), nil
}

func bucketOf(c cohort.Counts) bucketJSON {
	return bucketJSON{Trials: c.Trials, Converted: c.Converted, Pending: c.Pending, Rate: orNull(c.Rate())}
}

// orNull is v, or nil (JSON null) when v is NaN: undefined.
func orNull(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

func isoDate(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// writeCohortsCSV writes two rows per week, over_100 then 100_or_less, each
// with the week's comparison; an undefined value is an empty field.
func writeCohortsCSV(w http.ResponseWriter, q cohortsQuery, weeks []analytics.CohortWeek) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="prime-cohorts-%s-%s.csv"`, isoDate(q.from), isoDate(q.to)))
	out := csv.NewWriter(w)
	_ = out.Write([]string{"week", "bucket", "trials", "converted", "pending", "rate", "difference", "ci_low", "ci_high", "p_value"})
	field := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	count := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, wk := range weeks {
		cmp := cohort.Compare(wk.Over100, wk.UpTo100)
		for _, b := range []struct {
			name string
			c    cohort.Counts
		}{{"over_100", wk.Over100}, {"100_or_less", wk.UpTo100}} {
			_ = out.Write([]string{isoDate(wk.Week), b.name, count(b.c.Trials), count(b.c.Converted), count(b.c.Pending), field(b.c.Rate()),
				field(cmp.Difference), field(cmp.Low), field(cmp.High), field(cmp.PValue)})
		}
	}
	out.Flush()
}
