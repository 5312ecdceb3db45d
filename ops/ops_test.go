package ops_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/ops"
)

func TestLoggerFormatsAndLevels(t *testing.T) {
	var buf bytes.Buffer
	log, err := ops.NewLogger(&buf, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "shown" || rec["k"] != float64(1) {
		t.Fatalf("json log %q: %v", buf.String(), err)
	}
	if _, err := ops.NewLogger(&buf, "loud", "text"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := ops.NewLogger(&buf, "info", "xml"); err == nil {
		t.Error("bad format accepted")
	}
}

// Latency is labelled by the matched route pattern, not the raw path.
func TestInstrumentLabelsByRoute(t *testing.T) {
	m := ops.NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/items/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := m.Instrument(mux)
	for _, p := range []string{"/v1/items/a", "/v1/items/b", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`shopstream_http_request_duration_seconds_count{code="418",method="GET",route="GET /v1/items/{id}"} 2`,
		`shopstream_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/v1/items/a") {
		t.Error("raw path leaked into a label")
	}
}

func TestReadyzReportsFailingChecks(t *testing.T) {
	h := ops.NewHealth()
	mux := http.NewServeMux()
	h.Mount(mux)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("no checks: %d", code)
	}
	ready := false
	h.Register("processor inventory", func() error {
		if !ready {
			return errors.New("recovering tables")
		}
		return nil
	})
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"processor inventory":"recovering tables"`) {
		t.Fatalf("recovering: %d %s", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("healthz while not ready: %d", code)
	}
	ready = true
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("recovered: %d", code)
	}
}
