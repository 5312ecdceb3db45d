package analytics

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/sqlstore"
)

// The DDL and queries run on ClickHouse 18.16 (the Debian package) as on
// current releases: no window functions, no DateTime64, no LowCardinality.
var clickhouseDialect = &dialect{
	Dialect: sqlstore.Dialect{
		TableExists: "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?",
		// Two processes migrating at once may both record a version; the
		// engine merges the duplicate and the version is max(version) anyway.
		VersionTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version Int64,
		name String,
		applied_at DateTime('UTC')
	) ENGINE = ReplacingMergeTree() ORDER BY version`,
		InsertVersion: insertVersion,
	},
	ddl: [][]string{{
		// Ordered by event_id, so a redelivered event merges into one row;
		// queries read it FINAL to count it once before the merge. One
		// partition (no PARTITION BY): duplicates merge only within one.
		`CREATE TABLE IF NOT EXISTS events (
			event_id String,
			type String,
			user_id String,
			order_id String,
			occurred_at DateTime('UTC'),
			amount_cents Int64,
			currency String
		) ENGINE = ReplacingMergeTree() ORDER BY event_id`,
	}, {
		// One row per trial event, written by the sink with the first
		// cancel during the trial; rows of one trial merge to the highest
		// version (the earliest cancel). Ordered by the end first: the
		// sink looks up the trials a cancel can fall in (ending after it),
		// and the cohort query skips those that ended before its range.
		`CREATE TABLE IF NOT EXISTS trials (
			event_id String,
			user_id String,
			week DateTime('UTC'),
			over_100 UInt8,
			started_at DateTime('UTC'),
			ends_at DateTime('UTC'),
			spend_cents Int64,
			currency String,
			canceled_at DateTime('UTC'),
			version UInt32
		) ENGINE = ReplacingMergeTree(version) ORDER BY (ends_at, event_id)`,
		// The cancels by time, for the trial that arrives after its cancel.
		// Duplicates do no harm: the sink takes the earliest.
		`CREATE TABLE IF NOT EXISTS cancels (
			canceled_at DateTime('UTC'),
			user_id String,
			event_id String
		) ENGINE = ReplacingMergeTree() ORDER BY (canceled_at, user_id, event_id)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS cancels_from_events TO cancels AS
			SELECT occurred_at AS canceled_at, user_id, event_id FROM events WHERE type = 'membership.canceled'`,
	}},
	insertEvent: "INSERT INTO events (" + eventColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)",
	final:       " FINAL",
	insertTrial: "INSERT INTO trials (" + trialColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	// The ids go with the query as a temporary table (external data): an
	// IN list of literals costs 18.16 about 10 µs an id to parse, the
	// table half of that, and it has no size limit.
	inUsers: "IN lookup_users",
	users: func(ctx context.Context, ids []string) (context.Context, []any, error) {
		t, err := ext.NewTable("lookup_users", ext.Column("user_id", "String"))
		if err != nil {
			return nil, nil, err
		}
		for _, id := range ids {
			if err := t.Append(id); err != nil {
				return nil, nil, err
			}
		}
		return clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), nil, nil
	},
	cancelsOf: "SELECT user_id, canceled_at FROM cancels WHERE canceled_at >= ? AND canceled_at < ? AND user_id IN lookup_users",
}

var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// openClickHouse connects over the native protocol, the one that works
// with ClickHouse 18.16 (see docs/store-analytics.md).
func openClickHouse(ctx context.Context, cfg config.AnalyticsStore, o options) (*sqlStore, error) {
	where := "clickhouse at " + strings.Join(cfg.Addrs, ",")
	if len(cfg.Addrs) == 0 {
		return nil, fmt.Errorf("analytics: clickhouse needs at least one address (stores.analytics.addrs)")
	}
	if !databaseName.MatchString(cfg.Database) {
		return nil, fmt.Errorf("analytics: %s: %q is not a database name (letters, digits, _)", where, cfg.Database)
	}
	options := func(database string) *clickhouse.Options {
		return &clickhouse.Options{
			Protocol:    clickhouse.Native,
			Addr:        cfg.Addrs,
			Auth:        clickhouse.Auth{Database: database, Username: cfg.Username, Password: cfg.Password},
			DialTimeout: o.timeout, // also bounds the handshake
			ClientInfo:  clickhouse.ClientInfo{Products: []struct{ Name, Version string }{{Name: "shopstream"}}},
		}
	}
	connect := func(database string) *sql.DB { return clickhouse.OpenDB(options(database)) }

	// A connection naming a missing database is refused: create it from
	// one to the user's default database first.
	boot := connect("")
	defer boot.Close()
	if err := sqlstore.RoundTrip(ctx, boot, o.timeout); err != nil {
		return nil, fmt.Errorf("analytics: %s did not answer within %s: %w", where, o.timeout, err)
	}
	create, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if _, err := boot.ExecContext(create, "CREATE DATABASE IF NOT EXISTS "+cfg.Database); err != nil {
		return nil, fmt.Errorf("analytics: %s: create database %s: %w", where, cfg.Database, err)
	}

	db := connect(cfg.Database)
	native, err := clickhouse.Open(options(cfg.Database))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("analytics: %s: %w", where, err)
	}
	name := fmt.Sprintf("analytics database %s (%s)", cfg.Database, where)
	s := &sqlStore{Store: sqlstore.New(db, where, name, storeConfig(clickhouseDialect, o.timeout)), d: clickhouseDialect, where: where,
		native: native, closeNative: sync.OnceValue(native.Close)}
	if err := s.Health(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
