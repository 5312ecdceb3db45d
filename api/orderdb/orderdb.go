// Package orderdb is the order-taking database behind checkout: sellable
// stock, the supplier events already applied to it and, in later versions,
// orders, their lines and the outbox, all changed in ACID transactions. It
// has two adapters with one schema: SQLite (modernc.org/sqlite, embedded,
// for all-in-one) and MySQL/MariaDB (production).
package orderdb

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
)

// Store is the order-taking database. Later versions add checkout, stock
// updates and the outbox.
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

// Open connects to the database cfg names and checks that it answers. It
// does not migrate: call Migrate. dataDir holds the SQLite file when
// cfg.DSN is empty.
func Open(ctx context.Context, cfg config.OrdersStore, dataDir string, opts ...Option) (Store, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	switch cfg.Driver {
	case "sqlite":
		return openSQLite(ctx, cfg.DSN, dataDir, o)
	case "mysql":
		return openMySQL(ctx, cfg.DSN, o)
	default:
		return nil, fmt.Errorf("orderdb: unknown driver %q: use sqlite or mysql", cfg.Driver)
	}
}
