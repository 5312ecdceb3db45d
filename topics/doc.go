// Package topics is shopstream's contract with Kafka: the catalog of every
// topic the pipeline reads or writes (name, partitions, replication, cleanup
// policy, key and the event types it carries), the event envelope, the
// registry of event types with their JSON codecs, and the idempotent
// create-and-verify of the catalog against a broker.
//
// Every record on a catalog topic is an [Envelope]: a unique event id that
// every consumer uses for idempotency, the event type and its schema
// version, the event time, the partition key, and the type's data. Money is
// always integer minor units with an ISO 4217 currency code.
package topics
