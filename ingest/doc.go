// Package ingest brings supplier data into the pipeline: item upserts and
// stock levels over HTTP, from JSON Lines or CSV files, and from a
// reproducible catalog generator. Every record is validated with the same
// rules that the processors apply to records producers write to the
// supplier topics directly; valid records are produced with franz-go's
// idempotent producer, and invalid ones are reported per item (HTTP) or
// dead-lettered with the reason, the source and the original bytes.
package ingest
