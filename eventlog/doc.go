// Package eventlog is how shopstream code talks to Kafka with franz-go:
// client options built from the config (bounded dial timeouts, loggers),
// the envelope-aware idempotent Producer every role writes through, the
// consumer-lag monitor behind the shopstream_consumer_lag metric, and
// ReadSpans, the reader of offset ranges without a group that replay and
// reconcile share.
package eventlog
