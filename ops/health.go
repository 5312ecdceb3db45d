package ops

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
)

// Health answers /healthz (the process is serving) and /readyz (every
// registered check passes: brokers reachable, topics verified, every
// processor's tables recovered).
type Health struct {
	mu     sync.Mutex
	checks map[string]func() error
}

// NewHealth returns a Health with no checks, which is ready.
func NewHealth() *Health { return &Health{checks: map[string]func() error{}} }

// Register adds or replaces a named readiness check.
func (h *Health) Register(name string, check func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = check
}

// Ready runs every check and returns the failures by name.
func (h *Health) Ready() map[string]string {
	h.mu.Lock()
	names := make([]string, 0, len(h.checks))
	for n := range h.checks {
		names = append(names, n)
	}
	checks := make(map[string]func() error, len(h.checks))
	for n, c := range h.checks {
		checks[n] = c
	}
	h.mu.Unlock()
	sort.Strings(names)
	failing := map[string]string{}
	for _, n := range names {
		if err := checks[n](); err != nil {
			failing[n] = err.Error()
		}
	}
	return failing
}

// Mount adds /healthz and /readyz to mux.
func (h *Health) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if failing := h.Ready(); len(failing) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failing": failing})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
