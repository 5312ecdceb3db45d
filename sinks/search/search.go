// Package search is the product search index: the listings (catalog item
// plus stock) the listing processor produces, indexed for full-text search,
// filters and facets, and the sink that keeps it current from the listings
// topic. It has two adapters behind one interface: Elasticsearch in
// production and Bleve, an embedded engine, in all-in-one. Both build their
// mapping from one field list (mapping.go) and their queries from one plan
// (query.go), version the mapping with internal/schema and pass the same
// contract suite (contract_test.go).
package search

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/topics"
)

// Store is the product search index.
type Store interface {
	schema.Store
	// Index writes listings in one bulk. A listing replaces the indexed one
	// only if its Version is higher, so a replay, a duplicate or a
	// reordering never regresses a document; the others count as Stale.
	// Listings that can never be indexed are Rejected, not an error. An
	// error means nothing is known about the batch: retry all of it.
	Index(ctx context.Context, listings []topics.Listing) (IndexStats, error)
	// Get returns the indexed listing of an item, listed or not.
	Get(ctx context.Context, itemID string) (topics.Listing, bool, error)
	// Search finds listed items. A bad query is a *QueryError.
	Search(ctx context.Context, q Query) (Result, error)
	// Suggest completes prefix (what a user has typed so far) to at most n
	// distinct titles of listed, in-stock items, most relevant first. n
	// above MaxSuggestions is capped; a bad n or prefix is a *QueryError.
	Suggest(ctx context.Context, prefix string, n int) ([]string, error)
}

// IndexStats says what Index did with each listing it was given.
type IndexStats struct {
	// Indexed counts listings newer than what the index held, written.
	Indexed int
	// Stale counts listings whose version the index already held, or a
	// newer one: left out, as a replay or a duplicate must be.
	Stale int
	// Rejected lists listings no retry can index.
	Rejected []Rejection
}

// Rejection is a listing Index refused, and why.
type Rejection struct {
	// Position is the listing's index in the slice given to Index.
	Position int
	ItemID   string
	Reason   string
}

// adapter is what each adapter implements on top of Store: its migrations
// and the recorder they write through, which the contract suite uses to
// fake an index migrated by a newer build, and refresh, which makes every
// write so far searchable (Elasticsearch otherwise does within its refresh
// interval).
type adapter interface {
	Store
	migrations() []schema.Migration
	recorder() schema.Recorder
	refresh(ctx context.Context) error
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
