// Package processors runs shopstream's goka processors. Each processor
// lives in a sub-package as one short DefineGroup graph whose rules are
// plain functions; this package gives them what they share: the sarama
// settings that work on both kfake and Apache Kafka, LevelDB tables under
// the data directory, topic-manager checks that fail on a mis-configured
// table, Kafka's own key partitioning, input metrics, and readiness that
// turns true only once every table has been recovered.
package processors
