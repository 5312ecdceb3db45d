package ops

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are one process's Prometheus metrics. Each process (and each
// all-in-one in a test) has its own registry.
type Metrics struct {
	Registry *prometheus.Registry
	// RecordsIn counts records a role consumed, by role and topic.
	RecordsIn *prometheus.CounterVec
	// RecordsOut counts records a role produced, by role and topic.
	RecordsOut *prometheus.CounterVec
	// ConsumerLag is the committed-offset lag by group, topic and partition.
	ConsumerLag *prometheus.GaugeVec
	// HTTPDuration is request latency by method, route pattern and status.
	HTTPDuration *prometheus.HistogramVec
	// OutboxPending and OutboxOldest are the outbox relay's lag: records
	// written in checkout transactions and not yet acknowledged by Kafka,
	// and the age of the oldest.
	OutboxPending prometheus.Gauge
	OutboxOldest  prometheus.Gauge
	// HistoryMigrated, HistoryStep and HistoryBacklog follow the history
	// migration: orders moved, the duration of each step, and the final
	// orders old enough to move that are still in the order-taking DB.
	HistoryMigrated prometheus.Counter
	HistoryStep     prometheus.Observer
	HistoryBacklog  prometheus.Gauge
}

// NewMetrics registers shopstream's metrics and the Go and process
// collectors on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		RecordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_records_in_total", Help: "Records consumed, by role and topic.",
		}, []string{"role", "topic"}),
		RecordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_records_out_total", Help: "Records produced and acknowledged, by role and topic.",
		}, []string{"role", "topic"}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shopstream_consumer_lag", Help: "Records between a group's committed offset and the partition end.",
		}, []string{"group", "topic", "partition"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shopstream_http_request_duration_seconds", Help: "HTTP request latency by method, route and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route", "code"}),
		OutboxPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shopstream_outbox_pending", Help: "Outbox records not yet published to Kafka.",
		}),
		OutboxOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shopstream_outbox_oldest_seconds", Help: "Age of the oldest unpublished outbox record (0 when none).",
		}),
	}
	migrated := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shopstream_history_migrated_orders_total", Help: "Orders moved from the order-taking database to history.",
	})
	step := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shopstream_history_migration_step_seconds", Help: "Duration of each history migration step (read, write, delete).",
		Buckets: prometheus.ExponentialBuckets(.001, 4, 8),
	})
	backlog := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "shopstream_history_migration_backlog", Help: "Final orders old enough to move that are still in the order-taking database.",
	})
	m.HistoryMigrated, m.HistoryStep, m.HistoryBacklog = migrated, step, backlog
	m.Registry.MustRegister(migrated, step, backlog)
	m.Registry.MustRegister(m.RecordsIn, m.RecordsOut, m.ConsumerLag, m.HTTPDuration, m.OutboxPending, m.OutboxOldest,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Instrument records each request's latency under the route pattern the mux
// matched (not the raw path, which would explode label cardinality).
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.HTTPDuration.WithLabelValues(r.Method, route, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
