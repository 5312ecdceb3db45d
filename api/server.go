package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/processors/inventory"
	"github.com/shopstream/shopstream/sinks/search"
)

// Catalog reads the catalog and inventory processors' tables (goka views
// in production): an item and its live stock.
type Catalog interface {
	Item(itemID string) (catalog.Item, bool, error)
	Stock(itemID string) (inventory.Stock, bool, error)
}

// Searcher is the part of the search index the API queries.
type Searcher interface {
	Search(ctx context.Context, q search.Query) (search.Result, error)
	Suggest(ctx context.Context, prefix string, n int) ([]string, error)
}

// Authorizer decides whether a request may use an admin route. Real
// authentication arrives with the auth issue; until then AllowAll is the
// default, and deployments put the admin routes behind their gateway.
type Authorizer func(r *http.Request) error

// AllowAll lets every request through.
func AllowAll(*http.Request) error { return nil }

// Server serves the catalog, admin item and search routes.
type Server struct {
	producer   *eventlog.Producer
	catalog    Catalog
	search     Searcher
	log        *slog.Logger
	admin      Authorizer
	ackTimeout time.Duration
}

// Option configures a Server.
type Option func(*Server)

// Admin sets the authorizer of the admin routes (default AllowAll).
func Admin(a Authorizer) Option { return func(s *Server) { s.admin = a } }

// Logger sets the logger for failures the client only sees as a 500.
func Logger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// New returns a Server producing through producer and reading through
// catalog and searcher.
func New(producer *eventlog.Producer, cat Catalog, searcher Searcher, opts ...Option) *Server {
	s := &Server{producer: producer, catalog: cat, search: searcher, log: slog.Default(), admin: AllowAll, ackTimeout: 10 * time.Second}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Mount adds the routes to mux.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/items/{item_id}", s.getItem)
	mux.HandleFunc("POST /v1/items", s.requireAdmin(s.createItem))
	mux.HandleFunc("PUT /v1/items/{item_id}", s.requireAdmin(s.putItem))
	mux.HandleFunc("GET /v1/search", s.searchItems)
	mux.HandleFunc("GET /v1/search/suggest", s.suggest)
	mux.HandleFunc("POST /v1/search/clicks", s.clicks)
}
