package api_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopstream/shopstream/api"
	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/sinks/analytics/cohort"
)

// ------------------------------------------------- the page, without a browser

var dashboardFiles = []struct{ path, contentType string }{
	{"/dashboard/prime", "text/html; charset=utf-8"},
	{"/dashboard/prime.css", "text/css; charset=utf-8"},
	{"/dashboard/prime.js", "text/javascript; charset=utf-8"},
	{"/dashboard/prime.svg", "image/svg+xml"},
}

func dashboardMux() *http.ServeMux {
	mux := http.NewServeMux()
	api.NewDashboard().Mount(mux)
	return mux
}

func dashboardGet(t *testing.T, h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestDashboardServesItsFilesUnderAStrictCSP(t *testing.T) {
	if !strings.Contains(api.DashboardCSP, "default-src 'self'") || strings.Contains(api.DashboardCSP, "unsafe") ||
		strings.Contains(api.DashboardCSP, "*") || strings.Contains(api.DashboardCSP, "http") {
		t.Fatalf("DashboardCSP %q: want default-src 'self' and nothing looser", api.DashboardCSP)
	}
	mux := dashboardMux()
	for _, f := range dashboardFiles {
		rec := dashboardGet(t, mux, http.MethodGet, f.path, nil)
		h := rec.Result().Header
		if rec.Code != http.StatusOK || h.Get("Content-Type") != f.contentType || rec.Body.Len() == 0 {
			t.Fatalf("GET %s: %d %q, %d bytes; want 200 %s", f.path, rec.Code, h.Get("Content-Type"), rec.Body.Len(), f.contentType)
		}
		if h.Get("Content-Security-Policy") != api.DashboardCSP || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: CSP %q, X-Content-Type-Options %q", f.path, h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"))
		}
		etag := h.Get("ETag")
		if again := dashboardGet(t, mux, http.MethodGet, f.path, http.Header{"If-None-Match": {etag}}); etag == "" || again.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s: %d, want 304", f.path, etag, again.Code)
		}
		if head := dashboardGet(t, mux, http.MethodHead, f.path, nil); head.Code != http.StatusOK || head.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d with %d bytes", f.path, head.Code, head.Body.Len())
		}
		if post := dashboardGet(t, mux, http.MethodPost, f.path, nil); post.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", f.path, post.Code)
		}
	}
}

// svgNamespace is the one absolute URL the files hold: the name of the SVG
// elements' namespace, which no browser fetches.
const svgNamespace = "http://www.w3.org/2000/svg"

var (
	absoluteURL   = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>)]*`)
	pageReference = regexp.MustCompile(`(?i)\b(?:src|href|action)="([^"]*)"`)
)

// The page references nothing outside its origin, and every relative
// reference resolves to a route of the dashboard or of the cohorts API.
func TestDashboardReferencesOnlyItsOwnOrigin(t *testing.T) {
	mux := dashboardMux()
	for _, f := range dashboardFiles {
		body := dashboardGet(t, mux, http.MethodGet, f.path, nil).Body.String()
		for _, u := range absoluteURL.FindAllString(body, -1) {
			if u != svgNamespace {
				t.Errorf("%s holds the absolute URL %s; use a same-origin relative one", f.path, u)
			}
		}
		if strings.Contains(body, "url(") || strings.Contains(body, "@import") {
			t.Errorf("%s loads CSS resources (url() or @import)", f.path)
		}
	}
	page := dashboardGet(t, mux, http.MethodGet, "/dashboard/prime", nil).Body.String()
	if strings.Contains(page, "<style") || strings.Contains(page, " style=") || regexp.MustCompile(`<script[^>]*>[^<]`).MatchString(page) {
		t.Error("the page has inline style or script, which its CSP refuses")
	}
	base, _ := url.Parse("http://shop.example/dashboard/prime")
	refs := pageReference.FindAllStringSubmatch(page, -1)
	if len(refs) < 4 {
		t.Fatalf("found %d references in the page, expected the icon, the stylesheet, the script and the CSV link", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if ref == "" || strings.HasPrefix(ref, "#") {
			continue // the form submits to the page itself; in-page anchors
		}
		u, err := base.Parse(ref)
		if err != nil || u.Host != base.Host || strings.HasPrefix(ref, "//") {
			t.Errorf("reference %q leaves the origin", ref)
			continue
		}
		if u.Path == "/v1/analytics/prime-cohorts" {
			if u.Query().Get("format") != "csv" {
				t.Errorf("the CSV link %q does not ask for format=csv", ref)
			}
			continue
		}
		if rec := dashboardGet(t, mux, http.MethodGet, u.Path, nil); rec.Code != http.StatusOK {
			t.Errorf("reference %q resolves to %s, which answers %d", ref, u.Path, rec.Code)
		}
	}
}

// ------------------------------------------------------------- the cohorts

// dashBucket and dashWeek are GET /v1/analytics/prime-cohorts's JSON.
type dashBucket struct {
	Trials    int64    `json:"trials"`
	Converted int64    `json:"converted"`
	Pending   int64    `json:"pending"`
	Rate      *float64 `json:"rate"`
}

type dashWeek struct {
	Week       string      `json:"week"`
	Pending    bool        `json:"pending"`
	Over100    dashBucket  `json:"over_100"`
	AtMost100  dashBucket  `json:"100_or_less"`
	Difference *float64    `json:"difference"`
	CI95       *[2]float64 `json:"ci95"`
	PValue     *float64    `json:"p_value"`
}

type dashReport struct {
	From           string     `json:"from"`
	To             string     `json:"to"`
	GeneratedAt    time.Time  `json:"generated_at"`
	ThresholdCents int64      `json:"threshold_cents"`
	Weeks          []dashWeek `json:"weeks"`
}

// fixtureBucket is a bucket's JSON from its counts: its rate over its
// ended trials (null without any), as package cohort computes it.
func fixtureBucket(c cohort.Counts) dashBucket {
	return dashBucket{Trials: c.Trials, Converted: c.Converted, Pending: c.Pending, Rate: finite(c.Rate())}
}

// fixtureWeek is a week's JSON: the buckets, the difference of their
// rates, its 95% interval and p-value (cohort.Compare; null when not
// computable).
func fixtureWeek(week string, over, upTo cohort.Counts) dashWeek {
	c := cohort.Compare(over, upTo)
	w := dashWeek{Week: week, Pending: over.Pending+upTo.Pending > 0, Over100: fixtureBucket(over), AtMost100: fixtureBucket(upTo),
		Difference: finite(c.Difference), PValue: finite(c.PValue)}
	if lo, hi := finite(c.Low), finite(c.High); lo != nil && hi != nil {
		w.CI95 = &[2]float64{*lo, *hi}
	}
	return w
}

// finite is v, or nil (JSON null) when it is not a number.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// fixtureWeeks are thirteen Monday cohorts from 2026-01-05, computed from
// trial counts: 2026-02-09 has no trial over $100 (every derived number
// null), 2026-02-23 is missing (no trials at all), and the last three are
// still in trial.
func fixtureWeeks() []dashWeek {
	var weeks []dashWeek
	first := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := range 13 {
		day := first.AddDate(0, 0, 7*i)
		if day.Format(time.DateOnly) == "2026-02-23" {
			continue
		}
		over := cohort.Counts{Trials: int64(90 + 13*i), Converted: int64(41 + 9*i)}
		upTo := cohort.Counts{Trials: int64(310 + 17*i), Converted: int64(87 + 3*i)}
		if i >= 10 {
			over.Pending, upTo.Pending = int64(5*(i-9)), int64(20*(i-9))
		}
		if day.Format(time.DateOnly) == "2026-02-09" {
			over = cohort.Counts{}
		}
		weeks = append(weeks, fixtureWeek(day.Format(time.DateOnly), over, upTo))
	}
	return weeks
}

// dashCohortsAPI answers GET /v1/analytics/prime-cohorts from weeks, in the
// endpoint's JSON shape: the weeks within from..to (both optional
// YYYY-MM-DD), a 400 in api/rest's error body for a bad date. It records
// the query of every request.
//
// It stands in for the real handler (api/analytics.go, in progress) until
// that lands; then this test mounts the real one on an analytics store
// holding the same cohorts.
type dashCohortsAPI struct {
	weeks []dashWeek
	mu    sync.Mutex
	asked []url.Values
}

func (c *dashCohortsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c.mu.Lock()
	c.asked = append(c.asked, q)
	c.mu.Unlock()
	rep := dashReport{From: c.weeks[0].Week, To: c.weeks[len(c.weeks)-1].Week,
		GeneratedAt: time.Date(2026, 4, 2, 9, 30, 0, 0, time.UTC), ThresholdCents: 10000, Weeks: []dashWeek{}}
	for _, p := range []struct {
		name string
		v    *string
	}{{"from", &rep.From}, {"to", &rep.To}} {
		if s := q.Get(p.name); s != "" {
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				rest.WriteError(w, nil, rest.Errorf(http.StatusBadRequest, rest.CodeInvalidParameter, "%s %q is not a date (YYYY-MM-DD)", p.name, s))
				return
			}
			*p.v = s
		}
	}
	for _, wk := range c.weeks {
		if wk.Week >= rep.From && wk.Week <= rep.To {
			rep.Weeks = append(rep.Weeks, wk)
		}
	}
	rest.JSON(w, http.StatusOK, rep)
}

func (c *dashCohortsAPI) queries() []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]url.Values(nil), c.asked...)
}

// ------------------------------------------------------ what the page shows

// The page's number formats, for the expected table text.
func pageCount(v int64) string {
	s := strconv.FormatInt(v, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func pagePercent(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

func pageSigned(v float64) string {
	s := strconv.FormatFloat(math.Abs(v)*100, 'f', 1, 64)
	switch {
	case s == "0.0":
		return s
	case v < 0:
		return "\u2212" + s
	}
	return "+" + s
}

func pagePoints(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return pageSigned(*v)
}

func pageInterval(ci *[2]float64) string {
	if ci == nil {
		return "n/a"
	}
	return pageSigned(ci[0]) + " to " + pageSigned(ci[1])
}

func pagePValue(v *float64) string {
	switch {
	case v == nil:
		return "n/a"
	case *v < 0.0001:
		return "< 0.0001"
	}
	return strconv.FormatFloat(*v, 'f', 4, 64)
}

// shownCell is one table cell as rendered: its text and the raw JSON value
// the page drew it from.
type shownCell struct {
	Text  string `json:"text"`
	Value string `json:"value"`
}

type shownRow struct {
	Week  string               `json:"week"`
	Class string               `json:"class"`
	Cells map[string]shownCell `json:"cells"`
}

// shownPage is what the rendered DOM holds, read in the page.
type shownPage struct {
	State, Status, Meta, CSV, From, To string
	Hidden                             map[string]bool
	Rows                               []shownRow
	Over, Under, Bands, CIs, Diffs, NA []string // data-week of each chart element
	Paths                              int
	BadGeometry                        []string
	ChartWidth                         float64
}

const readPage = `(() => {
  const weeks = (sel) => [...document.querySelectorAll(sel)].map(e => e.getAttribute("data-week") || e.parentNode.getAttribute("data-week"));
  const bad = [];
  for (const e of document.querySelectorAll("svg.chart *")) {
    for (const a of ["x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height", "d"]) {
      const v = e.getAttribute(a);
      if (v !== null && /NaN|Infinity|undefined/.test(v)) bad.push(e.tagName + " " + a + "=" + v);
    }
  }
  return JSON.stringify({
    State: document.body.dataset.state,
    Status: document.getElementById("status").textContent,
    Meta: document.getElementById("meta").textContent,
    CSV: document.getElementById("csv").href,
    From: document.getElementById("from").value,
    To: document.getElementById("to").value,
    Hidden: Object.fromEntries(["rates", "difference", "numbers", "meta"].map(id => [id, document.getElementById(id).hidden])),
    Rows: [...document.querySelectorAll("#cohorts tbody tr")].map(tr => ({
      week: tr.dataset.week, class: tr.className,
      cells: Object.fromEntries([...tr.cells].map(c => [c.dataset.field, {text: c.textContent, value: c.dataset.value}])),
    })),
    Over: weeks("#rate-chart circle.dot.over"),
    Under: weeks("#rate-chart rect.dot.under"),
    Bands: weeks("#rate-chart rect.pending-band"),
    CIs: weeks("#difference-chart line.ci:not(.cap)"),
    Diffs: weeks("#difference-chart circle.diff"),
    NA: weeks("#difference-chart text.no-data"),
    Paths: document.querySelectorAll("#rate-chart path.line").length,
    BadGeometry: bad,
    ChartWidth: document.getElementById("rate-chart").getBoundingClientRect().width,
  });
})()`

// checkTableRows compares the table with the weeks it should show, cell by cell.
func checkTableRows(t *testing.T, rows []shownRow, weeks []dashWeek) {
	t.Helper()
	if len(rows) != len(weeks) {
		t.Fatalf("the table has %d rows, want one per week: %d", len(rows), len(weeks))
	}
	for i, w := range weeks {
		row := rows[i]
		if row.Week != w.Week {
			t.Errorf("row %d is week %s, want %s", i, row.Week, w.Week)
			continue
		}
		raw := func(v any) string { b, _ := json.Marshal(v); return string(b) }
		status := map[bool]string{true: "Pending", false: "Final"}[w.Pending]
		want := map[string]shownCell{
			"week":       {w.Week, raw(w.Week)},
			"pending":    {status, raw(w.Pending)},
			"difference": {pagePoints(w.Difference), raw(w.Difference)},
			"ci95":       {pageInterval(w.CI95), raw(w.CI95)},
			"p_value":    {pagePValue(w.PValue), raw(w.PValue)},
		}
		for key, b := range map[string]dashBucket{"over_100": w.Over100, "100_or_less": w.AtMost100} {
			want[key+".trials"] = shownCell{pageCount(b.Trials), raw(b.Trials)}
			want[key+".converted"] = shownCell{pageCount(b.Converted), raw(b.Converted)}
			want[key+".pending"] = shownCell{pageCount(b.Pending), raw(b.Pending)}
			want[key+".rate"] = shownCell{pagePercent(b.Rate), raw(b.Rate)}
		}
		if len(row.Cells) != len(want) {
			t.Errorf("week %s: %d cells %v, want %d", w.Week, len(row.Cells), row.Cells, len(want))
		}
		for field, c := range want {
			got, ok := row.Cells[field]
			if !ok {
				t.Errorf("week %s: no %s cell", w.Week, field)
				continue
			}
			if got.Text != c.Text {
				t.Errorf("week %s %s shows %q, want %q", w.Week, field, got.Text, c.Text)
			}
			if !sameJSON(got.Value, c.Value) {
				t.Errorf("week %s %s drawn from %s, want %s", w.Week, field, got.Value, c.Value)
			}
		}
		if (row.Class == "pending") != w.Pending {
			t.Errorf("week %s row class %q, pending %v", w.Week, row.Class, w.Pending)
		}
	}
}

// sameJSON compares two JSON values as values: JavaScript and Go may spell
// one float differently (1e-7 and 1e-07).
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func weeksWhere(weeks []dashWeek, keep func(dashWeek) bool) []string {
	out := []string{}
	for _, w := range weeks {
		if keep(w) {
			out = append(out, w.Week)
		}
	}
	return out
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s drawn for weeks %v, want %v", what, got, want)
	}
}

// ------------------------------------------------------------ in Chromium

// dashboardServer serves the dashboard and the cohorts on one origin, as
// the API does.
func dashboardServer(t *testing.T) (*httptest.Server, *dashCohortsAPI) {
	t.Helper()
	cohorts := &dashCohortsAPI{weeks: fixtureWeeks()}
	mux := dashboardMux()
	mux.Handle("GET /v1/analytics/prime-cohorts", cohorts)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, cohorts
}

func TestDashboardRendersCohortsInChromium(t *testing.T) {
	b := startChromium(t)
	srv, cohorts := dashboardServer(t)
	all := cohorts.weeks
	origin, _ := url.Parse(srv.URL)

	t.Run("weeks", func(t *testing.T) {
		v := b.visit(t, srv.URL+"/dashboard/prime?from=2026-01-05&to=2026-03-30")
		v.sameOriginOnly(t, origin)
		if v.logErrors != nil {
			t.Errorf("the browser logged errors: %v", v.logErrors)
		}
		var p shownPage
		b.eval(t, readPage, &p)
		if p.State != "ready" {
			t.Fatalf("state %q: %s", p.State, p.Status)
		}
		if want := "12 weekly cohorts, 3 still in trial (pending)."; p.Status != want {
			t.Errorf("status %q, want %q", p.Status, want)
		}
		if !strings.Contains(p.Meta, "2026-01-05 to 2026-03-30") || !strings.Contains(p.Meta, "$100.00") || !strings.Contains(p.Meta, "2026-04-02T09:30:00Z") {
			t.Errorf("meta line %q lacks the range, threshold or computation time", p.Meta)
		}
		for id, hidden := range p.Hidden {
			if hidden {
				t.Errorf("#%s is hidden", id)
			}
		}
		if p.From != "2026-01-05" || p.To != "2026-03-30" {
			t.Errorf("range inputs show %s..%s", p.From, p.To)
		}
		if want := srv.URL + "/v1/analytics/prime-cohorts?from=2026-01-05&to=2026-03-30&format=csv"; p.CSV != want {
			t.Errorf("CSV link %s, want %s", p.CSV, want)
		}
		checkTableRows(t, p.Rows, all)

		sameList(t, "over-$100 points", p.Over, weeksWhere(all, func(w dashWeek) bool { return w.Over100.Rate != nil }))
		sameList(t, "$100-or-less points", p.Under, weeksWhere(all, func(w dashWeek) bool { return w.AtMost100.Rate != nil }))
		sameList(t, "pending bands", p.Bands, weeksWhere(all, func(w dashWeek) bool { return w.Pending }))
		sameList(t, "95% error bars", p.CIs, weeksWhere(all, func(w dashWeek) bool { return w.CI95 != nil }))
		sameList(t, "differences", p.Diffs, weeksWhere(all, func(w dashWeek) bool { return w.Difference != nil }))
		sameList(t, "n/a differences", p.NA, weeksWhere(all, func(w dashWeek) bool { return w.Difference == nil }))
		// The over-$100 line breaks at 2026-02-09 (null) and 2026-02-23
		// (missing): 3 segments in one path; the other line, once.
		if p.Paths != 2 {
			t.Errorf("%d rate lines, want 2", p.Paths)
		}
		if len(p.BadGeometry) > 0 {
			t.Errorf("chart geometry is not numeric: %v", p.BadGeometry)
		}
		if p.ChartWidth < 900 {
			t.Errorf("the rate chart is %.0f px wide in a 1280 px window", p.ChartWidth)
		}
		var segments int
		b.eval(t, `document.querySelector("#rate-chart path.line.over").getAttribute("d").split("M").length - 1`, &segments)
		if segments != 3 {
			t.Errorf("the over-$100 line has %d segments, want 3 (broken at a null rate and a missing week)", segments)
		}

		asked := cohorts.queries()
		if len(asked) == 0 || asked[len(asked)-1].Encode() != "from=2026-01-05&to=2026-03-30" {
			t.Errorf("the page asked the API for %v, want from=2026-01-05&to=2026-03-30", asked)
		}
		b.screenshot(t, "dashboard-prime.png")
	})

	t.Run("default-range", func(t *testing.T) {
		v := b.visit(t, srv.URL+"/dashboard/prime")
		v.sameOriginOnly(t, origin)
		var p shownPage
		b.eval(t, readPage, &p)
		if p.State != "ready" || len(p.Rows) != len(all) {
			t.Fatalf("state %q with %d rows (%s), want ready with %d", p.State, len(p.Rows), p.Status, len(all))
		}
		// The API chose the range; the inputs show it.
		if p.From != all[0].Week || p.To != all[len(all)-1].Week {
			t.Errorf("range inputs show %s..%s, want the API's %s..%s", p.From, p.To, all[0].Week, all[len(all)-1].Week)
		}
		if asked := cohorts.queries(); len(asked[len(asked)-1]) != 0 {
			t.Errorf("without a range the page asked for %v; let the API choose", asked[len(asked)-1])
		}
	})

	t.Run("one-week-with-nulls", func(t *testing.T) {
		b.visit(t, srv.URL+"/dashboard/prime?from=2026-02-09&to=2026-02-09")
		var p shownPage
		b.eval(t, readPage, &p)
		if p.State != "ready" {
			t.Fatalf("state %q (%s)", p.State, p.Status)
		}
		var week []dashWeek
		for _, w := range all {
			if w.Week == "2026-02-09" {
				week = append(week, w)
			}
		}
		checkTableRows(t, p.Rows, week)
		if len(p.Over) != 0 || len(p.Under) != 1 || len(p.CIs) != 0 || len(p.NA) != 1 || len(p.BadGeometry) != 0 {
			t.Errorf("one week without an over-$100 trial drew %d/%d points, %d bars, %d n/a, bad geometry %v",
				len(p.Over), len(p.Under), len(p.CIs), len(p.NA), p.BadGeometry)
		}
	})

	t.Run("empty", func(t *testing.T) {
		v := b.visit(t, srv.URL+"/dashboard/prime?from=2025-01-06&to=2025-03-31")
		v.sameOriginOnly(t, origin)
		if v.logErrors != nil {
			t.Errorf("the browser logged errors: %v", v.logErrors)
		}
		var p shownPage
		b.eval(t, readPage, &p)
		if p.State != "empty" || !strings.Contains(p.Status, "No Prime trials") || !strings.Contains(p.Status, "2025-01-06 to 2025-03-31") {
			t.Fatalf("state %q, status %q; want the empty state naming the range", p.State, p.Status)
		}
		for _, id := range []string{"rates", "difference", "numbers"} {
			if !p.Hidden[id] {
				t.Errorf("#%s shows with zero weeks", id)
			}
		}
		b.screenshot(t, "dashboard-prime-empty.png")
	})

	t.Run("api-refuses", func(t *testing.T) {
		v := b.visit(t, srv.URL+"/dashboard/prime?from=last-monday")
		v.sameOriginOnly(t, origin)
		var p shownPage
		b.eval(t, readPage, &p)
		if p.State != "error" || !strings.Contains(p.Status, "(400)") || !strings.Contains(p.Status, `from "last-monday" is not a date`) {
			t.Fatalf("state %q, status %q; want the API's 400 message", p.State, p.Status)
		}
		if !p.Hidden["numbers"] {
			t.Error("the table shows after an error")
		}
	})

	// The CSP is live: the browser refuses a fetch to another origin.
	t.Run("csp-blocks-other-origins", func(t *testing.T) {
		b.visit(t, srv.URL+"/dashboard/prime")
		var outcome string
		b.eval(t, `fetch("http://192.0.2.1/beacon").then(() => "fetched", () => "refused")`, &outcome)
		var violations []string
		b.eval(t, `new Promise(ok => { const wait = () => window.__csp.length ? ok(window.__csp) : setTimeout(wait, 10); wait(); })`, &violations)
		if outcome != "refused" || len(violations) != 1 || !strings.HasPrefix(violations[0], "connect-src http://192.0.2.1/beacon") {
			t.Fatalf("fetch to another origin: %s, violations %q; want refused under connect-src", outcome, violations)
		}
	})
}

// chromiumTab is one headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4), with
// one tab. No port, no Go module beyond the standard library.
type chromiumTab struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	session string
	stderr  string

	mu      sync.Mutex
	next    int64
	replies map[int64]chan cdpMessage
	events  []cdpMessage
	changed chan struct{} // closed and replaced at every event
	gone    chan struct{} // closed when the browser's pipe closes
}

type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// cdpTimeout bounds one DevTools command, a page load, or the page's
// render: generous for 2 busy cores; a healthy run takes well under 1 s.
const cdpTimeout = 60 * time.Second

// recordCSP runs in every page before its own scripts: it keeps the CSP
// violations the page sees.
const recordCSP = `window.__csp = [];
document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`

// startChromium starts Debian's chromium, or skips (fails under CI=true)
// saying how to install it.
func startChromium(t *testing.T) *chromiumTab {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		msg := "chromium is not installed, so the dashboard's browser test cannot run: install it with deploy/local/chromium (apt-get install -y chromium)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless=new", "--disable-gpu", "--no-sandbox", "--remote-debugging-pipe",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,900", "--no-first-run",
		"--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, resW} // fds 3 (it reads) and 4 (it writes)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	cmdR.Close()
	resW.Close()
	b := &chromiumTab{cmd: cmd, in: cmdW, stderr: stderr.Name(), replies: map[int64]chan cdpMessage{},
		changed: make(chan struct{}), gone: make(chan struct{})}
	go b.read(resR)
	t.Cleanup(func() { b.close(t); stderr.Close() })

	var target struct{ TargetID string }
	b.call(t, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	b.call(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	for _, domain := range []string{"Page", "Runtime", "Network", "Log"} {
		b.call(t, b.session, domain+".enable", nil, nil)
	}
	b.call(t, b.session, "Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": recordCSP}, nil)
	b.call(t, b.session, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

func (b *chromiumTab) read(r io.ReadCloser) {
	defer close(b.gone)
	defer r.Close()
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.replies[m.ID]; ok {
				ch <- m
				delete(b.replies, m.ID)
			}
		} else {
			b.events = append(b.events, m)
			close(b.changed)
			b.changed = make(chan struct{})
		}
		b.mu.Unlock()
	}
}

// send runs one DevTools command and decodes its result into out.
func (b *chromiumTab) send(session, method string, params, out any) error {
	b.mu.Lock()
	b.next++
	id := b.next
	reply := make(chan cdpMessage, 1)
	b.replies[id] = reply
	b.mu.Unlock()
	msg, err := json.Marshal(cdpMessage{ID: id, Method: method, SessionID: session, Params: cdpParams(params)})
	if err != nil {
		return err
	}
	if _, err := b.in.Write(append(msg, 0)); err != nil {
		return fmt.Errorf("%s: write to the browser: %w", method, err)
	}
	select {
	case m := <-reply:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-b.gone:
		return fmt.Errorf("%s: the browser exited", method)
	case <-time.After(cdpTimeout):
		return fmt.Errorf("%s: no answer within %s", method, cdpTimeout)
	}
}

func (b *chromiumTab) call(t *testing.T, session, method string, params, out any) {
	t.Helper()
	if err := b.send(session, method, params, out); err != nil {
		t.Fatalf("chromium: %v%s", err, b.stderrTail())
	}
}

func cdpParams(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return raw
}

// waitEvent returns the first event named method from index from on, and
// the index after it.
func (b *chromiumTab) waitEvent(t *testing.T, method string, from int) (cdpMessage, int) {
	t.Helper()
	deadline := time.After(cdpTimeout)
	for {
		b.mu.Lock()
		for i := from; i < len(b.events); i++ {
			if b.events[i].Method == method && b.events[i].SessionID == b.session {
				m := b.events[i]
				b.mu.Unlock()
				return m, i + 1
			}
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-b.gone:
			t.Fatalf("chromium exited while waiting for %s%s", method, b.stderrTail())
		case <-deadline:
			t.Fatalf("chromium: no %s within %s", method, cdpTimeout)
		}
	}
}

func (b *chromiumTab) eventsSince(from int) []cdpMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]cdpMessage(nil), b.events[from:]...)
}

// eval evaluates a JavaScript expression in the tab (awaiting a promise)
// and decodes its value into out; a string result holding JSON is decoded
// as that JSON.
func (b *chromiumTab) eval(t *testing.T, expr string, out any) {
	t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.call(t, b.session, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &res)
	if e := res.ExceptionDetails; e != nil {
		t.Fatalf("evaluate %.60q: %s %s", expr, e.Text, e.Exception.Description)
	}
	raw := res.Result.Value
	var s string
	if _, isPtr := out.(*string); !isPtr && json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("evaluate %.60q: %v in %s", expr, err, raw)
	}
}

// pageVisit is one page load: the requests it made and what the browser
// logged.
type pageVisit struct {
	requests  []string
	logErrors []string
}

// visit loads url in the tab and waits until the page has drawn its data
// (or its empty or error state). JavaScript exceptions fail the test.
func (b *chromiumTab) visit(t *testing.T, url string) pageVisit {
	t.Helper()
	b.mu.Lock()
	mark := len(b.events)
	b.mu.Unlock()
	var nav struct{ ErrorText string }
	b.call(t, b.session, "Page.navigate", map[string]any{"url": url}, &nav)
	if nav.ErrorText != "" {
		t.Fatalf("navigate to %s: %s", url, nav.ErrorText)
	}
	b.waitEvent(t, "Page.loadEventFired", mark)
	var state string
	b.eval(t, `new Promise(ok => { const wait = () => { const s = document.body && document.body.dataset.state;
		s && s !== "loading" ? ok(s) : setTimeout(wait, 10); }; wait(); })`, &state)
	var v pageVisit
	for _, e := range b.eventsSince(mark) {
		switch e.Method {
		case "Network.requestWillBeSent":
			var p struct{ Request struct{ URL string } }
			if json.Unmarshal(e.Params, &p) == nil {
				v.requests = append(v.requests, p.Request.URL)
			}
		case "Log.entryAdded":
			var p struct {
				Entry struct{ Level, Source, Text, URL string }
			}
			if json.Unmarshal(e.Params, &p) == nil && p.Entry.Level == "error" {
				v.logErrors = append(v.logErrors, p.Entry.Source+": "+p.Entry.Text+" "+p.Entry.URL)
			}
		case "Runtime.exceptionThrown":
			t.Errorf("the page threw: %s", e.Params)
		case "Runtime.consoleAPICalled":
			var p struct{ Type string }
			if json.Unmarshal(e.Params, &p) == nil && (p.Type == "error" || p.Type == "warning") {
				t.Errorf("the page logged a console %s: %s", p.Type, e.Params)
			}
		}
	}
	var violations []string
	b.eval(t, `window.__csp`, &violations)
	if len(violations) > 0 {
		t.Errorf("the page broke its own Content-Security-Policy: %v", violations)
	}
	return v
}

// sameOriginOnly fails unless every request of the visit went to origin,
// and the page did load its stylesheet, script and data (the icon is the
// browser's business, cached across visits). data: URLs never leave the
// browser (its date picker draws its icon from one).
func (v pageVisit) sameOriginOnly(t *testing.T, origin *url.URL) {
	t.Helper()
	paths := map[string]bool{}
	for _, raw := range v.requests {
		u, err := url.Parse(raw)
		if err == nil && u.Scheme == "data" {
			continue
		}
		if err != nil || u.Scheme != origin.Scheme || u.Host != origin.Host {
			t.Errorf("the page requested %s, outside its origin %s", raw, origin)
			continue
		}
		paths[u.Path] = true
	}
	for _, p := range []string{"/dashboard/prime", "/dashboard/prime.css", "/dashboard/prime.js", "/v1/analytics/prime-cohorts"} {
		if !paths[p] {
			t.Errorf("the page did not request %s (requests: %v)", p, v.requests)
		}
	}
}

// screenshot saves the whole page as a PNG artifact under
// $SHOPSTREAM_ARTIFACTS, or artifacts/ at the repo root (git-ignored).
func (b *chromiumTab) screenshot(t *testing.T, name string) {
	t.Helper()
	var metrics struct {
		CSSContentSize struct{ Width, Height float64 } `json:"cssContentSize"`
	}
	b.call(t, b.session, "Page.getLayoutMetrics", nil, &metrics)
	var shot struct{ Data string }
	b.call(t, b.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": 1280, "height": math.Ceil(metrics.CSSContentSize.Height), "scale": 1}}, &shot)
	img, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width != 1280 || cfg.Height < 900 {
		t.Fatalf("screenshot is not a 1280-wide full-page PNG: %+v, %v", cfg, err)
	}
	dir := os.Getenv("SHOPSTREAM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir, err = filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	path := filepath.Join(dir, name)
	if err == nil {
		err = os.WriteFile(path, img, 0o644)
	}
	if err != nil {
		t.Fatalf("save the screenshot: %v", err)
	}
	t.Logf("screenshot (%dx%d): %s", cfg.Width, cfg.Height, path)
}

// close asks the browser to quit, and kills its process group (ours) if
// it does not.
func (b *chromiumTab) close(t *testing.T) {
	_ = b.send("", "Browser.close", nil, nil)
	b.in.Close()
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		if err := <-done; err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Logf("chromium killed after Browser.close hung: %v", err)
		}
	}
}

func (b *chromiumTab) stderrTail() string {
	raw, _ := os.ReadFile(b.stderr)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\nchromium stderr (last lines):\n" + strings.Join(lines, "\n")
}
