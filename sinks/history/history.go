// Package history is the order history store: where finished orders
// (delivered, canceled, refunded) go when they leave the order-taking
// database, read back whole by order id and by user, newest first, and the
// Migrator that moves them there. The store has two adapters behind one
// interface: Cassandra in production and an embedded LevelDB engine
// (goleveldb) in all-in-one. Both version their schema with
// internal/schema and pass the same contract suite (contract_test.go).
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
)

// Store is the order history store. Its orders are orderdb.Order values,
// whole: lines and timeline included.
type Store interface {
	schema.Store

	// Put writes orders whole and returns once every one is durable (on
	// disk, or acknowledged at the configured consistency). It is an
	// idempotent upsert: writing an order again changes nothing, and of
	// two copies of one order the one with the later UpdatedAt wins,
	// whatever order they are written in.
	Put(ctx context.Context, orders []orderdb.Order) error
	// Order reads one order: ErrNotFound when the store does not hold it.
	Order(ctx context.Context, orderID string) (orderdb.Order, error)
	// UserOrders pages a user's orders newest first: created_at to the
	// microsecond descending, then order id descending, as the
	// order-taking database pages them, so the merged orders view compares
	// positions in both alike. before is the zero Cursor for the first
	// page; next is the zero Cursor after the last page. A limit above
	// MaxPage gets MaxPage; below 1 is orderdb.ErrInvalid.
	UserOrders(ctx context.Context, userID string, before Cursor, limit int) (orders []orderdb.Order, next Cursor, err error)
	// EachOrder visits every order once, in no particular order, for
	// reconcile; fn may use the store.
	EachOrder(ctx context.Context, fn func(orderdb.Order) error) error
}

// ErrNotFound is an order the history store does not hold.
var ErrNotFound = errors.New("history: no such order")

// MaxPage bounds a page of UserOrders, as it does the order-taking
// database's.
const MaxPage = orderdb.MaxPage

// Cursor is a position in a user's orders: the page that starts at it
// holds the orders after (created_at, order_id) in newest-first order.
// New orders never shift the pages after it.
type Cursor struct {
	CreatedAt time.Time
	OrderID   string
}

// IsZero reports whether c is the start, before the newest order.
func (c Cursor) IsZero() bool { return c.OrderID == "" }

// CursorOf is the position right after o.
func CursorOf(o orderdb.Order) Cursor { return Cursor{CreatedAt: o.CreatedAt, OrderID: o.OrderID} }

// checkPage refuses a page size below 1 and caps one above MaxPage.
func checkPage(userID string, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("history: orders of user %s: page size %d is not positive: %w", userID, limit, orderdb.ErrInvalid)
	}
	return min(limit, MaxPage), nil
}

// cut ends a page read one order long at limit, with the cursor after it.
func cut(page []orderdb.Order, limit int) ([]orderdb.Order, Cursor, error) {
	if len(page) <= limit {
		return page, Cursor{}, nil
	}
	page = page[:limit]
	return page, CursorOf(page[limit-1]), nil
}

// checkOrders refuses orders whose ids cannot be keys: an empty id, or a
// user id with the byte that ends one in the embedded store's keys.
func checkOrders(orders []orderdb.Order) error {
	for _, o := range orders {
		if o.OrderID == "" || o.UserID == "" || strings.ContainsRune(o.UserID, 0) {
			return fmt.Errorf("history: put order %q of user %q: ids must be non-empty, the user id without NUL: %w", o.OrderID, o.UserID, orderdb.ErrInvalid)
		}
	}
	return nil
}

// encode is how both adapters store an order: its JSON, the shape the
// REST edge shows.
func encode(o orderdb.Order) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("history: encode order %s: %w", o.OrderID, err)
	}
	return b, nil
}

func decode(where string, body []byte) (orderdb.Order, error) {
	var o orderdb.Order
	if err := json.Unmarshal(body, &o); err != nil || o.OrderID == "" {
		return orderdb.Order{}, fmt.Errorf("history: %s does not hold an order (%d bytes): %v", where, len(body), err)
	}
	return o, nil
}

// adapter is what each adapter implements on top of Store: its migrations,
// the recorder they write through, which the contract suite uses to fake a
// store migrated by a newer build, and Migrate stopping at a version, with
// which it makes an older one.
type adapter interface {
	Store
	migrations() []schema.Migration
	recorder() schema.Recorder
	migrateTo(ctx context.Context, version int) error
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
