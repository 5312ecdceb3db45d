// Package search is the product search index: the items the catalog and
// inventory processors produce, indexed for full-text search, filters and
// facets. It has two adapters behind one interface: Elasticsearch in
// production and Bleve, an embedded engine, in all-in-one. Both build their
// mapping from one field list (mapping.go), version it with internal/schema
// and pass the same contract suite (contract_test.go).
package search

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
)

// Store is the product search index. For now it has only the lifecycle;
// indexing and queries come with the search sink.
type Store interface {
	schema.Store
}

// adapter is what each adapter implements on top of Store: its migrations
// and the recorder they write through, which the contract suite uses to
// fake an index migrated by a newer build.
type adapter interface {
	Store
	migrations() []schema.Migration
	recorder() schema.Recorder
}

// Option tunes Open.
type Option func(*options)

type options struct {
	timeout  time.Duration
	replicas *int
}

// DefaultTimeout bounds connecting to Elasticsearch, and Open's first
// request to it.
const DefaultTimeout = 5 * time.Second

// Timeout bounds connecting to Elasticsearch, and Open's first request to
// it (default DefaultTimeout). Bleve ignores it.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Replicas sets number_of_replicas of an Elasticsearch index the migrations
// create; without it the cluster's default applies (1, which leaves a
// single-node cluster yellow). Bleve ignores it.
func Replicas(n int) Option { return func(o *options) { o.replicas = &n } }

// Open opens the search index cfg.Driver names: "bleve" keeps it under
// dataDir/search/<cfg.Index>, "elasticsearch" talks to cfg.URLs. It does
// not migrate; call Migrate before use.
func Open(ctx context.Context, cfg config.SearchStore, dataDir string, opts ...Option) (Store, error) {
	a, err := open(ctx, cfg, dataDir, opts...)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// open is Open returning the adapter, so the contract suite reaches its
// recorder without a type switch per adapter.
func open(ctx context.Context, cfg config.SearchStore, dataDir string, opts ...Option) (adapter, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.Index == "" {
		return nil, fmt.Errorf("search: no index name configured (stores.search.index)")
	}
	switch cfg.Driver {
	case "bleve":
		return openBleve(dataDir, cfg.Index)
	case "elasticsearch":
		return openElastic(ctx, cfg, o)
	default:
		return nil, fmt.Errorf("search: unknown driver %q (want bleve or elasticsearch)", cfg.Driver)
	}
}
