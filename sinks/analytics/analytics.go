// Package analytics is the analytics store the analytics sink writes
// membership and order events into and the BI queries (Prime trial
// cohorts) read. It has two adapters with one logical schema: SQLite
// (modernc.org/sqlite, embedded, for all-in-one) and ClickHouse
// (production, native protocol).
package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
)

// Store is the analytics database. Later versions add event writes and the
// cohort queries.
type Store interface {
	schema.Store
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
