package orderdb

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// DefaultTTL is how long an order waits for payment when the request does
// not say.
const DefaultTTL = 5 * time.Minute

// MaxLines bounds the lines of one order.
const MaxLines = 1000

// batchTimeout bounds one checkout batch, retries included: a batch under
// way when the store closes finishes within it.
const batchTimeout = 30 * time.Second

// checkoutCall is one Checkout waiting for its batch: the order it would
// create and its outbox records are built by the caller, so workers only
// talk to the database.
type checkoutCall struct {
	ctx    context.Context
	req    CheckoutRequest
	order  Order
	outbox []outboxRow
	// done gets the outcome, buffered so a caller that gave up never
	// blocks a worker (a call whose caller was gone before its batch
	// started gets none).
	done chan checkoutOutcome
}

type checkoutOutcome struct {
	res CheckoutResult
	err error
}

// Checkout queues the request for the next batch and waits for it. The
// order's lines come back in item order. A caller whose ctx ends gets
// ctx's error at once; its batch still commits or not as a whole, so the
// order may exist, and a retry with the same idempotency key returns it.
func (s *sqlStore) Checkout(ctx context.Context, req CheckoutRequest) (CheckoutResult, error) {
	c, err := newCheckoutCall(ctx, req)
	if err != nil {
		return CheckoutResult{}, err
	}
	select {
	case s.b.queue <- c:
	case <-s.b.closing:
		return CheckoutResult{}, ErrClosed
	case <-ctx.Done():
		return CheckoutResult{}, fmt.Errorf("orderdb: checkout for user %s: %w", req.UserID, ctx.Err())
	}
	select {
	case o := <-c.done:
		return o.res, o.err
	case <-ctx.Done():
		return CheckoutResult{}, fmt.Errorf("orderdb: checkout for user %s: %w", req.UserID, ctx.Err())
	}
}

// newCheckoutCall checks req against everything the schema holds it to,
// so that no request can fail the batch it shares, and builds its order.
func newCheckoutCall(ctx context.Context, req CheckoutRequest) (*checkoutCall, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	e, err := lifecycle.Next(lifecycle.None, lifecycle.Checkout)
	if err != nil {
		return nil, err
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	at := now()
	lines := slices.Clone(req.Lines)
	slices.SortFunc(lines, func(a, b Line) int { return strings.Compare(a.ItemID, b.ItemID) })
	o := Order{
		OrderID: topics.NewID(), UserID: req.UserID, Status: e.Next, Lines: lines,
		Currency: req.Currency, PrimeTrial: req.PrimeTrial,
		CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(ttl).Truncate(time.Microsecond), Version: 1,
		Timeline: []Transition{{Status: e.Next, At: at, Reason: e.Reason}},
	}
	data := topics.OrderCreated{OrderID: o.OrderID, UserID: o.UserID, Lines: make([]topics.OrderLine, len(lines)),
		Currency: o.Currency, ExpiresAt: o.ExpiresAt, PrimeTrial: o.PrimeTrial}
	for i, l := range lines {
		o.TotalCents += l.Quantity * l.PriceCents
		data.Lines[i] = topics.OrderLine(l)
	}
	data.TotalCents = o.TotalCents
	created, err := newOutboxRow(topics.OrderEvents, e.Event, o.OrderID, data, at)
	if err != nil {
		return nil, fmt.Errorf("orderdb: checkout for user %s: %w", req.UserID, err)
	}
	c := &checkoutCall{ctx: ctx, req: req, order: o, outbox: []outboxRow{created}, done: make(chan checkoutOutcome, 1)}
	if req.FromCart {
		// The lines the order took, not "all": the shopper may have added
		// to the cart since the checkout read it.
		took := make([]topics.ClearedLine, len(o.Lines))
		for i, l := range o.Lines {
			took[i] = topics.ClearedLine{ItemID: l.ItemID, Quantity: l.Quantity}
		}
		cleared, err := newOutboxRow(topics.CartCommands, topics.TypeCartCleared, o.UserID,
			topics.CartCleared{UserID: o.UserID, OrderID: o.OrderID, Lines: took}, at)
		if err != nil {
			return nil, fmt.Errorf("orderdb: checkout for user %s: %w", req.UserID, err)
		}
		c.outbox = append(c.outbox, cleared)
	}
	if req.PrimeTrial {
		// The trial starts with the order or not at all: its command
		// commits with it, the order's total as the spend at signup.
		trialAt := at
		if !req.TrialAt.IsZero() {
			trialAt = req.TrialAt.UTC()
		}
		trial, err := newOutboxRow(topics.MembershipCommands, topics.TypeMembershipTrialRequested, o.UserID,
			topics.MembershipTrialRequested{UserID: o.UserID, SpendCents: o.TotalCents, Currency: o.Currency, OrderID: o.OrderID}, trialAt)
		if err != nil {
			return nil, fmt.Errorf("orderdb: checkout for user %s: %w", req.UserID, err)
		}
		c.outbox = append(c.outbox, trial)
	}
	return c, nil
}

// validate refuses what the schema would: ids (the project's id rule),
// distinct items, positive quantities, prices and a total that fit.
func validate(req CheckoutRequest) error {
	bad := func(format string, args ...any) error {
		return invalidf("orderdb: checkout for user %q: "+format, append([]any{req.UserID}, args...)...)
	}
	switch {
	case !ingest.IsID(req.UserID):
		return bad("the user id is not an id")
	case len(req.Lines) == 0 || len(req.Lines) > MaxLines:
		return bad("%d lines; an order has 1 to %d", len(req.Lines), MaxLines)
	case !topics.KnownCurrency(req.Currency):
		return bad("unknown currency %q", req.Currency)
	case len(req.IdempotencyKey) > 128 || strings.ContainsFunc(req.IdempotencyKey, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		return bad("the idempotency key must be at most 128 printable ASCII characters")
	case len(req.RequestHash) > 128 || strings.ContainsFunc(req.RequestHash, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		return bad("the request hash must be at most 128 printable ASCII characters")
	case req.TTL < 0:
		return bad("negative TTL %s", req.TTL)
	}
	seen := make(map[string]bool, len(req.Lines))
	var total int64
	for i, l := range req.Lines {
		switch {
		case !ingest.IsID(l.ItemID):
			return bad("line %d: item id %q is not an id", i+1, l.ItemID)
		case seen[l.ItemID]:
			return bad("line %d repeats item %s: merge the lines", i+1, l.ItemID)
		case l.Quantity < 1:
			return bad("line %d (item %s): quantity %d is not positive", i+1, l.ItemID, l.Quantity)
		case l.PriceCents < 0:
			return bad("line %d (item %s): negative price %d", i+1, l.ItemID, l.PriceCents)
		case l.PriceCents > 0 && l.Quantity > (math.MaxInt64-total)/l.PriceCents:
			return bad("line %d (item %s): the order total overflows", i+1, l.ItemID)
		}
		seen[l.ItemID] = true
		total += l.Quantity * l.PriceCents
	}
	return nil
}

// batcher group-commits checkouts: each worker takes every call waiting
// (up to max) and runs them in one transaction.
type batcher struct {
	s     *sqlStore
	max   int
	queue chan *checkoutCall // unbuffered: a call is either taken or still its caller's
	// closing ends intake; stop waits for the workers.
	closing  chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func startBatcher(s *sqlStore, workers, max int) *batcher {
	b := &batcher{s: s, max: max, queue: make(chan *checkoutCall), closing: make(chan struct{})}
	b.wg.Add(workers)
	for range workers {
		go b.work()
	}
	return b
}

// stop ends intake, fails the calls taken but not started, and waits for
// the batches under way (each bounded by batchTimeout).
func (b *batcher) stop() {
	b.stopOnce.Do(func() { close(b.closing) })
	b.wg.Wait()
}

func (b *batcher) work() {
	defer b.wg.Done()
	batch := make([]*checkoutCall, 0, b.max)
	for {
		select {
		case <-b.closing:
			return
		case c := <-b.queue:
			batch = append(batch[:0], c)
		}
	gather:
		for len(batch) < b.max {
			select {
			case c := <-b.queue:
				batch = append(batch, c)
			default:
				break gather
			}
		}
		select {
		case <-b.closing:
			for _, c := range batch {
				c.done <- checkoutOutcome{err: ErrClosed}
			}
			return
		default:
		}
		b.s.runBatch(batch)
	}
}

// runBatch runs calls in one transaction, again if it lost a lock race or
// met an idempotency key another batch stored meanwhile, and gives every
// call its outcome.
func (s *sqlStore) runBatch(calls []*checkoutCall) {
	live := make([]*checkoutCall, 0, len(calls))
	for _, c := range calls {
		if c.ctx.Err() != nil {
			continue // its caller has had ctx's error: take no order for it
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var outs []checkoutOutcome
	again := func(err error) bool { return s.d.retryable(err) || s.d.duplicate(err) }
	err := retry(ctx, again, func() error {
		return s.tx(ctx, s.d.txOptions, func(tx *sql.Tx) (err error) {
			outs, err = s.checkoutBatch(ctx, tx, live)
			return err
		})
	})
	for i, c := range live {
		if err != nil {
			c.done <- checkoutOutcome{err: fmt.Errorf("orderdb: checkout for user %s (in a batch of %d): %w", c.req.UserID, len(live), err)}
			continue
		}
		c.done <- outs[i]
	}
}

// idemKey is an idempotency key, unique per user.
type idemKey struct{ user, key string }

// claim is what an idempotency key stands for: the request hash and
// either the call of this batch that took it or a stored order id.
type claim struct {
	hash    string
	call    *checkoutCall
	orderID string
}

// checkoutBatch is one batch's transaction, up to the commit: it returns
// an outcome per call, in order.
func (s *sqlStore) checkoutBatch(ctx context.Context, tx *sql.Tx, calls []*checkoutCall) ([]checkoutOutcome, error) {
	claims, err := storedKeys(ctx, tx, calls)
	if err != nil {
		return nil, err
	}
	sellable, err := lockStock(ctx, tx, s.d, calls)
	if err != nil {
		return nil, err
	}

	// Allocate in arrival order: a call gets every line or nothing.
	outs := make([]checkoutOutcome, len(calls))
	taken := map[string]int64{}
	var accepted []*checkoutCall
	replays := map[int]string{} // call index -> stored order id
	for i, c := range calls {
		k := idemKey{c.req.UserID, c.req.IdempotencyKey}
		if k.key != "" {
			if cl, ok := claims[k]; ok {
				switch {
				case cl.hash != c.req.RequestHash:
					outs[i].err = fmt.Errorf("orderdb: checkout for user %s with idempotency key %q: %w", k.user, k.key, ErrIdempotencyConflict)
				case cl.call != nil:
					outs[i].res = CheckoutResult{Order: cl.call.order, Replayed: true}
				default:
					replays[i] = cl.orderID
				}
				continue
			}
		}
		var short []Shortage
		for _, l := range c.order.Lines {
			if have := sellable[l.ItemID]; have < l.Quantity {
				short = append(short, Shortage{ItemID: l.ItemID, Requested: l.Quantity, Available: max(have, 0)})
			}
		}
		if short != nil {
			outs[i].err = &InsufficientStockError{Short: short}
			continue
		}
		for _, l := range c.order.Lines {
			sellable[l.ItemID] -= l.Quantity
			taken[l.ItemID] += l.Quantity
		}
		accepted = append(accepted, c)
		outs[i].res = CheckoutResult{Order: c.order}
		if k.key != "" {
			claims[k] = claim{hash: c.req.RequestHash, call: c}
		}
	}

	if err := changeCommitted(ctx, tx, unitsByItem(taken), true); err != nil {
		return nil, err
	}
	if err := insertOrders(ctx, tx, accepted); err != nil {
		return nil, err
	}
	if len(replays) > 0 {
		ids := make([]string, 0, len(replays))
		for _, id := range replays {
			ids = append(ids, id)
		}
		os, err := loadOrders(ctx, tx, s.d, ids, true, false)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]Order, len(os))
		for _, o := range os {
			byID[o.OrderID] = o
		}
		for i, id := range replays {
			if o, ok := byID[id]; ok {
				outs[i].res = CheckoutResult{Order: o, Replayed: true}
			} else {
				outs[i].err = fmt.Errorf("orderdb: checkout for user %s: the idempotency key's order %s has left the database: %w",
					calls[i].req.UserID, id, ErrOrderNotFound)
			}
		}
	}
	return outs, nil
}

// storedKeys reads the idempotency keys of calls already stored.
func storedKeys(ctx context.Context, q querier, calls []*checkoutCall) (map[idemKey]claim, error) {
	claims := map[idemKey]claim{}
	var keys []idemKey
	for _, c := range calls {
		if c.req.IdempotencyKey != "" {
			keys = append(keys, idemKey{c.req.UserID, c.req.IdempotencyKey})
		}
	}
	err := chunks(keys, idChunk, func(part []idemKey) error {
		where := make([]string, len(part))
		args := make([]any, 0, 2*len(part))
		for i, k := range part {
			where[i] = "(user_id = ? AND idem_key = ?)"
			args = append(args, k.user, k.key)
		}
		return each(ctx, q, "SELECT user_id, idem_key, request_hash, order_id FROM idempotency_keys WHERE "+strings.Join(where, " OR "), args,
			func(rows *sql.Rows) error {
				var k idemKey
				var cl claim
				if err := rows.Scan(&k.user, &k.key, &cl.hash, &cl.orderID); err != nil {
					return err
				}
				claims[k] = cl
				return nil
			})
	})
	return claims, err
}

// lockStock reads the sellable stock of every item of calls, locking the
// rows in item order; an item without a row has none.
func lockStock(ctx context.Context, q querier, d *dialect, calls []*checkoutCall) (map[string]int64, error) {
	sellable := map[string]int64{}
	for _, c := range calls {
		for _, l := range c.order.Lines {
			sellable[l.ItemID] = 0
		}
	}
	items := make([]string, 0, len(sellable))
	for item := range sellable {
		items = append(items, item)
	}
	slices.Sort(items)
	err := chunks(items, idChunk, func(part []string) error {
		return each(ctx, q, "SELECT item_id, on_hand - committed FROM stock WHERE item_id IN ("+placeholders(len(part))+") ORDER BY item_id"+d.forUpdate,
			anys(part), func(rows *sql.Rows) error {
				var item string
				var n int64
				if err := rows.Scan(&item, &n); err != nil {
					return err
				}
				sellable[item] = n
				return nil
			})
	})
	return sellable, err
}

var (
	orderInsertColumns = []string{"order_id", "user_id", "status", "total_cents", "currency", "prime_trial", "payment_id",
		"created_at", "updated_at", "expires_at", "version"}
	lineColumns = []string{"order_id", "item_id", "quantity", "price_cents"}
	keyColumns  = []string{"user_id", "idem_key", "request_hash", "order_id", "created_at"}
)

// orderRows are the values of whole orders' rows (orders, order_lines,
// order_timeline), for one multi-row INSERT per table.
type orderRows struct{ orders, lines, timeline []any }

// add appends o's rows.
func (r *orderRows) add(o *Order) {
	r.orders = append(r.orders, o.OrderID, o.UserID, o.Status, o.TotalCents, o.Currency, o.PrimeTrial, o.PaymentID,
		o.CreatedAt, o.UpdatedAt, o.ExpiresAt, o.Version)
	for _, l := range o.Lines {
		r.lines = append(r.lines, o.OrderID, l.ItemID, l.Quantity, l.PriceCents)
	}
	for i, t := range o.Timeline {
		r.timeline = append(r.timeline, o.OrderID, i+1, t.Status, t.Reason, t.At)
	}
}

// insert writes the rows in q.
func (r *orderRows) insert(ctx context.Context, q querier) error {
	for _, ins := range []struct {
		table   string
		columns []string
		vals    []any
	}{
		{"orders", orderInsertColumns, r.orders},
		{"order_lines", lineColumns, r.lines},
		{"order_timeline", timelineColumns, r.timeline},
	} {
		if err := insertRows(ctx, q, ins.table, ins.columns, ins.vals); err != nil {
			return err
		}
	}
	return nil
}

// insertOrders writes the accepted calls' orders, lines, first
// transitions, idempotency keys and outbox records, a few multi-row
// INSERTs for the whole batch.
func insertOrders(ctx context.Context, q querier, calls []*checkoutCall) error {
	if len(calls) == 0 {
		return nil
	}
	var rows orderRows
	var keys []any
	var outbox []outboxRow
	for _, c := range calls {
		o := &c.order
		rows.add(o)
		if c.req.IdempotencyKey != "" {
			keys = append(keys, o.UserID, c.req.IdempotencyKey, c.req.RequestHash, o.OrderID, o.CreatedAt)
		}
		outbox = append(outbox, c.outbox...)
	}
	if err := rows.insert(ctx, q); err != nil {
		return err
	}
	if err := insertRows(ctx, q, "idempotency_keys", keyColumns, keys); err != nil {
		return err
	}
	return writeOutbox(ctx, q, outbox)
}
