// Package config loads shopstream's configuration: built-in defaults (the
// all-in-one shape), then one YAML file per deployment shape, then
// SHOPSTREAM_* environment variables, then command-line flags. Every key is
// known: an unknown key or a bad value is refused with the exact key, where
// it came from, and why.
package config

import "time"

// Config is the whole configuration. YAML keys are the yaml tags; the
// environment variable for a key is SHOPSTREAM_ plus the key path in upper
// case with dots as underscores (kafka.embedded.port is
// SHOPSTREAM_KAFKA_EMBEDDED_PORT); its flag is --key.path with underscores as
// dashes (--kafka.embedded.port, --data-dir).
type Config struct {
	// DataDir holds everything an embedded engine or a processor keeps on
	// disk: the embedded Kafka log, goka tables, SQLite and Bleve files.
	DataDir    string     `yaml:"data_dir" doc:"directory for embedded Kafka data, processor tables and embedded stores"`
	Log        Log        `yaml:"log"`
	HTTP       HTTP       `yaml:"http"`
	Kafka      Kafka      `yaml:"kafka"`
	Topics     Topics     `yaml:"topics"`
	Stores     Stores     `yaml:"stores"`
	Orders     Orders     `yaml:"orders"`
	Payments   Payments   `yaml:"payments"`
	Shipping   Shipping   `yaml:"shipping"`
	Membership Membership `yaml:"membership"`
	// HistoryMigration moves finished orders to stores.history.
	HistoryMigration HistoryMigration `yaml:"history_migration"`
}

// HistoryMigration configures the move of finished orders (delivered,
// canceled, refunded) from the order-taking database to the history store.
type HistoryMigration struct {
	After     time.Duration `yaml:"after" doc:"age, since both its payment deadline and its last change, at which a finished order moves to the history store; more than payments.latency"`
	BatchSize int           `yaml:"batch_size" doc:"orders moved per batch (write to history, then delete)"`
	Interval  time.Duration `yaml:"interval" doc:"pause between two migration passes; a pass moves batches until none is left"`
}

// Membership configures Prime membership.
type Membership struct {
	TrialDays int `yaml:"trial_days" doc:"length of a Prime trial in days; a member still in at its end has converted"`
}

// Orders configures checkout and the order-taking edge.
type Orders struct {
	TTL           time.Duration `yaml:"ttl" doc:"how long a created order waits for its payment before it expires"`
	SweepInterval time.Duration `yaml:"sweep_interval" doc:"how often the expiry sweeper cancels expired orders"`
	// The sweeper prunes, once a minute, the records older than these.
	ProcessedEventsRetention time.Duration `yaml:"processed_events_retention" doc:"how long the order-taking DB remembers an applied stock, payment or shipment event id; longer than those topics' retention"`
	IdempotencyKeyRetention  time.Duration `yaml:"idempotency_key_retention" doc:"how long a checkout's Idempotency-Key returns its order; a reuse after that is a new checkout"`
	MaxLines                 int           `yaml:"max_lines" doc:"most lines one order may have"`
	// MaxQuantityPerLine also caps a cart line.
	MaxQuantityPerLine int64 `yaml:"max_quantity_per_line" doc:"most units of one item in a cart line or an order line"`
}

// Payments configures the payment role's simulated gateway.
type Payments struct {
	SuccessRate  float64       `yaml:"success_rate" doc:"share of charges the simulated gateway accepts (0-1)"`
	FailureRate  float64       `yaml:"failure_rate" doc:"share of charges it declines (0-1)"`
	NoAnswerRate float64       `yaml:"no_answer_rate" doc:"share of charges it never answers (0-1); the three rates sum to 1"`
	Latency      time.Duration `yaml:"latency" doc:"how long the gateway takes to answer"`
	Seed         int64         `yaml:"seed" doc:"seed of the gateway's outcomes (same seed, same outcome per order)"`
}

// Shipping configures the shipping role's delays.
type Shipping struct {
	ShipAfter    time.Duration `yaml:"ship_after" doc:"delay from an order's placement to its shipment"`
	DeliverAfter time.Duration `yaml:"deliver_after" doc:"delay from shipment to delivery"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level" doc:"debug, info, warn or error"`
	Format string `yaml:"format" doc:"text or json"`
}

// HTTP configures the listener that serves the REST API, /metrics,
// /healthz and /readyz.
type HTTP struct {
	Addr            string        `yaml:"addr" doc:"host:port to listen on (port 0 picks a free one)"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" doc:"how long in-flight requests may finish at shutdown"`
}

// Kafka configures the log: an embedded broker or real brokers.
type Kafka struct {
	Brokers     []string      `yaml:"brokers" doc:"bootstrap brokers (ignored when kafka.embedded.enabled)"`
	ClientID    string        `yaml:"client_id" doc:"client id prefix sent to the brokers"`
	DialTimeout time.Duration `yaml:"dial_timeout" doc:"bound on each broker connection attempt"`
	Embedded    Embedded      `yaml:"embedded"`
}

// Embedded configures the in-process Kafka-protocol broker (kfake).
type Embedded struct {
	Enabled bool `yaml:"enabled" doc:"run an in-process broker instead of dialing kafka.brokers"`
	Port    int  `yaml:"port" doc:"port on 127.0.0.1 for the embedded broker (0 picks a free one)"`
	// SyncWrites fsyncs every produced batch before it is acknowledged, so
	// an acknowledged record survives a crash, not only a clean stop.
	SyncWrites bool `yaml:"sync_writes" doc:"fsync each produced batch before acknowledging it"`
}

// Topics sizes the topic catalog.
type Topics struct {
	Partitions  int32 `yaml:"partitions" doc:"partitions of every keyed topic"`
	Replication int16 `yaml:"replication" doc:"replication factor of every topic"`
	Create      bool  `yaml:"create" doc:"create missing topics at start (else only verify)"`
}

// Stores selects and connects the adapter of each store role.
type Stores struct {
	Orders    OrdersStore    `yaml:"orders"`
	History   HistoryStore   `yaml:"history"`
	Search    SearchStore    `yaml:"search"`
	Analytics AnalyticsStore `yaml:"analytics"`
}

// OrdersStore is the order-taking database.
type OrdersStore struct {
	Driver string `yaml:"driver" doc:"sqlite or mysql"`
	// DSN is a go-sql-driver/mysql DSN; sqlite uses data_dir/orders.db when empty.
	DSN string `yaml:"dsn" doc:"mysql DSN, or a sqlite file path (default data_dir/orders.db)"`
}

// HistoryStore is the order history store.
type HistoryStore struct {
	Driver            string   `yaml:"driver" doc:"embedded or cassandra"`
	Hosts             []string `yaml:"hosts" doc:"cassandra contact points host:port"`
	Keyspace          string   `yaml:"keyspace" doc:"cassandra keyspace"`
	ReplicationFactor int      `yaml:"replication_factor" doc:"cassandra keyspace replication factor (SimpleStrategy)"`
	Consistency       string   `yaml:"consistency" doc:"cassandra consistency: one, local_quorum or quorum"`
}

// SearchStore is the product search index.
type SearchStore struct {
	Driver string   `yaml:"driver" doc:"bleve or elasticsearch"`
	URLs   []string `yaml:"urls" doc:"elasticsearch URLs"`
	Index  string   `yaml:"index" doc:"index name"`
}

// AnalyticsStore is the analytics database.
type AnalyticsStore struct {
	Driver   string   `yaml:"driver" doc:"sqlite or clickhouse"`
	Addrs    []string `yaml:"addrs" doc:"clickhouse native-protocol addresses host:port"`
	Database string   `yaml:"database" doc:"clickhouse database"`
	Username string   `yaml:"username" doc:"clickhouse user"`
	Password string   `yaml:"password" doc:"clickhouse password"`
}

// Default returns the all-in-one configuration: every role on embedded
// engines, listening on loopback.
func Default() Config {
	return Config{
		DataDir: "./data",
		Log:     Log{Level: "info", Format: "text"},
		HTTP:    HTTP{Addr: "127.0.0.1:8080", ShutdownTimeout: 10 * time.Second},
		Kafka: Kafka{
			Brokers:     []string{"127.0.0.1:9092"},
			ClientID:    "shopstream",
			DialTimeout: 10 * time.Second,
			Embedded:    Embedded{Enabled: true, Port: 9092, SyncWrites: true},
		},
		Topics: Topics{Partitions: 3, Replication: 1, Create: true},
		Stores: Stores{
			Orders:    OrdersStore{Driver: "sqlite"},
			History:   HistoryStore{Driver: "embedded", Keyspace: "shopstream", ReplicationFactor: 1, Consistency: "local_quorum"},
			Search:    SearchStore{Driver: "bleve", Index: "items"},
			Analytics: AnalyticsStore{Driver: "sqlite", Database: "shopstream", Username: "default"},
		},
		Orders: Orders{TTL: 5 * time.Minute, SweepInterval: time.Second, MaxLines: 100, MaxQuantityPerLine: 10,
			ProcessedEventsRetention: 30 * 24 * time.Hour, IdempotencyKeyRetention: 24 * time.Hour},
		Payments:   Payments{SuccessRate: 0.9, FailureRate: 0.08, NoAnswerRate: 0.02, Latency: 200 * time.Millisecond, Seed: 1},
		Shipping:   Shipping{ShipAfter: 30 * time.Second, DeliverAfter: time.Minute},
		Membership: Membership{TrialDays: 30},
		// Far beyond the payment latency: a late payment finds the order.
		HistoryMigration: HistoryMigration{After: 30 * 24 * time.Hour, BatchSize: 500, Interval: time.Minute},
	}
}
