package analytics

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

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
	}},
	insertEvent: "INSERT INTO events (" + eventColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)",
	final:       " FINAL",
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
	connect := func(database string) *sql.DB {
		return clickhouse.OpenDB(&clickhouse.Options{
			Protocol:    clickhouse.Native,
			Addr:        cfg.Addrs,
			Auth:        clickhouse.Auth{Database: database, Username: cfg.Username, Password: cfg.Password},
			DialTimeout: o.timeout, // also bounds the handshake
			ClientInfo:  clickhouse.ClientInfo{Products: []struct{ Name, Version string }{{Name: "shopstream"}}},
		})
	}

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
	name := fmt.Sprintf("analytics database %s (%s)", cfg.Database, where)
	s := &sqlStore{sqlstore.New(db, where, name, storeConfig(clickhouseDialect, o.timeout)), clickhouseDialect}
	if err := s.Health(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}
