package app

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/sinks/history"
	"github.com/shopstream/shopstream/sinks/search"
)

// StoreRole names a store role a process may need.
type StoreRole string

// The store roles of DESIGN.md.
const (
	OrdersStore    StoreRole = "orders"
	HistoryStore   StoreRole = "history"
	SearchStore    StoreRole = "search"
	AnalyticsStore StoreRole = "analytics"
)

// AllStores is what all-in-one opens.
var AllStores = []StoreRole{OrdersStore, HistoryStore, SearchStore, AnalyticsStore}

// Stores holds the opened, migrated stores; a role not asked for is nil.
type Stores struct {
	Orders    orderdb.Store
	History   history.Store
	Search    search.Store
	Analytics analytics.Store
}

// openStores connects and migrates each role in roles, in order, and
// registers its health as a readiness check. A store that is down stops the
// start with an error naming it and its address (the adapters bound every
// connection attempt).
func (a *App) openStores(ctx context.Context, roles []StoreRole) error {
	cfg := a.Config
	for _, role := range roles {
		var (
			s      schema.Store
			driver string
			err    error
		)
		switch role {
		case OrdersStore:
			driver = cfg.Stores.Orders.Driver
			a.Stores.Orders, err = orderdb.Open(ctx, cfg.Stores.Orders, cfg.DataDir)
			s = a.Stores.Orders
		case HistoryStore:
			driver = cfg.Stores.History.Driver
			a.Stores.History, err = history.Open(ctx, cfg.Stores.History, cfg.DataDir)
			s = a.Stores.History
		case SearchStore:
			driver = cfg.Stores.Search.Driver
			a.Stores.Search, err = search.Open(ctx, cfg.Stores.Search, cfg.DataDir)
			s = a.Stores.Search
		case AnalyticsStore:
			driver = cfg.Stores.Analytics.Driver
			a.Stores.Analytics, err = analytics.Open(ctx, cfg.Stores.Analytics, cfg.DataDir)
			s = a.Stores.Analytics
		default:
			return fmt.Errorf("app: unknown store role %q", role)
		}
		if err != nil {
			return fmt.Errorf("app: %s store (%s): %w", role, driver, err)
		}
		a.closers = append(a.closers, func(context.Context) error { return s.Close() })
		started := time.Now()
		if err := s.Migrate(ctx); err != nil {
			return fmt.Errorf("app: %s store (%s): %w", role, driver, err)
		}
		v, _ := s.SchemaVersion(ctx)
		a.Log.Info("store ready", "role", role, "driver", driver, "schema_version", v, "took", time.Since(started).Round(time.Millisecond))
		a.Health.Register(fmt.Sprintf("store %s (%s)", role, driver), func() error {
			hctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return s.Health(hctx)
		})
	}
	return nil
}
