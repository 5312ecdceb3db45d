package orderdb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// ordersContract is the behaviour of the order-taking database, run on
// every adapter by contract.
func ordersContract(t *testing.T, fresh freshDB) {
	t.Run("v2-keeps-v1-stock-and-holds-its-constraints", func(t *testing.T) {
		db := fresh(t)
		s := open(t, db)
		if err := schema.Migrate(ctx(t), "v1 only", s.Recorder(), migrations(s.d, s.DB())[:1]); err != nil {
			t.Fatalf("migrate to v1: %v", err)
		}
		insertStock(t, s, "item-1", 5, now())
		if err := s.Migrate(ctx(t)); err != nil {
			t.Fatalf("migrate v1 to v2: %v", err)
		}
		if got := stockOf(t, s, "item-1"); got != (StockRow{ItemID: "item-1", OnHand: 5, Committed: 0, Version: 1}) {
			t.Fatalf("after v2: %+v", got)
		}
		refused := map[string]string{
			"negative committed": "UPDATE stock SET committed = -1 WHERE item_id = 'item-1'",
			"zero quantity":      "INSERT INTO order_lines (order_id, item_id, quantity, price_cents) VALUES ('o', 'i', 0, 1)",
			"duplicate line":     "INSERT INTO order_lines (order_id, item_id, quantity, price_cents) VALUES ('o', 'i', 1, 1), ('o', 'i', 2, 1)",
		}
		for what, q := range refused {
			if _, err := s.DB().ExecContext(ctx(t), q); err == nil {
				t.Errorf("%s accepted", what)
			}
		}
	})

	t.Run("checkout-happy-path", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 10)
		setStock(t, s, "item-b", 5)
		req := CheckoutRequest{
			UserID: "user-1", Currency: "USD", PrimeTrial: true, FromCart: true, TTL: 10 * time.Minute,
			Lines: []Line{{ItemID: "item-b", Quantity: 2, PriceCents: 300}, {ItemID: "item-a", Quantity: 1, PriceCents: 1000}},
		}
		res, err := s.Checkout(ctx(t), req)
		if err != nil || res.Replayed {
			t.Fatalf("checkout: %+v, %v", res, err)
		}
		o := res.Order
		want := Order{
			OrderID: o.OrderID, UserID: "user-1", Status: lifecycle.Created, TotalCents: 1600, Currency: "USD", PrimeTrial: true,
			Lines:     []Line{{ItemID: "item-a", Quantity: 1, PriceCents: 1000}, {ItemID: "item-b", Quantity: 2, PriceCents: 300}},
			CreatedAt: o.CreatedAt, UpdatedAt: o.CreatedAt, ExpiresAt: o.CreatedAt.Add(10 * time.Minute), Version: 1,
			Timeline: []Transition{{Status: lifecycle.Created, At: o.CreatedAt}},
		}
		if o.OrderID == "" || o.CreatedAt.IsZero() || !reflect.DeepEqual(o, want) {
			t.Fatalf("checkout returned\n%+v\nwant\n%+v", o, want)
		}
		if back := orderOf(t, s, o.OrderID); !reflect.DeepEqual(back, o) {
			t.Fatalf("read back\n%+v\nwant\n%+v", back, o)
		}
		if a, b := stockOf(t, s, "item-a"), stockOf(t, s, "item-b"); a.OnHand != 10 || a.Committed != 1 || b.OnHand != 5 || b.Committed != 2 {
			t.Fatalf("stock after checkout: %+v %+v", a, b)
		}

		recs := pending(t, s)
		if len(recs) != 3 {
			t.Fatalf("%d outbox records, want order.created, cart.cleared and the trial's membership.trial_requested", len(recs))
		}
		created := decode(t, recs[0])
		wantCreated := topics.OrderCreated{OrderID: o.OrderID, UserID: "user-1", TotalCents: 1600, Currency: "USD", ExpiresAt: o.ExpiresAt, PrimeTrial: true,
			Lines: []topics.OrderLine{{ItemID: "item-a", Quantity: 1, PriceCents: 1000}, {ItemID: "item-b", Quantity: 2, PriceCents: 300}}}
		if recs[0].Topic != topics.OrderEvents || recs[0].Key != o.OrderID || created.Type != topics.TypeOrderCreated ||
			created.ID != recs[0].EventID || created.Key != o.OrderID || !created.OccurredAt.Equal(o.CreatedAt) ||
			!reflect.DeepEqual(created.Data, wantCreated) {
			t.Fatalf("order.created record %+v decodes to %+v, want data %+v", recs[0], created, wantCreated)
		}
		cleared := decode(t, recs[1])
		if recs[1].Topic != topics.CartCommands || recs[1].Key != "user-1" || cleared.Type != topics.TypeCartCleared ||
			!reflect.DeepEqual(cleared.Data, topics.CartCleared{UserID: "user-1", OrderID: o.OrderID,
				Lines: []topics.ClearedLine{{ItemID: "item-a", Quantity: 1}, {ItemID: "item-b", Quantity: 2}}}) {
			t.Fatalf("cart.cleared record %+v decodes to %+v", recs[1], cleared)
		}

		// Not from the cart: no cart.cleared; no TTL: the default.
		res, err = s.Checkout(ctx(t), CheckoutRequest{UserID: "user-1", Currency: "EUR", Lines: []Line{{ItemID: "item-a", Quantity: 3, PriceCents: 5}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Order.ExpiresAt.Sub(res.Order.CreatedAt); got != DefaultTTL {
			t.Errorf("expires %s after creation, want %s", got, DefaultTTL)
		}
		if recs := pending(t, s); len(recs) != 4 || decode(t, recs[3]).Type != topics.TypeOrderCreated {
			t.Errorf("outbox after a checkout not from the cart: %d records", len(recs))
		}
		if got := stockOf(t, s, "item-a"); got.Committed != 4 {
			t.Errorf("item-a committed %d, want 4", got.Committed)
		}
	})

	t.Run("prime-trial-writes-the-membership-command", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 10)
		req := buy("user-1", Line{"item-a", 3, 4000})
		req.PrimeTrial, req.IdempotencyKey, req.RequestHash = true, "key-1", "hash-1"
		res, err := s.Checkout(ctx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		o := res.Order
		recs := pending(t, s)
		if len(recs) != 2 || decode(t, recs[0]).Type != topics.TypeOrderCreated {
			t.Fatalf("%d outbox records, want order.created then membership.trial_requested", len(recs))
		}
		trial := decode(t, recs[1])
		want := topics.MembershipTrialRequested{UserID: "user-1", SpendCents: 12000, Currency: "USD", OrderID: o.OrderID}
		if recs[1].Topic != topics.MembershipCommands || recs[1].Key != "user-1" || trial.Type != topics.TypeMembershipTrialRequested ||
			trial.Data != want || !trial.OccurredAt.Equal(o.CreatedAt) {
			t.Fatalf("trial record on %s key %s decodes to %+v; want %+v at %s", recs[1].Topic, recs[1].Key, trial, want, o.CreatedAt)
		}
		drain(t, s)

		// A replay starts nothing again; a refused checkout starts no trial;
		// an order without the flag writes no membership command.
		if again, err := s.Checkout(ctx(t), req); err != nil || !again.Replayed {
			t.Fatalf("replay: %+v, %v", again, err)
		}
		short := buy("user-2", Line{"item-a", 11, 100})
		short.PrimeTrial = true
		var insufficient *InsufficientStockError
		if _, err := s.Checkout(ctx(t), short); !errors.As(err, &insufficient) {
			t.Fatalf("checkout beyond the stock: %v", err)
		}
		if recs := pending(t, s); len(recs) != 0 {
			t.Fatalf("a replay or a refused checkout wrote %d outbox records", len(recs))
		}
		checkout(t, s, "user-2", Line{"item-a", 1, 100})
		if recs := pending(t, s); len(recs) != 1 || recs[0].Topic != topics.OrderEvents {
			t.Fatalf("an order without prime_trial wrote %d outbox records", len(recs))
		}
	})

	t.Run("insufficient-stock-reserves-nothing", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 3)
		setStock(t, s, "item-b", 1)
		_, err := s.Checkout(ctx(t), buy("user-1", Line{"item-a", 2, 100}, Line{"item-b", 2, 100}, Line{"item-c", 1, 100}))
		var short *InsufficientStockError
		if !errors.As(err, &short) {
			t.Fatalf("got %v, want *InsufficientStockError", err)
		}
		want := []Shortage{{ItemID: "item-b", Requested: 2, Available: 1}, {ItemID: "item-c", Requested: 1, Available: 0}}
		if !reflect.DeepEqual(short.Short, want) {
			t.Fatalf("shortages %+v, want %+v", short.Short, want)
		}
		if a := stockOf(t, s, "item-a"); a.Committed != 0 {
			t.Fatalf("item-a committed %d after a refused checkout", a.Committed)
		}
		for _, table := range []string{"orders", "order_lines", "order_timeline", "outbox"} {
			if n := count(t, s, table); n != 0 {
				t.Errorf("%d rows in %s after a refused checkout", n, table)
			}
		}
		// What is there can still be sold.
		if _, err := s.Checkout(ctx(t), buy("user-1", Line{"item-a", 3, 100}, Line{"item-b", 1, 100})); err != nil {
			t.Fatalf("checkout of exactly what is sellable: %v", err)
		}
	})

	t.Run("malformed-checkouts-are-refused", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 10)
		ok := buy("user-1", Line{"item-a", 1, 100})
		bad := map[string]func(r *CheckoutRequest){
			"no lines":          func(r *CheckoutRequest) { r.Lines = nil },
			"repeated item":     func(r *CheckoutRequest) { r.Lines = []Line{{"item-a", 1, 100}, {"item-a", 2, 100}} },
			"zero quantity":     func(r *CheckoutRequest) { r.Lines = []Line{{"item-a", 0, 100}} },
			"negative price":    func(r *CheckoutRequest) { r.Lines = []Line{{"item-a", 1, -1}} },
			"overflowing total": func(r *CheckoutRequest) { r.Lines = []Line{{"item-a", 3, 1 << 62}} },
			"bad item id":       func(r *CheckoutRequest) { r.Lines = []Line{{"item a", 1, 100}} },
			"bad user id":       func(r *CheckoutRequest) { r.UserID = "" },
			"unknown currency":  func(r *CheckoutRequest) { r.Currency = "XXX" },
			"negative TTL":      func(r *CheckoutRequest) { r.TTL = -time.Second },
			"key with a space":  func(r *CheckoutRequest) { r.IdempotencyKey = "a b" },
		}
		for what, change := range bad {
			r := ok
			change(&r)
			if _, err := s.Checkout(ctx(t), r); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: got %v, want ErrInvalid", what, err)
			}
		}
		if n := count(t, s, "orders"); n != 0 {
			t.Fatalf("%d orders after malformed checkouts", n)
		}
	})

	t.Run("idempotent-replay", func(t *testing.T) {
		db := fresh(t)
		s := openMigrated(t, db)
		setStock(t, s, "item-a", 10)
		req := buy("user-1", Line{"item-a", 2, 100})
		req.IdempotencyKey, req.RequestHash = "key-1", "hash-1"
		first, err := s.Checkout(ctx(t), req)
		if err != nil || first.Replayed {
			t.Fatalf("first: %+v, %v", first, err)
		}
		again, err := s.Checkout(ctx(t), req)
		if err != nil || !again.Replayed || !reflect.DeepEqual(again.Order, first.Order) {
			t.Fatalf("replay: %+v, %v; want the first order replayed", again, err)
		}
		if got := stockOf(t, s, "item-a"); got.Committed != 2 || count(t, s, "orders") != 1 || count(t, s, "outbox") != 1 {
			t.Fatalf("a replay reserved or wrote again: %+v, %d orders, %d outbox", got, count(t, s, "orders"), count(t, s, "outbox"))
		}
		// The replay shows the order as it is now.
		if _, err := s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: first.Order.OrderID, Succeeded: true, PaymentID: "pay-1"}); err != nil {
			t.Fatal(err)
		}
		if again, err := s.Checkout(ctx(t), req); err != nil || again.Order.Status != lifecycle.Placed {
			t.Fatalf("replay after payment: %+v, %v", again, err)
		}

		other := req
		other.RequestHash = "hash-2"
		if _, err := s.Checkout(ctx(t), other); !errors.Is(err, ErrIdempotencyConflict) {
			t.Fatalf("same key, other body: got %v, want ErrIdempotencyConflict", err)
		}
		// Replay answers the same before any checkout is built.
		if o, found, err := s.Replay(ctx(t), "user-1", "key-1", "hash-1"); err != nil || !found || o.OrderID != first.Order.OrderID {
			t.Fatalf("Replay: %+v, %v, %v", o, found, err)
		}
		if _, _, err := s.Replay(ctx(t), "user-1", "key-1", "hash-2"); !errors.Is(err, ErrIdempotencyConflict) {
			t.Fatalf("Replay with another hash: %v", err)
		}
		if _, found, err := s.Replay(ctx(t), "user-1", "key-new", "hash-1"); err != nil || found {
			t.Fatalf("Replay of a new key: %v, %v", found, err)
		}
		// Keys are per user.
		otherUser := req
		otherUser.UserID = "user-2"
		if res, err := s.Checkout(ctx(t), otherUser); err != nil || res.Replayed {
			t.Fatalf("the same key for another user: %+v, %v", res, err)
		}

		// Many tries of one request at once, through two edge instances,
		// make one order.
		edges := []*sqlStore{s, open(t, db)}
		req.IdempotencyKey = "key-2"
		results := make([]CheckoutResult, 40)
		errs := make([]error, len(results))
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() { results[i], errs[i] = edges[i%2].Checkout(ctx(t), req) })
		}
		wg.Wait()
		firsts := 0
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("concurrent try %d: %v", i, errs[i])
			}
			if r.Order.OrderID != results[0].Order.OrderID {
				t.Fatalf("concurrent tries made orders %s and %s", r.Order.OrderID, results[0].Order.OrderID)
			}
			if !r.Replayed {
				firsts++
			}
		}
		if firsts != 1 || count(t, s, "orders") != 3 || stockOf(t, s, "item-a").Committed != 6 {
			t.Fatalf("%d tries not replayed, %d orders, committed %d; want 1, 3, 6", firsts, count(t, s, "orders"), stockOf(t, s, "item-a").Committed)
		}
	})

	t.Run("200-buyers-race-for-50-units", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "hot", 50)
		setStock(t, s, "x", 30)
		setStock(t, s, "y", 100)
		var wg sync.WaitGroup
		var mu sync.Mutex
		sold := map[string]int64{}
		for i := range 400 {
			req := buy(fmt.Sprintf("user-%d", i), Line{"hot", 1, 100})
			if i%2 == 1 { // a request needs both items or gets neither
				req = buy(fmt.Sprintf("user-%d", i), Line{"x", 1, 100}, Line{"y", 1, 100})
			}
			wg.Go(func() {
				_, err := s.Checkout(ctx(t), req)
				var short *InsufficientStockError
				switch {
				case err == nil:
					mu.Lock()
					for _, l := range req.Lines {
						sold[l.ItemID] += l.Quantity
					}
					mu.Unlock()
				case !errors.As(err, &short):
					t.Errorf("checkout: %v", err)
				}
			})
		}
		wg.Wait()
		want := map[string]int64{"hot": 50, "x": 30, "y": 30}
		if !reflect.DeepEqual(sold, want) {
			t.Fatalf("sold %v, want %v", sold, want)
		}
		for item, n := range want {
			if got := stockOf(t, s, item); got.Committed != n {
				t.Errorf("%s committed %d, want %d", item, got.Committed, n)
			}
		}
		if n := count(t, s, "orders"); n != 80 {
			t.Fatalf("%d orders, want 80", n)
		}
	})

	t.Run("apply-stock-once-and-in-version-order", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		e1 := topics.NewID()
		applyStock(t, s, StockChange{EventID: e1, ItemID: "item-a", OnHand: 10, Version: 1}, true)
		applyStock(t, s, StockChange{EventID: e1, ItemID: "item-a", OnHand: 99, Version: 9}, false) // redelivered
		if got := stockOf(t, s, "item-a"); got != (StockRow{ItemID: "item-a", OnHand: 10, Version: 1}) {
			t.Fatalf("after a redelivery: %+v", got)
		}
		applyStock(t, s, StockChange{EventID: topics.NewID(), ItemID: "item-a", OnHand: 7, Version: 3}, true)
		applyStock(t, s, StockChange{EventID: topics.NewID(), ItemID: "item-a", OnHand: 100, Version: 2}, true) // older: recorded, ignored
		if got := stockOf(t, s, "item-a"); got != (StockRow{ItemID: "item-a", OnHand: 7, Version: 3}) {
			t.Fatalf("after an older version: %+v", got)
		}

		// On-hand is set under what orders hold: committed stays, sellable
		// goes below zero and checkout sells nothing.
		if _, err := s.Checkout(ctx(t), buy("user-1", Line{"item-a", 5, 100})); err != nil {
			t.Fatal(err)
		}
		applyStock(t, s, StockChange{EventID: topics.NewID(), ItemID: "item-a", OnHand: 3, Version: 4}, true)
		if got := stockOf(t, s, "item-a"); got != (StockRow{ItemID: "item-a", OnHand: 3, Committed: 5, Version: 4}) || got.Sellable() != -2 {
			t.Fatalf("after a lower count: %+v", got)
		}
		var short *InsufficientStockError
		if _, err := s.Checkout(ctx(t), buy("user-1", Line{"item-a", 1, 100})); !errors.As(err, &short) || short.Short[0].Available != 0 {
			t.Fatalf("checkout beyond a negative sellable: %v", err)
		}

		// One event delivered to many consumers at once counts once.
		e := topics.NewID()
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied := 0
		for range 10 {
			wg.Go(func() {
				ok, err := s.ApplyStock(ctx(t), StockChange{EventID: e, ItemID: "item-b", OnHand: 4, Version: 1})
				if err != nil {
					t.Errorf("apply: %v", err)
				}
				if ok {
					mu.Lock()
					applied++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if applied != 1 || stockOf(t, s, "item-b").OnHand != 4 {
			t.Fatalf("one event applied %d times at once", applied)
		}
		for what, c := range map[string]StockChange{
			"negative on-hand": {EventID: topics.NewID(), ItemID: "item-a", OnHand: -1, Version: 9},
			"no event id":      {ItemID: "item-a", OnHand: 1, Version: 9},
			"bad item id":      {EventID: topics.NewID(), ItemID: "item a", OnHand: 1, Version: 9},
		} {
			if _, err := s.ApplyStock(ctx(t), c); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: got %v, want ErrInvalid", what, err)
			}
		}
	})

	t.Run("payment-outcomes", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 10)

		// Success: placed, stock stays committed.
		o := checkout(t, s, "user-1", Line{"item-a", 2, 250})
		drain(t, s)
		ev := topics.NewID()
		a, err := s.ApplyPayment(ctx(t), PaymentOutcome{EventID: ev, OrderID: o.OrderID, Succeeded: true, PaymentID: "pay-1", AmountCents: 500})
		if err != nil || !a.Effect.Changed || a.Effect.Next != lifecycle.Placed || a.Order.Status != lifecycle.Placed ||
			a.Order.PaymentID != "pay-1" || a.Order.Version != 2 || len(a.Order.Timeline) != 2 {
			t.Fatalf("success: %+v, %v", a, err)
		}
		if back := orderOf(t, s, o.OrderID); !reflect.DeepEqual(back, a.Order) {
			t.Fatalf("read back\n%+v\nwant\n%+v", back, a.Order)
		}
		expectEvent(t, s, topics.TypeOrderPlaced, topics.OrderTransition{OrderID: o.OrderID, UserID: "user-1"})
		if c := stockOf(t, s, "item-a").Committed; c != 2 {
			t.Fatalf("committed %d after payment, want 2", c)
		}
		// The same event again changes nothing.
		a, err = s.ApplyPayment(ctx(t), PaymentOutcome{EventID: ev, OrderID: o.OrderID, Succeeded: true, PaymentID: "pay-1"})
		if err != nil || !a.Duplicate || a.Effect.Changed || a.Order.Version != 2 || len(pending(t, s)) != 0 {
			t.Fatalf("redelivered payment: %+v, %v", a, err)
		}
		// A failure after success changes nothing either.
		a, err = s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: o.OrderID})
		if err != nil || a.Duplicate || a.Effect.Changed || a.Order.Status != lifecycle.Placed || len(pending(t, s)) != 0 {
			t.Fatalf("failure after success: %+v, %v", a, err)
		}

		// Failure: canceled and restocked in the same transaction.
		o = checkout(t, s, "user-1", Line{"item-a", 3, 100})
		drain(t, s)
		a, err = s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: o.OrderID, Reason: "card declined"})
		if err != nil || a.Order.Status != lifecycle.Canceled || !a.Effect.Restock || a.Order.Timeline[1].Reason != lifecycle.ReasonPaymentFailed {
			t.Fatalf("failure: %+v, %v", a, err)
		}
		expectEvent(t, s, topics.TypeOrderCanceled, topics.OrderTransition{OrderID: o.OrderID, UserID: "user-1", Reason: lifecycle.ReasonPaymentFailed, Restocked: true})
		if c := stockOf(t, s, "item-a").Committed; c != 2 {
			t.Fatalf("committed %d after a failed payment, want 2", c)
		}
		// Success after failure: refunded, and the stock is not returned twice.
		a, err = s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: o.OrderID, Succeeded: true, PaymentID: "pay-2"})
		if err != nil || a.Order.Status != lifecycle.Refunded || !a.Effect.Refund || a.Effect.Restock || a.Order.PaymentID != "pay-2" {
			t.Fatalf("success after failure: %+v, %v", a, err)
		}
		expectEvent(t, s, topics.TypeOrderRefunded, topics.OrderTransition{OrderID: o.OrderID, UserID: "user-1", Reason: lifecycle.ReasonLatePayment, AmountCents: 300, Currency: "USD"})
		if c := stockOf(t, s, "item-a").Committed; c != 2 {
			t.Fatalf("committed %d after a refund, want 2", c)
		}

		// An unknown order: nothing recorded, so the event counts once it exists.
		before := count(t, s, "processed_events")
		if _, err := s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: "no-such-order", Succeeded: true}); !errors.Is(err, ErrOrderNotFound) {
			t.Fatalf("unknown order: got %v, want ErrOrderNotFound", err)
		}
		if count(t, s, "processed_events") != before {
			t.Fatal("an event for an unknown order was recorded")
		}
	})

	t.Run("expiry", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 100)
		var created []Order
		for i := range 5 {
			created = append(created, checkout(t, s, fmt.Sprintf("user-%d", i), Line{"item-a", 2, 100}))
		}
		placed := checkout(t, s, "user-9", Line{"item-a", 1, 100})
		if _, err := s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: placed.OrderID, Succeeded: true, PaymentID: "p"}); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		if got, err := s.ExpireDue(ctx(t), time.Now(), 10); err != nil || len(got) != 0 {
			t.Fatalf("nothing is due yet: %d, %v", len(got), err)
		}
		later := time.Now().Add(DefaultTTL + time.Minute)
		first, err := s.ExpireDue(ctx(t), later, 2)
		if err != nil || len(first) != 2 {
			t.Fatalf("expire with limit 2: %d, %v", len(first), err)
		}
		rest, err := s.ExpireDue(ctx(t), later, 10)
		if err != nil || len(rest) != 3 {
			t.Fatalf("expire the rest: %d, %v", len(rest), err)
		}
		var ids []string
		for _, a := range append(first, rest...) {
			if a.Order.Status != lifecycle.Canceled || !a.Effect.Restock || a.Effect.Reason != lifecycle.ReasonExpired {
				t.Fatalf("expired order: %+v", a)
			}
			ids = append(ids, a.Order.OrderID)
		}
		for _, o := range created[:2] { // oldest first
			if !slices.Contains(ids[:2], o.OrderID) {
				t.Fatalf("the first sweep took %v, not the oldest orders", ids[:2])
			}
		}
		if c := stockOf(t, s, "item-a").Committed; c != 1 {
			t.Fatalf("committed %d after expiry, want the placed order's 1", c)
		}
		if recs := pending(t, s); len(recs) != 5 {
			t.Fatalf("%d outbox records after expiring 5 orders", len(recs))
		}
		expectEvents(t, s, 5, topics.TypeOrderCanceled)
		if again, err := s.ExpireDue(ctx(t), later, 10); err != nil || len(again) != 0 {
			t.Fatalf("a second sweep expired %d, %v", len(again), err)
		}
		// Payment after expiry: refunded, no second restock.
		a, err := s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: created[0].OrderID, Succeeded: true, PaymentID: "late"})
		if err != nil || a.Order.Status != lifecycle.Refunded || !a.Effect.Refund || a.Effect.Restock {
			t.Fatalf("payment after expiry: %+v, %v", a, err)
		}
		expectEvent(t, s, topics.TypeOrderRefunded, topics.OrderTransition{OrderID: created[0].OrderID, UserID: "user-0",
			Reason: lifecycle.ReasonLatePayment, AmountCents: 200, Currency: "USD"})
		if c := stockOf(t, s, "item-a").Committed; c != 1 {
			t.Fatalf("committed %d after a late payment, want 1", c)
		}
		// A failure after expiry is too late to matter.
		a, err = s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: created[1].OrderID})
		if err != nil || a.Effect.Changed || a.Order.Status != lifecycle.Canceled {
			t.Fatalf("failure after expiry: %+v, %v", a, err)
		}
	})

	t.Run("two-sweepers-expire-each-order-once", func(t *testing.T) {
		db := fresh(t)
		s := openMigrated(t, db)
		other := open(t, db)
		setStock(t, s, "item-a", 1000)
		setStock(t, s, "item-b", 1000)
		const orders = 120
		var wg sync.WaitGroup
		for i := range orders {
			wg.Go(func() { checkout(t, s, fmt.Sprintf("user-%d", i), Line{"item-a", 2, 100}, Line{"item-b", 1, 100}) })
		}
		wg.Wait()
		drain(t, s)
		later := time.Now().Add(time.Hour)
		expired := make([][]Applied, 2)
		for i, st := range []*sqlStore{s, other} {
			wg.Go(func() {
				for {
					got, err := st.ExpireDue(ctx(t), later, 7)
					if err != nil {
						t.Errorf("sweeper %d: %v", i, err)
						return
					}
					if len(got) == 0 {
						return
					}
					expired[i] = append(expired[i], got...)
				}
			})
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, a := range append(expired[0], expired[1]...) {
			if seen[a.Order.OrderID] {
				t.Fatalf("order %s expired twice", a.Order.OrderID)
			}
			seen[a.Order.OrderID] = true
		}
		t.Logf("sweepers expired %d and %d orders", len(expired[0]), len(expired[1]))
		if len(seen) != orders {
			t.Fatalf("%d orders expired, want %d", len(seen), orders)
		}
		if a, b := stockOf(t, s, "item-a"), stockOf(t, s, "item-b"); a.Committed != 0 || b.Committed != 0 {
			t.Fatalf("committed after expiry: %d and %d, want 0 (restocked once each)", a.Committed, b.Committed)
		}
		expectEvents(t, s, orders, topics.TypeOrderCanceled)
	})

	t.Run("cancel", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 10)
		created := checkout(t, s, "user-1", Line{"item-a", 1, 100})
		placed := checkout(t, s, "user-1", Line{"item-a", 2, 100})
		shipped := checkout(t, s, "user-1", Line{"item-a", 3, 100})
		pay(t, s, placed.OrderID)
		pay(t, s, shipped.OrderID)
		ship(t, s, shipped.OrderID, false)
		drain(t, s)

		a, err := s.Cancel(ctx(t), created.OrderID)
		if err != nil || a.Order.Status != lifecycle.Canceled || !a.Effect.Restock || a.Effect.Refund {
			t.Fatalf("cancel created: %+v, %v", a, err)
		}
		expectEvent(t, s, topics.TypeOrderCanceled, topics.OrderTransition{OrderID: created.OrderID, UserID: "user-1", Reason: lifecycle.ReasonCanceled, Restocked: true})
		a, err = s.Cancel(ctx(t), placed.OrderID)
		if err != nil || a.Order.Status != lifecycle.Refunded || !a.Effect.Restock || !a.Effect.Refund {
			t.Fatalf("cancel placed: %+v, %v", a, err)
		}
		expectEvent(t, s, topics.TypeOrderRefunded, topics.OrderTransition{OrderID: placed.OrderID, UserID: "user-1",
			Reason: lifecycle.ReasonCanceledAfterPay, Restocked: true, AmountCents: 200, Currency: "USD"})
		if _, err := s.Cancel(ctx(t), shipped.OrderID); !errors.Is(err, lifecycle.ErrNotCancelable) {
			t.Fatalf("cancel shipped: got %v, want lifecycle.ErrNotCancelable", err)
		}
		if o := orderOf(t, s, shipped.OrderID); o.Status != lifecycle.Shipped || o.Version != 3 {
			t.Fatalf("a refused cancel changed the order: %+v", o)
		}
		if c := stockOf(t, s, "item-a").Committed; c != 3 {
			t.Fatalf("committed %d, want the shipped order's 3", c)
		}
		a, err = s.Cancel(ctx(t), created.OrderID)
		if err != nil || a.Effect.Changed || len(pending(t, s)) != 0 {
			t.Fatalf("cancel twice: %+v, %v", a, err)
		}
		if _, err := s.Cancel(ctx(t), "no-such-order"); !errors.Is(err, ErrOrderNotFound) {
			t.Fatalf("cancel unknown: %v", err)
		}
	})

	t.Run("shipment-steps", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 10)
		o := checkout(t, s, "user-1", Line{"item-a", 4, 100})
		// Stale or early steps change nothing.
		if a := ship(t, s, o.OrderID, true); a.Effect.Changed {
			t.Fatalf("deliver on created: %+v", a)
		}
		if a := ship(t, s, o.OrderID, false); a.Effect.Changed {
			t.Fatalf("ship on created: %+v", a)
		}
		pay(t, s, o.OrderID)
		drain(t, s)
		ev := topics.NewID()
		a, err := s.ApplyShipment(ctx(t), ShipmentStep{EventID: ev, OrderID: o.OrderID})
		if err != nil || a.Order.Status != lifecycle.Shipped {
			t.Fatalf("ship: %+v, %v", a, err)
		}
		expectEvent(t, s, topics.TypeOrderShipped, topics.OrderTransition{OrderID: o.OrderID, UserID: "user-1"})
		if a, err := s.ApplyShipment(ctx(t), ShipmentStep{EventID: ev, OrderID: o.OrderID, Delivered: true}); err != nil || !a.Duplicate || a.Order.Status != lifecycle.Shipped {
			t.Fatalf("a redelivered event id: %+v, %v", a, err)
		}
		if a := ship(t, s, o.OrderID, true); a.Order.Status != lifecycle.Delivered {
			t.Fatalf("deliver: %+v", a)
		}
		expectEvent(t, s, topics.TypeOrderDelivered, topics.OrderTransition{OrderID: o.OrderID, UserID: "user-1"})
		if a := ship(t, s, o.OrderID, false); a.Effect.Changed || a.Order.Status != lifecycle.Delivered {
			t.Fatalf("ship after delivery: %+v", a)
		}
		got := orderOf(t, s, o.OrderID)
		var statuses []lifecycle.Status
		for _, tr := range got.Timeline {
			statuses = append(statuses, tr.Status)
		}
		if want := []lifecycle.Status{lifecycle.Created, lifecycle.Placed, lifecycle.Shipped, lifecycle.Delivered}; !slices.Equal(statuses, want) || got.Version != 4 {
			t.Fatalf("timeline %v version %d, want %v and 4", statuses, got.Version, want)
		}
		if c := stockOf(t, s, "item-a").Committed; c != 4 {
			t.Fatalf("a delivered order's units left committed: %d", c)
		}
		if _, err := s.ApplyShipment(ctx(t), ShipmentStep{EventID: topics.NewID(), OrderID: "no-such-order"}); !errors.Is(err, ErrOrderNotFound) {
			t.Fatalf("unknown order: %v", err)
		}
	})

	t.Run("a-batch-of-events-applies-in-order-once", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 10)
		a := checkout(t, s, "user-1", Line{"item-a", 2, 100})
		b := checkout(t, s, "user-2", Line{"item-a", 3, 100})
		drain(t, s)
		before := topics.NewID()
		if _, err := s.ApplyShipment(ctx(t), ShipmentStep{EventID: before, OrderID: b.OrderID}); err != nil {
			t.Fatal(err)
		}
		v := time.Now().UnixNano()
		ids := make([]string, 10)
		for i := range ids {
			ids[i] = topics.NewID()
		}
		batch := []InboundEvent{
			{Stock: &StockChange{EventID: ids[0], ItemID: "item-a", OnHand: 40, Version: v + 2}},
			{Payment: &PaymentOutcome{EventID: ids[1], OrderID: a.OrderID, Succeeded: true, PaymentID: "pay-a"}},
			{Shipment: &ShipmentStep{EventID: ids[2], OrderID: a.OrderID}},
			{Stock: &StockChange{EventID: ids[3], ItemID: "item-a", OnHand: 7, Version: v + 1}}, // older: recorded, no effect
			{Shipment: &ShipmentStep{EventID: ids[4], OrderID: a.OrderID, Delivered: true}},
			{Shipment: &ShipmentStep{EventID: ids[2], OrderID: a.OrderID}},         // the same event again
			{Payment: &PaymentOutcome{EventID: ids[5], OrderID: "no-such-order"}},  // never taken
			{Stock: &StockChange{EventID: ids[6], ItemID: "not an id", OnHand: 1}}, // malformed
			{Shipment: &ShipmentStep{EventID: before, OrderID: b.OrderID}},         // applied before
			{Payment: &PaymentOutcome{EventID: ids[7], OrderID: b.OrderID}},        // a failure: canceled, restocked
			{Stock: &StockChange{EventID: ids[8], ItemID: "item-new", OnHand: 3, Version: 1}},
		}
		res, err := s.ApplyEvents(ctx(t), batch)
		if err != nil || len(res) != len(batch) {
			t.Fatalf("apply: %d results, %v", len(res), err)
		}
		wantStatus := map[int]lifecycle.Status{1: lifecycle.Placed, 2: lifecycle.Shipped, 4: lifecycle.Delivered, 5: lifecycle.Delivered, 8: lifecycle.Created, 9: lifecycle.Canceled}
		for i, r := range res {
			switch {
			case i == 6:
				if !errors.Is(r.Err, ErrOrderNotFound) {
					t.Errorf("event %d: %v, want not found", i, r.Err)
				}
			case i == 7:
				if !errors.Is(r.Err, ErrInvalid) {
					t.Errorf("event %d: %v, want invalid", i, r.Err)
				}
			case r.Err != nil:
				t.Errorf("event %d: %v", i, r.Err)
			case r.Duplicate != (i == 5 || i == 8):
				t.Errorf("event %d: duplicate %v", i, r.Duplicate)
			case wantStatus[i] != "" && r.Order.Status != wantStatus[i]:
				t.Errorf("event %d: order %s, want %s", i, r.Order.Status, wantStatus[i])
			}
		}
		if got := orderOf(t, s, a.OrderID); got.Status != lifecycle.Delivered || got.Version != 4 || got.PaymentID != "pay-a" {
			t.Fatalf("order a: %+v", got)
		}
		if got := stockOf(t, s, "item-a"); got.OnHand != 40 || got.Committed != 2 {
			t.Fatalf("item-a after the batch: %+v (b's 3 units restocked, the older level ignored)", got)
		}
		if got := stockOf(t, s, "item-new"); got.OnHand != 3 {
			t.Fatalf("item-new: %+v", got)
		}
		var types []string
		for _, r := range pending(t, s) {
			types = append(types, decode(t, r).Type+" "+r.Key)
		}
		want := []string{topics.TypeOrderPlaced + " " + a.OrderID, topics.TypeOrderShipped + " " + a.OrderID,
			topics.TypeOrderDelivered + " " + a.OrderID, topics.TypeOrderCanceled + " " + b.OrderID}
		if !slices.Equal(types, want) {
			t.Fatalf("outbox %v, want %v", types, want)
		}
		drain(t, s)

		// The whole batch again, as after a crash before the offsets moved.
		again, err := s.ApplyEvents(ctx(t), batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range again {
			if i != 6 && i != 7 && (!r.Duplicate || r.Effect.Changed) {
				t.Errorf("again, event %d: %+v", i, r)
			}
		}
		if got := orderOf(t, s, a.OrderID); got.Version != 4 {
			t.Fatalf("order a changed again: %+v", got)
		}
		if p := pending(t, s); len(p) != 0 {
			t.Fatalf("the repeated batch wrote %d outbox records", len(p))
		}
	})

	t.Run("user-orders-pages-newest-first", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 100)
		var mine []Order
		for range 7 {
			mine = append(mine, checkout(t, s, "user-1", Line{"item-a", 1, 100}))
			checkout(t, s, "user-2", Line{"item-a", 1, 100})
		}
		slices.Reverse(mine)
		var got []Order
		cursor := ""
		for page := 0; ; page++ {
			orders, next, err := s.UserOrders(ctx(t), "user-1", cursor, 3)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, orders...)
			if page == 0 {
				// Orders taken meanwhile do not shift the pages.
				checkout(t, s, "user-1", Line{"item-a", 1, 100})
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if !reflect.DeepEqual(got, mine) {
			t.Fatalf("pages gave %d orders, want the %d of user-1 newest first", len(got), len(mine))
		}
		if orders, _, err := s.UserOrders(ctx(t), "user-1", "", 100); err != nil || len(orders) != 8 || len(orders[0].Timeline) != 1 {
			t.Fatalf("one big page: %d orders, %v", len(orders), err)
		}
		if orders, next, err := s.UserOrders(ctx(t), "nobody", "", 3); err != nil || len(orders) != 0 || next != "" {
			t.Fatalf("a user without orders: %v %q %v", orders, next, err)
		}
		if _, _, err := s.UserOrders(ctx(t), "user-1", "not-a-cursor", 3); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a bad cursor: %v", err)
		}
	})

	t.Run("outbox-order-and-mark-published", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		if n, oldest, err := s.OutboxBacklog(ctx(t)); err != nil || n != 0 || !oldest.IsZero() {
			t.Fatalf("empty backlog: %d %v %v", n, oldest, err)
		}
		setStock(t, s, "item-a", 100)
		var ids []string
		for i := range 4 {
			req := buy("user-1", Line{"item-a", 1, 100})
			req.FromCart = i%2 == 0
			res, err := s.Checkout(ctx(t), req)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.Order.OrderID)
		}
		pay(t, s, ids[0])
		all := pending(t, s)
		var types []string
		for i, r := range all {
			if i > 0 && r.Seq <= all[i-1].Seq {
				t.Fatalf("outbox not in seq order: %d after %d", r.Seq, all[i-1].Seq)
			}
			types = append(types, decode(t, r).Type)
		}
		want := []string{topics.TypeOrderCreated, topics.TypeCartCleared, topics.TypeOrderCreated, topics.TypeOrderCreated,
			topics.TypeCartCleared, topics.TypeOrderCreated, topics.TypeOrderPlaced}
		if !slices.Equal(types, want) {
			t.Fatalf("outbox types %v, want %v", types, want)
		}
		n, oldest, err := s.OutboxBacklog(ctx(t))
		if err != nil || n != 7 || !oldest.Equal(all[0].CreatedAt) {
			t.Fatalf("backlog %d oldest %v, %v; want 7 and %v", n, oldest, err, all[0].CreatedAt)
		}
		first, err := s.PendingOutbox(ctx(t), 3)
		if err != nil || !reflect.DeepEqual(first, all[:3]) {
			t.Fatalf("first 3: %v", err)
		}
		if err := s.MarkPublished(ctx(t), []int64{first[0].Seq, first[1].Seq, first[2].Seq}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkPublished(ctx(t), []int64{first[0].Seq}); err != nil {
			t.Fatalf("marking twice: %v", err)
		}
		if rest := pending(t, s); !reflect.DeepEqual(rest, all[3:]) {
			t.Fatalf("after marking 3: %d records", len(rest))
		}
		if n, oldest, _ := s.OutboxBacklog(ctx(t)); n != 4 || !oldest.Equal(all[3].CreatedAt) {
			t.Fatalf("backlog after marking 3: %d %v", n, oldest)
		}
		drain(t, s)
		// Seqs only grow, even once every record is gone.
		checkout(t, s, "user-1", Line{"item-a", 1, 100})
		if next := pending(t, s); len(next) != 1 || next[0].Seq <= all[len(all)-1].Seq {
			t.Fatalf("seq after an emptied outbox: %+v", next)
		}
	})

	t.Run("each-stock-and-each-order", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		const items = 2*pageSize + 7
		vals := make([]any, 0, 4*items)
		for i := range items {
			vals = append(vals, fmt.Sprintf("item-%04d", i), int64(i+1), int64(1), now())
		}
		if err := insertRows(ctx(t), s.DB(), "stock", []string{"item_id", "on_hand", "version", "updated_at"}, vals); err != nil {
			t.Fatal(err)
		}
		o1 := checkout(t, s, "user-1", Line{"item-0001", 2, 100}, Line{"item-0000", 1, 100})
		o2 := checkout(t, s, "user-2", Line{"item-0002", 3, 100})
		var rows []StockRow
		err := s.EachStock(ctx(t), func(r StockRow) error {
			// The callback may use the store (SQLite has one connection).
			if _, _, err := s.Stock(ctx(t), r.ItemID); err != nil {
				return err
			}
			rows = append(rows, r)
			return nil
		})
		if err != nil || len(rows) != items {
			t.Fatalf("visited %d stock rows, %v; want %d", len(rows), err, items)
		}
		if rows[1] != (StockRow{ItemID: "item-0001", OnHand: 2, Committed: 2, Version: 1}) || rows[items-1].ItemID != fmt.Sprintf("item-%04d", items-1) {
			t.Fatalf("stock rows: %+v ... %+v", rows[1], rows[items-1])
		}
		got := map[string]Order{}
		if err := s.EachOrder(ctx(t), func(o Order) error { got[o.OrderID] = o; return nil }); err != nil {
			t.Fatal(err)
		}
		for _, o := range []Order{o1, o2} {
			o.Timeline = nil
			if !reflect.DeepEqual(got[o.OrderID], o) {
				t.Fatalf("EachOrder gave %+v, want %+v", got[o.OrderID], o)
			}
		}
		if len(got) != 2 {
			t.Fatalf("EachOrder visited %d orders", len(got))
		}
		stop := errors.New("stop")
		if err := s.EachStock(ctx(t), func(StockRow) error { return stop }); err != stop {
			t.Fatalf("a callback's error: %v", err)
		}
	})

	t.Run("mixed-load-keeps-committed-equal-to-held-orders", func(t *testing.T) {
		db := fresh(t)
		s := openMigrated(t, db)
		edges := []*sqlStore{s, open(t, db)}
		const items = 12
		for i := range items {
			setStock(t, s, fmt.Sprintf("item-%d", i), 40)
		}
		var mu sync.Mutex
		var taken []string
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for range 60 {
					st := edges[r.IntN(2)]
					mu.Lock()
					var id string
					if len(taken) > 0 {
						id = taken[r.IntN(len(taken))]
					}
					mu.Unlock()
					var err error
					switch op := r.IntN(10); {
					case op < 5 || id == "":
						a, b := r.IntN(items), r.IntN(items)
						lines := []Line{{fmt.Sprintf("item-%d", a), int64(1 + r.IntN(3)), 100}}
						if b != a {
							lines = append(lines, Line{fmt.Sprintf("item-%d", b), 1, 100})
						}
						var res CheckoutResult
						if res, err = st.Checkout(ctx(t), buy(fmt.Sprintf("user-%d", w), lines...)); err == nil {
							mu.Lock()
							taken = append(taken, res.Order.OrderID)
							mu.Unlock()
						}
					case op == 5:
						_, err = st.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: id, Succeeded: r.IntN(3) > 0, PaymentID: "p"})
					case op == 6:
						_, err = st.Cancel(ctx(t), id)
					case op == 7:
						_, err = st.ApplyShipment(ctx(t), ShipmentStep{EventID: topics.NewID(), OrderID: id, Delivered: r.IntN(2) == 0})
					case op == 8:
						_, err = st.ExpireDue(ctx(t), time.Now().Add(time.Hour), 5)
					default: // suppliers raise their counts meanwhile
						_, err = st.ApplyStock(ctx(t), StockChange{EventID: topics.NewID(), ItemID: fmt.Sprintf("item-%d", r.IntN(items)),
							OnHand: 40 + int64(r.IntN(20)), Version: time.Now().UnixNano()})
					}
					var short *InsufficientStockError
					if err != nil && !errors.As(err, &short) && !errors.Is(err, lifecycle.ErrNotCancelable) {
						t.Errorf("worker %d: %v", w, err)
					}
				}
			})
		}
		wg.Wait()
		held := map[string]int64{}
		orders := 0
		err := s.EachOrder(ctx(t), func(o Order) error {
			orders++
			if lifecycle.HoldsStock(o.Status) {
				for _, l := range o.Lines {
					held[l.ItemID] += l.Quantity
				}
			}
			return nil
		})
		if err != nil || orders != len(taken) {
			t.Fatalf("%d orders visited, %d taken, %v", orders, len(taken), err)
		}
		for i := range items {
			item := fmt.Sprintf("item-%d", i)
			if r := stockOf(t, s, item); r.Committed != held[item] || r.Sellable() < 0 {
				t.Errorf("%s: committed %d, on hand %d; orders holding stock hold %d", item, r.Committed, r.OnHand, held[item])
			}
		}
	})

	t.Run("canceled-caller-takes-nothing", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 10)
		c, cancel := context.WithCancel(ctx(t))
		cancel()
		if _, err := s.Checkout(c, buy("user-1", Line{"item-a", 1, 100})); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if n := count(t, s, "orders"); n != 0 || stockOf(t, s, "item-a").Committed != 0 {
			t.Fatalf("a caller that had gone got %d orders", n)
		}
	})

	t.Run("close-with-checkouts-in-flight", func(t *testing.T) {
		db := fresh(t)
		s := openMigrated(t, db)
		setStock(t, s, "item-a", 1000)
		const callers = 300
		errs := make(chan error, callers)
		var sold sync.WaitGroup
		var mu sync.Mutex
		var taken []string
		first := make(chan struct{})
		sold.Add(callers)
		for i := range callers {
			go func() {
				defer sold.Done()
				res, err := s.Checkout(ctx(t), buy(fmt.Sprintf("user-%d", i), Line{"item-a", 1, 100}))
				if err == nil {
					mu.Lock()
					if taken = append(taken, res.Order.OrderID); len(taken) == 1 {
						close(first)
					}
					mu.Unlock()
				}
				errs <- err
			}()
		}
		// Close once batches are flowing, with callers still queued.
		<-first
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		sold.Wait() // ctx(t) bounds every call: a hang fails the test
		close(errs)
		failed := 0
		for err := range errs {
			if err != nil {
				failed++
				if !errors.Is(err, ErrClosed) {
					t.Logf("a checkout failed otherwise: %v", err)
				}
			}
		}
		t.Logf("%d checkouts taken, %d refused by the close", len(taken), failed)
		if _, err := s.Checkout(ctx(t), buy("user-x", Line{"item-a", 1, 100})); !errors.Is(err, ErrClosed) {
			t.Fatalf("checkout after close: %v", err)
		}
		// Every order answered exists, and committed counts exactly the orders.
		s = open(t, db)
		if n := count(t, s, "orders"); n != len(taken) {
			t.Fatalf("%d orders in the database, %d answered", n, len(taken))
		}
		for _, id := range taken {
			orderOf(t, s, id)
		}
		if c := stockOf(t, s, "item-a").Committed; c != int64(len(taken)) {
			t.Fatalf("committed %d for %d orders", c, len(taken))
		}
	})
}

func buy(user string, lines ...Line) CheckoutRequest {
	return CheckoutRequest{UserID: user, Lines: lines, Currency: "USD"}
}

func checkout(t *testing.T, s *sqlStore, user string, lines ...Line) Order {
	t.Helper()
	res, err := s.Checkout(ctx(t), buy(user, lines...))
	if err != nil {
		t.Fatalf("checkout for %s: %v", user, err)
	}
	return res.Order
}

func pay(t *testing.T, s *sqlStore, orderID string) {
	t.Helper()
	a, err := s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: orderID, Succeeded: true, PaymentID: "pay-" + orderID})
	if err != nil || a.Order.Status != lifecycle.Placed {
		t.Fatalf("pay %s: %+v, %v", orderID, a, err)
	}
}

func ship(t *testing.T, s *sqlStore, orderID string, delivered bool) Applied {
	t.Helper()
	a, err := s.ApplyShipment(ctx(t), ShipmentStep{EventID: topics.NewID(), OrderID: orderID, Delivered: delivered})
	if err != nil {
		t.Fatalf("shipment step for %s: %v", orderID, err)
	}
	return a
}

// setStock sets an item's on-hand through ApplyStock, with a version newer
// than any before.
func setStock(t *testing.T, s *sqlStore, item string, onHand int64) {
	t.Helper()
	applyStock(t, s, StockChange{EventID: topics.NewID(), ItemID: item, OnHand: onHand, Version: time.Now().UnixNano()}, true)
}

func applyStock(t *testing.T, s *sqlStore, c StockChange, fresh bool) {
	t.Helper()
	got, err := s.ApplyStock(ctx(t), c)
	if err != nil || got != fresh {
		t.Fatalf("apply stock %+v: %v, %v; want %v", c, got, err, fresh)
	}
}

func stockOf(t *testing.T, s *sqlStore, item string) StockRow {
	t.Helper()
	r, ok, err := s.Stock(ctx(t), item)
	if err != nil || !ok {
		t.Fatalf("stock of %s: %v, %v", item, ok, err)
	}
	return r
}

func orderOf(t *testing.T, s *sqlStore, id string) Order {
	t.Helper()
	o, err := s.Order(ctx(t), id)
	if err != nil {
		t.Fatalf("read order %s: %v", id, err)
	}
	return o
}

func pending(t *testing.T, s *sqlStore) []OutboxRecord {
	t.Helper()
	recs, err := s.PendingOutbox(ctx(t), 10000)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// drain marks every pending record published.
func drain(t *testing.T, s *sqlStore) {
	t.Helper()
	var seqs []int64
	for _, r := range pending(t, s) {
		seqs = append(seqs, r.Seq)
	}
	if err := s.MarkPublished(ctx(t), seqs); err != nil {
		t.Fatal(err)
	}
}

func decode(t *testing.T, r OutboxRecord) topics.Event {
	t.Helper()
	ev, err := topics.Decode(r.Value)
	if err != nil {
		t.Fatalf("outbox record %d does not decode: %v", r.Seq, err)
	}
	if ev.ID != r.EventID || ev.Key != r.Key {
		t.Fatalf("outbox record %d: envelope id %s key %s, row %s %s", r.Seq, ev.ID, ev.Key, r.EventID, r.Key)
	}
	return ev
}

// expectEvent checks that the outbox holds exactly one record, an order
// event of type typ with data want, and drains it.
func expectEvent(t *testing.T, s *sqlStore, typ string, want topics.OrderTransition) {
	t.Helper()
	recs := pending(t, s)
	if len(recs) != 1 {
		t.Fatalf("%d outbox records, want one %s", len(recs), typ)
	}
	ev := decode(t, recs[0])
	if recs[0].Topic != topics.OrderEvents || recs[0].Key != want.OrderID || ev.Type != typ || ev.Data != want {
		t.Fatalf("outbox record on %s key %s: %s %+v; want %s %+v", recs[0].Topic, recs[0].Key, ev.Type, ev.Data, typ, want)
	}
	drain(t, s)
}

// expectEvents checks that the outbox holds n order events of type typ,
// one per order, and drains them.
func expectEvents(t *testing.T, s *sqlStore, n int, typ string) {
	t.Helper()
	recs := pending(t, s)
	orders := map[string]bool{}
	for _, r := range recs {
		if ev := decode(t, r); ev.Type != typ || r.Topic != topics.OrderEvents {
			t.Fatalf("outbox holds %s on %s, want only %s", ev.Type, r.Topic, typ)
		}
		orders[r.Key] = true
	}
	if len(recs) != n || len(orders) != n {
		t.Fatalf("%d %s records for %d orders, want %d", len(recs), typ, len(orders), n)
	}
	drain(t, s)
}
