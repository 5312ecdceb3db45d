package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var identifier = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// validate checks every value and names each bad key.
func (c Config) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	oneOf := func(key, value string, allowed ...string) {
		if !slices.Contains(allowed, value) {
			bad(key, "%q is not one of %s", value, strings.Join(allowed, ", "))
		}
	}
	hostPort := func(key, value string, allowZero bool) {
		if err := checkHostPort(value, allowZero); err != nil {
			bad(key, "%q: %v", value, err)
		}
	}
	positive := func(key string, ok bool, value any) {
		if !ok {
			bad(key, "%v must be greater than zero", value)
		}
	}

	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", "must not be empty")
	}
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")
	hostPort("http.addr", c.HTTP.Addr, true)
	positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout > 0, c.HTTP.ShutdownTimeout)

	if c.Kafka.Embedded.Enabled {
		if c.Kafka.Embedded.Port < 0 || c.Kafka.Embedded.Port > 65535 {
			bad("kafka.embedded.port", "%d is not a port (0-65535)", c.Kafka.Embedded.Port)
		}
		if c.Topics.Replication != 1 {
			bad("topics.replication", "%d is impossible on the single embedded broker; use 1", c.Topics.Replication)
		}
	} else {
		if len(c.Kafka.Brokers) == 0 {
			bad("kafka.brokers", "needs at least one host:port when kafka.embedded.enabled is false")
		}
		for _, b := range c.Kafka.Brokers {
			hostPort("kafka.brokers", b, false)
		}
	}
	if c.Kafka.ClientID == "" {
		bad("kafka.client_id", "must not be empty")
	}
	positive("kafka.dial_timeout", c.Kafka.DialTimeout > 0, c.Kafka.DialTimeout)
	if c.Topics.Partitions < 1 || c.Topics.Partitions > 10000 {
		bad("topics.partitions", "%d is not between 1 and 10000", c.Topics.Partitions)
	}
	positive("topics.replication", c.Topics.Replication > 0, c.Topics.Replication)

	s := c.Stores
	oneOf("stores.orders.driver", s.Orders.Driver, "sqlite", "mysql")
	if s.Orders.Driver == "mysql" && s.Orders.DSN == "" {
		bad("stores.orders.dsn", "is required with the mysql driver")
	}
	oneOf("stores.history.driver", s.History.Driver, "embedded", "cassandra")
	if s.History.Driver == "cassandra" {
		if len(s.History.Hosts) == 0 {
			bad("stores.history.hosts", "needs at least one host:port with the cassandra driver")
		}
		for _, h := range s.History.Hosts {
			hostPort("stores.history.hosts", h, false)
		}
		if !identifier.MatchString(s.History.Keyspace) {
			bad("stores.history.keyspace", "%q is not a keyspace name (lower case letters, digits, _)", s.History.Keyspace)
		}
		positive("stores.history.replication_factor", s.History.ReplicationFactor > 0, s.History.ReplicationFactor)
		oneOf("stores.history.consistency", s.History.Consistency, "one", "local_one", "quorum", "local_quorum", "all")
		if c := s.History.Consistency; s.History.ReplicationFactor > 1 && (c == "one" || c == "local_one") {
			// The merged orders view reads history right after the
			// migrator wrote it: at one replica each, the read may miss it.
			bad("stores.history.consistency", "%q with replication_factor %d lets a read miss an order the migrator just wrote (the orders view would skip it): use local_quorum, quorum or all", c, s.History.ReplicationFactor)
		}
	}
	oneOf("stores.search.driver", s.Search.Driver, "bleve", "elasticsearch")
	if s.Search.Driver == "elasticsearch" {
		if len(s.Search.URLs) == 0 {
			bad("stores.search.urls", "needs at least one URL with the elasticsearch driver")
		}
		for _, u := range s.Search.URLs {
			if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				bad("stores.search.urls", "%q is not an http(s) URL", u)
			}
		}
	}
	if s.Search.Index == "" || strings.ToLower(s.Search.Index) != s.Search.Index {
		bad("stores.search.index", "%q must be a non-empty lower-case name", s.Search.Index)
	}
	oneOf("stores.analytics.driver", s.Analytics.Driver, "sqlite", "clickhouse")
	if s.Analytics.Driver == "clickhouse" {
		if len(s.Analytics.Addrs) == 0 {
			bad("stores.analytics.addrs", "needs at least one host:port with the clickhouse driver")
		}
		for _, a := range s.Analytics.Addrs {
			hostPort("stores.analytics.addrs", a, false)
		}
		if !identifier.MatchString(s.Analytics.Database) {
			bad("stores.analytics.database", "%q is not a database name (lower case letters, digits, _)", s.Analytics.Database)
		}
	}

	o := c.Orders
	positive("orders.ttl", o.TTL > 0, o.TTL)
	positive("orders.sweep_interval", o.SweepInterval > 0, o.SweepInterval)
	positive("orders.processed_events_retention", o.ProcessedEventsRetention > 0, o.ProcessedEventsRetention)
	positive("orders.idempotency_key_retention", o.IdempotencyKeyRetention > 0, o.IdempotencyKeyRetention)
	if o.MaxLines < 1 || o.MaxLines > 1000 {
		bad("orders.max_lines", "%d is not between 1 and 1000", o.MaxLines)
	}
	if o.MaxQuantityPerLine < 1 || o.MaxQuantityPerLine > 1_000_000 {
		bad("orders.max_quantity_per_line", "%d is not between 1 and 1000000", o.MaxQuantityPerLine)
	}
	p := c.Payments
	rates := map[string]float64{"payments.success_rate": p.SuccessRate, "payments.failure_rate": p.FailureRate, "payments.no_answer_rate": p.NoAnswerRate}
	for _, key := range []string{"payments.success_rate", "payments.failure_rate", "payments.no_answer_rate"} {
		if r := rates[key]; !(r >= 0 && r <= 1) {
			bad(key, "%v is not between 0 and 1", r)
		}
	}
	if sum := p.SuccessRate + p.FailureRate + p.NoAnswerRate; sum < 1-1e-9 || sum > 1+1e-9 {
		bad("payments.success_rate", "success_rate + failure_rate + no_answer_rate is %v; they must sum to 1", sum)
	}
	if p.Latency < 0 {
		bad("payments.latency", "%v must not be negative", p.Latency)
	}
	if c.Shipping.ShipAfter < 0 {
		bad("shipping.ship_after", "%v must not be negative", c.Shipping.ShipAfter)
	}
	if c.Shipping.DeliverAfter < 0 {
		bad("shipping.deliver_after", "%v must not be negative", c.Shipping.DeliverAfter)
	}
	if d := c.Membership.TrialDays; d < 1 || d > 365 {
		bad("membership.trial_days", "%d is not between 1 and 365", d)
	}
	h := c.HistoryMigration
	if h.After <= p.Latency {
		bad("history_migration.after", "%v must exceed payments.latency (%v): a late payment can still refund a canceled order, and must find it in the order-taking database", h.After, p.Latency)
	}
	if h.BatchSize < 1 || h.BatchSize > 10000 {
		bad("history_migration.batch_size", "%d is not between 1 and 10000", h.BatchSize)
	}
	positive("history_migration.interval", h.Interval > 0, h.Interval)
	return errs
}

func checkHostPort(v string, allowZero bool) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("not host:port")
	}
	n, err := strconv.Atoi(port)
	low := 1
	if allowZero {
		low = 0
	}
	if err != nil || n < low || n > 65535 {
		return fmt.Errorf("port %s is not between %d and 65535", port, low)
	}
	return nil
}
