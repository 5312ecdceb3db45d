package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// The Prime cohort dashboard: a static page, its stylesheet, its script and
// its icon, compiled into the binary. The script reads GET
// /v1/analytics/prime-cohorts from the same origin and draws everything
// (inline SVG, no library, no web font).
var (
	//go:embed dashboard/prime.html
	primeHTML []byte
	//go:embed dashboard/prime.css
	primeCSS []byte
	//go:embed dashboard/prime.js
	primeJS []byte
	//go:embed dashboard/prime.svg
	primeIcon []byte
)

// DashboardCSP is the Content-Security-Policy of the dashboard's responses:
// the page may load scripts, styles, images and data from its own origin
// only, so a reference to a CDN, a web font or a beacon is refused by the
// browser. No inline script or style runs either (there is no
// 'unsafe-inline'), and the page cannot be framed.
const DashboardCSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// Dashboard serves the Prime trial cohort dashboard (DESIGN, flow 7) at
// GET /dashboard/prime. It holds no data: the page fetches the cohorts
// from the same origin's /v1/analytics/prime-cohorts, through a relative
// URL, so it also works behind a gateway that adds a path prefix, and the
// range defaults are the API's.
type Dashboard struct {
	assets []dashboardAsset
}

type dashboardAsset struct {
	path, contentType, etag string
	body                    []byte
}

// NewDashboard returns the dashboard routes.
func NewDashboard() *Dashboard {
	d := &Dashboard{}
	for _, a := range []dashboardAsset{
		{path: "/dashboard/prime", contentType: "text/html; charset=utf-8", body: primeHTML},
		{path: "/dashboard/prime.css", contentType: "text/css; charset=utf-8", body: primeCSS},
		{path: "/dashboard/prime.js", contentType: "text/javascript; charset=utf-8", body: primeJS},
		{path: "/dashboard/prime.svg", contentType: "image/svg+xml", body: primeIcon},
	} {
		sum := sha256.Sum256(a.body)
		a.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
		d.assets = append(d.assets, a)
	}
	return d
}

// Mount adds GET /dashboard/prime and its assets to mux.
func (d *Dashboard) Mount(mux *http.ServeMux) {
	for _, a := range d.assets {
		mux.HandleFunc("GET "+a.path, a.serve)
	}
}

// serve writes the asset. Browsers revalidate every time (no-cache) and get
// a 304 while the binary is the same, so a new release shows at once.
func (a dashboardAsset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Security-Policy", DashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
