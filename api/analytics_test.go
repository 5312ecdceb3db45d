package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/api"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/topics"
)

// Production reads the analytics store.
var _ api.CohortReader = analytics.Store(nil)

// The clock of these tests: Tuesday 2026-03-31 12:00 UTC.
var cohortNow = time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)

// cohortStore is a real embedded analytics store holding three weeks:
//   - 2026-01-05: over $100 45 of 100 converted, $100 or less 30 of 100;
//   - 2026-02-02: only $100 or less, 1 of 3;
//   - 2026-03-30: over $100 2 trials still running, $100 or less 1 of 1.
func cohortStore(t *testing.T) analytics.Store {
	t.Helper()
	ctx := context.Background()
	s, err := analytics.Open(ctx, config.AnalyticsStore{Driver: "sqlite"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var evs []analytics.Event
	n := 0
	add := func(week time.Time, trials, converted int, spend int64, days int) {
		for i := range trials {
			n++
			user, start := fmt.Sprintf("u-%d", n), week.Add(time.Duration(n)*time.Minute)
			evs = append(evs, analytics.Event{ID: fmt.Sprintf("t-%d", n), Type: topics.TypeMembershipTrialStarted, UserID: user,
				OccurredAt: start, AmountCents: spend, Currency: "USD", TrialEndsAt: start.AddDate(0, 0, days)})
			if i >= converted {
				evs = append(evs, analytics.Event{ID: fmt.Sprintf("c-%d", n), Type: topics.TypeMembershipCanceled, UserID: user, OccurredAt: start.Add(time.Hour)})
			}
		}
	}
	add(day("2026-01-05"), 100, 45, 20000, 30)
	add(day("2026-01-05"), 100, 30, 10000, 30)
	add(day("2026-02-02"), 3, 1, 0, 30)
	add(day("2026-03-30"), 2, 2, 10001, 30)
	add(day("2026-03-30"), 1, 1, 500, 1)
	if err := s.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return s
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func cohortsMux(s api.CohortReader) *http.ServeMux {
	mux := http.NewServeMux()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	api.NewAnalytics(s, api.AnalyticsClock(func() time.Time { return cohortNow }), api.AnalyticsLogger(quiet)).Mount(mux)
	return mux
}

func getCohorts(t *testing.T, mux *http.ServeMux, query string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/analytics/prime-cohorts"+query, nil))
	return rec
}

// The expected statistics of 45/100 against 30/100, computed apart from
// this code (Python, statistics.NormalDist).
const (
	wantDiff = 0.15
	wantLow  = 0.017430493307564854
	wantHigh = 0.2825695066924352
	wantP    = 0.02845973691631043
)

func TestPrimeCohortsJSON(t *testing.T) {
	rec := getCohorts(t, cohortsMux(cohortStore(t)), "?from=2026-01-07&to=2026-04-05")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("status %d %s: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	// The names, exactly, with nulls where a value is undefined.
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	keys := func(m any) []string {
		var ks []string
		for k := range m.(map[string]any) {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if got := keys(raw); !reflect.DeepEqual(got, []string{"from", "generated_at", "threshold_cents", "to", "weeks"}) {
		t.Errorf("top-level keys %v", got)
	}
	weeks := raw["weeks"].([]any)
	if len(weeks) != 3 {
		t.Fatalf("%d weeks, want 3: %s", len(weeks), rec.Body)
	}
	for _, w := range weeks {
		if got := keys(w); !reflect.DeepEqual(got, []string{"100_or_less", "ci95", "difference", "over_100", "p_value", "pending", "week"}) {
			t.Errorf("week keys %v", got)
		}
		if got := keys(w.(map[string]any)["over_100"]); !reflect.DeepEqual(got, []string{"converted", "pending", "rate", "trials"}) {
			t.Errorf("bucket keys %v", got)
		}
	}
	if feb := weeks[1].(map[string]any); feb["difference"] != nil || feb["ci95"] != nil || feb["p_value"] != nil ||
		feb["over_100"].(map[string]any)["rate"] != nil {
		t.Errorf("a week without over-$100 trials: %v", feb)
	}

	var got struct {
		From, To       string
		GeneratedAt    string `json:"generated_at"`
		ThresholdCents int64  `json:"threshold_cents"`
		Weeks          []struct {
			Week       string
			Pending    bool
			Over       bucketAnswer `json:"over_100"`
			Under      bucketAnswer `json:"100_or_less"`
			Difference *float64
			CI95       *[2]float64
			PValue     *float64 `json:"p_value"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.From != "2026-01-05" || got.To != "2026-03-30" || got.GeneratedAt != "2026-03-31T12:00:00Z" || got.ThresholdCents != 10000 {
		t.Errorf("from %s to %s generated_at %s threshold %d", got.From, got.To, got.GeneratedAt, got.ThresholdCents)
	}
	jan, feb, mar := got.Weeks[0], got.Weeks[1], got.Weeks[2]
	if jan.Week != "2026-01-05" || jan.Pending || !jan.Over.is(100, 45, 0, 0.45) || !jan.Under.is(100, 30, 0, 0.3) {
		t.Errorf("week of 2026-01-05: %+v", jan)
	}
	if jan.Difference == nil || jan.CI95 == nil || jan.PValue == nil ||
		!near(*jan.Difference, wantDiff) || !near(jan.CI95[0], wantLow) || !near(jan.CI95[1], wantHigh) || !near(*jan.PValue, wantP) {
		t.Errorf("week of 2026-01-05: difference %v, ci95 %v, p %v; want %v, [%v %v], %v", jan.Difference, jan.CI95, jan.PValue, wantDiff, wantLow, wantHigh, wantP)
	}
	if feb.Week != "2026-02-02" || !feb.Under.is(3, 1, 0, 1.0/3) || !feb.Over.is(0, 0, 0, null) {
		t.Errorf("week of 2026-02-02: %+v", feb)
	}
	// Two over-$100 trials still run: the week is pending, and nothing
	// compares with a bucket whose trials all run.
	if mar.Week != "2026-03-30" || !mar.Pending || !mar.Over.is(2, 0, 2, null) || !mar.Under.is(1, 1, 0, 1) ||
		mar.Difference != nil || mar.CI95 != nil || mar.PValue != nil {
		t.Errorf("week of 2026-03-30: %+v", mar)
	}
}

type bucketAnswer struct {
	Trials, Converted, Pending int64
	Rate                       *float64
}

// null stands for a null rate in is.
const null = -1.0

func (b bucketAnswer) is(trials, converted, pending int64, rate float64) bool {
	if b.Trials != trials || b.Converted != converted || b.Pending != pending {
		return false
	}
	if b.Rate == nil {
		return rate == null
	}
	return near(*b.Rate, rate)
}

func (b bucketAnswer) String() string {
	rate := "null"
	if b.Rate != nil {
		rate = fmt.Sprint(*b.Rate)
	}
	return fmt.Sprintf("{trials %d converted %d pending %d rate %s}", b.Trials, b.Converted, b.Pending, rate)
}

func near(got, want float64) bool { return math.Abs(got-want) <= 1e-12*math.Max(1, math.Abs(want)) }

func TestPrimeCohortsDefaultsToTwelveWeeksEndingWithNow(t *testing.T) {
	rec := getCohorts(t, cohortsMux(cohortStore(t)), "")
	var got struct {
		From, To string
		Weeks    []struct{ Week string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	// Tuesday 2026-03-31 is in the week of 2026-03-30; twelve weeks back
	// leaves out the week of 2026-01-05.
	if got.From != "2026-01-12" || got.To != "2026-03-30" || len(got.Weeks) != 2 || got.Weeks[0].Week != "2026-02-02" {
		t.Errorf("default range %s to %s, weeks %v", got.From, got.To, got.Weeks)
	}
	rec = getCohorts(t, cohortsMux(cohortStore(t)), "?to=2026-02-08")
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.From != "2025-11-17" || got.To != "2026-02-02" || len(got.Weeks) != 2 {
		t.Errorf("twelve weeks to 2026-02-08: %s to %s, weeks %v, %v", got.From, got.To, got.Weeks, err)
	}
}

func TestPrimeCohortsCSV(t *testing.T) {
	rec := getCohorts(t, cohortsMux(cohortStore(t)), "?from=2026-01-05&to=2026-03-30&format=csv")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
		rec.Header().Get("Content-Disposition") != `attachment; filename="prime-cohorts-2026-01-05-2026-03-30.csv"` {
		t.Fatalf("status %d, headers %v: %s", rec.Code, rec.Header(), rec.Body)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"week", "bucket", "trials", "converted", "pending", "rate", "difference", "ci_low", "ci_high", "p_value"},
		{"2026-01-05", "over_100", "100", "45", "0", "0.45", "~0.15", "~" + fmt.Sprint(wantLow), "~" + fmt.Sprint(wantHigh), "~" + fmt.Sprint(wantP)},
		{"2026-01-05", "100_or_less", "100", "30", "0", "0.3", "~0.15", "~" + fmt.Sprint(wantLow), "~" + fmt.Sprint(wantHigh), "~" + fmt.Sprint(wantP)},
		{"2026-02-02", "over_100", "0", "0", "0", "", "", "", "", ""},
		{"2026-02-02", "100_or_less", "3", "1", "0", "0.3333333333333333", "", "", "", ""},
		{"2026-03-30", "over_100", "2", "0", "2", "", "", "", "", ""},
		{"2026-03-30", "100_or_less", "1", "1", "0", "1", "", "", "", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%v", len(rows), len(want), rows)
	}
	for i := range want {
		for j := range want[i] {
			w, g := want[i][j], rows[i][j]
			if strings.HasPrefix(w, "~") {
				wv, _ := strconv.ParseFloat(w[1:], 64)
				gv, err := strconv.ParseFloat(g, 64)
				if err != nil || !near(gv, wv) {
					t.Errorf("row %d field %s = %q, want about %v", i, want[0][j], g, wv)
				}
			} else if g != w {
				t.Errorf("row %d field %s = %q, want %q", i, want[0][j], g, w)
			}
		}
	}
}

func TestPrimeCohortsRefusesBadParametersNamingThem(t *testing.T) {
	mux := cohortsMux(cohortStore(t))
	for query, param := range map[string]string{
		"?from=2026-1-5":                    "from",
		"?from=yesterday":                   "from",
		"?to=2026-13-01":                    "to",
		"?to=1969-12-31":                    "to",
		"?format=xml":                       "format",
		"?week=2026-01-05":                  "week",
		"?from=2026-01-05&from=2026-01-12":  "from",
		"?from=2026-03-02&to=2026-02-08":    "from",
		"?from=2016-04-11&to=2026-03-30":    "from",
		"?format=csv&to=2026-03-30&from=2x": "from",
	} {
		rec := getCohorts(t, mux, query)
		var body struct {
			Error struct {
				Code    string
				Message string
				Details map[string]string
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusBadRequest ||
			body.Error.Code != "invalid_parameter" || body.Error.Details["parameter"] != param || !strings.Contains(body.Error.Message, param) {
			t.Errorf("%s: %d %s; want 400 invalid_parameter naming %s", query, rec.Code, rec.Body, param)
		}
	}
	// 520 weeks is the most; the case above asks 521.
	if rec := getCohorts(t, mux, "?from=2016-04-18&to=2026-03-30"); rec.Code != http.StatusOK {
		t.Errorf("520 weeks: %d %s", rec.Code, rec.Body)
	}
}

func TestPrimeCohortsStoreDownIs503(t *testing.T) {
	s := cohortStore(t)
	mux := cohortsMux(s)
	s.Close()
	rec := getCohorts(t, mux, "")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"code":"unavailable"`) {
		t.Errorf("closed store: %d %s", rec.Code, rec.Body)
	}
}
