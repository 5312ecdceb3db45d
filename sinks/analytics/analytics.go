// Package analytics is the analytics sink and its store: the Sink writes
// membership and order events into the store, which answers the BI
// queries (the Prime trial cohorts, docs/analytics.md) and counts the
// events for reconcile. The store has two adapters with one logical
// schema: SQLite (modernc.org/sqlite, embedded, for all-in-one) and
// ClickHouse (production, native protocol).
package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/sinks/analytics/cohort"
)

// Store is the analytics database: its schema lifecycle, the sink's writes
// and the queries. Both adapters give the same numbers for the same events.
type Store interface {
	schema.Store
	// WriteEvents stores events (each valid: Event.Validate), in one batch.
	// It is idempotent: events written again, in any order, in any batches,
	// leave the store as writing each once would. An error may leave part
	// of the batch written; writing it again completes it.
	WriteEvents(ctx context.Context, events []Event) error
	// PrimeCohorts counts the trials of every signup week from the week of
	// from through the week of to that has at least one, oldest first, by
	// spend bucket, as of now: trials ending after now are pending.
	PrimeCohorts(ctx context.Context, from, to, now time.Time) ([]CohortWeek, error)
	// EventCounts counts the distinct events stored, by type, for reconcile
	// against the topics.
	EventCounts(ctx context.Context) (map[string]int64, error)
}

// CohortWeek is one signup week's trials in the two spend buckets.
type CohortWeek struct {
	// Week is the Monday 00:00 UTC the week starts (cohort.Week).
	Week time.Time
	// Over100 spent more than $100.00 at signup; UpTo100 spent $100.00 or
	// less, no purchase included.
	Over100, UpTo100 cohort.Counts
}

// DefaultTimeout bounds connecting, the first ping and every health check.
const DefaultTimeout = 5 * time.Second

type options struct {
	timeout time.Duration
}

// Option changes how Open connects.
type Option func(*options)

// Timeout bounds connecting, the first ping and every health check
// (default DefaultTimeout).
func Timeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// Open connects to the database cfg names, creating it if missing, and
// checks that it answers. It does not migrate: call Migrate. The SQLite
// adapter keeps its file at dataDir/analytics.db.
func Open(ctx context.Context, cfg config.AnalyticsStore, dataDir string, opts ...Option) (Store, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	switch cfg.Driver {
	case "sqlite":
		return openSQLite(ctx, dataDir, o)
	case "clickhouse":
		return openClickHouse(ctx, cfg, o)
	default:
		return nil, fmt.Errorf("analytics: unknown driver %q: use sqlite or clickhouse", cfg.Driver)
	}
}
