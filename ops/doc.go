// Package ops is what every shopstream role shares to be operable: the
// slog logger, the Prometheus metrics (records in and out per role, consumer
// lag per group and partition, HTTP latency), /healthz and /readyz, and a
// signal context whose second signal forces the exit.
package ops
