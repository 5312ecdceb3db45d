// Package history is the order history store: where delivered and canceled
// orders go when they leave the order-taking database, read back by order
// id and by user, newest first. It has two adapters behind one interface:
// Cassandra in production and an embedded LevelDB engine (goleveldb) in
// all-in-one. Both version their schema with internal/schema and pass the
// same contract suite (contract_test.go).
package history

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
)

// Store is the order history store. For now it has only the lifecycle;
// writes and reads of migrated orders come with the migration itself.
type Store interface {
	schema.Store
}

// adapter is what each adapter implements on top of Store: its migrations
// and the recorder they write through, which the contract suite uses to
// fake a store migrated by a newer build.
type adapter interface {
	Store
	migrations() []schema.Migration
	recorder() schema.Recorder
}

// Option tunes Open.
type Option func(*options)

type options struct {
	timeout time.Duration
	logger  *slog.Logger
}

// DefaultTimeout bounds connecting to Cassandra and each request to it.
const DefaultTimeout = 5 * time.Second

// Timeout bounds connecting to Cassandra and each request to it (default
// DefaultTimeout). The embedded adapter ignores it.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Logger receives the Cassandra driver's own messages (reconnects, schema
// disagreement) as warnings; the default is slog.Default().
func Logger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Open opens the history store cfg.Driver names: "embedded" keeps it under
// dataDir/history, "cassandra" connects to cfg.Hosts. It does not migrate;
// call Migrate before use.
func Open(ctx context.Context, cfg config.HistoryStore, dataDir string, opts ...Option) (Store, error) {
	a, err := open(ctx, cfg, dataDir, opts...)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// open is Open returning the adapter, so the contract suite reaches its
// recorder without a type switch per adapter.
func open(ctx context.Context, cfg config.HistoryStore, dataDir string, opts ...Option) (adapter, error) {
	o := options{timeout: DefaultTimeout, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	switch cfg.Driver {
	case "embedded":
		return openLevelDB(dataDir)
	case "cassandra":
		return openCassandra(ctx, cfg, o)
	default:
		return nil, fmt.Errorf("history: unknown driver %q (want embedded or cassandra)", cfg.Driver)
	}
}
