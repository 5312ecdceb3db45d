// Package ingest brings supplier data into the pipeline: item upserts and
// stock levels over HTTP, from JSON Lines or CSV files, and from a
// reproducible catalog generator. Every record is validated with the same
// rules that the processors apply to records producers write to the
// supplier topics directly; valid records are produced with franz-go's
// idempotent producer, and invalid ones are reported per item (HTTP) or
// dead-lettered with the reason, the source and the original bytes.
//
//   - NewHandler(...).Mount(mux): POST /v1/suppliers/{id}/items, PUT and GET
//     /v1/suppliers/{id}/inventory; answers wait for Kafka's acknowledgement.
//   - File: a feed file, decoded and validated in parallel, produced in file
//     order per item, pipelined; returns a Summary once all is acknowledged.
//   - Generate, WriteGenerated, GenerateTo: a synthetic catalog.
//
// docs/ingest.md describes the API, the formats and the rules.
package ingest
