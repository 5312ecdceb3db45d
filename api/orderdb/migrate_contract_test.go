package orderdb

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/topics"
)

// migrateContract is the database's side of the migration to the history
// store (sinks/history), run on every adapter by contract.
func migrateContract(t *testing.T, fresh freshDB) {
	t.Run("final-orders-are-whole-and-oldest-first", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 100)
		setStock(t, s, "item-b", 100)
		delivered := checkout(t, s, "user-1", Line{"item-a", 1, 500}, Line{"item-b", 2, 300}).OrderID
		pay(t, s, delivered)
		ship(t, s, delivered, false)
		ship(t, s, delivered, true)
		canceled := checkout(t, s, "user-1", Line{"item-a", 1, 500}).OrderID
		cancelOrder(t, s, canceled)
		refunded := checkout(t, s, "user-2", Line{"item-b", 3, 300}).OrderID
		pay(t, s, refunded)
		cancelOrder(t, s, refunded)
		placed := checkout(t, s, "user-2", Line{"item-a", 1, 500}).OrderID
		pay(t, s, placed)
		shipped := checkout(t, s, "user-3", Line{"item-a", 1, 500}).OrderID
		pay(t, s, shipped)
		ship(t, s, shipped, false)
		created := checkout(t, s, "user-3", Line{"item-b", 1, 300}).OrderID

		// Deadlines in the reverse order of creation, so oldest-first is
		// not the insertion order; every order last changed at base+10m.
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		setTimes(t, s, refunded, base, base.Add(10*time.Minute))
		setTimes(t, s, canceled, base.Add(time.Minute), base.Add(10*time.Minute))
		setTimes(t, s, delivered, base.Add(2*time.Minute), base.Add(10*time.Minute))
		for _, id := range []string{placed, shipped, created} { // old, but not final
			setTimes(t, s, id, base.Add(-time.Hour), base.Add(-time.Hour))
		}

		wantFinal(t, s, base.Add(10*time.Minute), 10, refunded, canceled, delivered)
		wantFinal(t, s, base.Add(10*time.Minute), 2, refunded, canceled)
		// Changed too recently.
		wantFinal(t, s, base.Add(10*time.Minute-time.Microsecond), 10)
		// Past its deadline by olderThan, the delivered order is not.
		for _, id := range []string{refunded, canceled, delivered} {
			o := orderOf(t, s, id)
			setTimes(t, s, id, o.ExpiresAt, base.Add(-time.Minute))
		}
		wantFinal(t, s, base.Add(time.Minute), 10, refunded, canceled)
		// Equal deadlines: by order id.
		setTimes(t, s, delivered, base.Add(time.Minute), base.Add(-time.Minute))
		tied := []string{canceled, delivered}
		slices.Sort(tied)
		wantFinal(t, s, base.Add(time.Minute), 10, refunded, tied[0], tied[1])

		if _, err := s.FinalOrders(ctx(t), base, 0); !errors.Is(err, ErrInvalid) {
			t.Fatalf("limit 0: %v, want ErrInvalid", err)
		}
	})

	t.Run("prune-removes-old-event-ids-and-keys-only", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		base := now().Add(-10 * 24 * time.Hour)
		var events []string
		for i := range 7 {
			ev := topics.NewID()
			applyStock(t, s, StockChange{EventID: ev, ItemID: "item-a", OnHand: int64(10 + i), Version: int64(i + 1)}, true)
			if _, err := s.DB().ExecContext(ctx(t), "UPDATE processed_events SET processed_at = ? WHERE event_id = ?", base.Add(time.Duration(i)*24*time.Hour), ev); err != nil {
				t.Fatal(err)
			}
			events = append(events, ev)
		}
		var keys []string
		for i := range 5 {
			key := fmt.Sprintf("key-%d", i)
			req := buy("user-1", Line{"item-a", 1, 100})
			req.IdempotencyKey, req.RequestHash = key, "hash-"+key
			if _, err := s.Checkout(ctx(t), req); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB().ExecContext(ctx(t), "UPDATE idempotency_keys SET created_at = ? WHERE idem_key = ?", base.Add(time.Duration(i)*24*time.Hour), key); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, key)
		}
		// Event ids of days 0-3 go (4 of 7, in batches of 3), keys of days 0-1.
		p, err := s.Prune(ctx(t), Retention{ProcessedBefore: base.Add(3*24*time.Hour + time.Hour), KeysBefore: base.Add(2 * 24 * time.Hour), Batch: 3})
		if err != nil || p != (Pruned{ProcessedEvents: 4, IdempotencyKeys: 2}) {
			t.Fatalf("prune: %+v, %v", p, err)
		}
		for i, ev := range events {
			seen, err := processedAmong(ctx(t), s.DB(), []string{ev})
			if err != nil || seen[ev] != (i >= 4) {
				t.Errorf("event of day %d recorded %v (%v)", i, seen[ev], err)
			}
		}
		for i, key := range keys {
			_, found, err := s.Replay(ctx(t), "user-1", key, "hash-"+key)
			if err != nil || found != (i >= 2) {
				t.Errorf("key of day %d found %v (%v)", i, found, err)
			}
		}
		if p, err := s.Prune(ctx(t), Retention{ProcessedBefore: base, KeysBefore: base, Batch: 3}); err != nil || p != (Pruned{}) {
			t.Fatalf("a second prune: %+v, %v", p, err)
		}
		if _, err := s.Prune(ctx(t), Retention{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a prune without a batch: %v", err)
		}
	})

	t.Run("restore-orders-puts-moved-orders-back-whole", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 100)
		canceled := checkout(t, s, "user-1", Line{"item-a", 3, 500}).OrderID
		cancelOrder(t, s, canceled)
		stays := checkout(t, s, "user-1", Line{"item-a", 1, 500}).OrderID
		drain(t, s)
		moved := orderOf(t, s, canceled)
		if n, err := s.DeleteOrders(ctx(t), []Order{moved}); err != nil || n != 1 {
			t.Fatalf("delete: %d, %v", n, err)
		}
		before := stockOf(t, s, "item-a")

		n, err := s.RestoreOrders(ctx(t), []Order{moved, orderOf(t, s, stays)})
		if err == nil {
			t.Fatalf("restored %d with a created order among them", n)
		}
		for range 2 {
			if n, err := s.RestoreOrders(ctx(t), []Order{moved}); err != nil || n > 1 {
				t.Fatalf("restore: %d, %v", n, err)
			}
		}
		if got := orderOf(t, s, canceled); !reflect.DeepEqual(got, moved) {
			t.Fatalf("restored\n%+v\nwant\n%+v", got, moved)
		}
		if got := stockOf(t, s, "item-a"); got != before {
			t.Fatalf("restore touched stock: %+v, was %+v", got, before)
		}
		// The late payment the restore is for: a refund, nothing restocked twice.
		a, err := s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: canceled, Succeeded: true, PaymentID: "late"})
		if err != nil || a.Order.Status != lifecycle.Refunded || a.Effect.Restock || !a.Effect.Refund {
			t.Fatalf("late payment after the restore: %+v, %v", a, err)
		}
		if got := stockOf(t, s, "item-a"); got != before {
			t.Fatalf("the refund touched stock: %+v, was %+v", got, before)
		}
	})

	t.Run("delete-orders-removes-final-orders-whole-and-only-them", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 100)
		delivered := checkout(t, s, "user-1", Line{"item-a", 2, 500}).OrderID
		pay(t, s, delivered)
		ship(t, s, delivered, false)
		ship(t, s, delivered, true)
		canceled := checkout(t, s, "user-1", Line{"item-a", 3, 500}).OrderID
		cancelOrder(t, s, canceled)
		placed := checkout(t, s, "user-2", Line{"item-a", 4, 500}).OrderID
		pay(t, s, placed)
		checkout(t, s, "user-2", Line{"item-a", 5, 500})
		drain(t, s)
		committed := stockOf(t, s, "item-a").Committed

		later := time.Now().Add(time.Hour)
		finals, err := s.FinalOrders(ctx(t), later, 10)
		if err != nil || len(finals) != 2 {
			t.Fatalf("final orders: %d, %v; want the delivered and the canceled one", len(finals), err)
		}
		// The placed order is passed too: the guard keeps it.
		n, err := s.DeleteOrders(ctx(t), append(slices.Clone(finals), orderOf(t, s, placed)))
		if err != nil || n != 2 {
			t.Fatalf("delete: %d, %v; want 2", n, err)
		}
		for _, id := range []string{delivered, canceled} {
			if _, err := s.Order(ctx(t), id); !errors.Is(err, ErrOrderNotFound) {
				t.Errorf("order %s after delete: %v", id, err)
			}
			for _, table := range []string{"orders", "order_lines", "order_timeline"} {
				var left int
				if err := s.DB().QueryRowContext(ctx(t), "SELECT COUNT(*) FROM "+table+" WHERE order_id = ?", id).Scan(&left); err != nil || left != 0 {
					t.Errorf("%s keeps %d rows of order %s (%v)", table, left, id, err)
				}
			}
		}
		if o := orderOf(t, s, placed); o.Status != lifecycle.Placed || len(o.Timeline) != 2 || len(o.Lines) != 1 {
			t.Errorf("the placed order after delete: %+v", o)
		}
		if n, _ := s.FinalBacklog(ctx(t), later); n != 0 {
			t.Errorf("backlog %d after delete", n)
		}
		// Delivered units stay committed; the delete writes no events.
		if c := stockOf(t, s, "item-a").Committed; c != committed {
			t.Errorf("committed %d after delete, was %d", c, committed)
		}
		if recs := pending(t, s); len(recs) != 0 {
			t.Errorf("delete wrote %d outbox records", len(recs))
		}

		// Again, and nothing: a retry is harmless.
		if n, err := s.DeleteOrders(ctx(t), finals); err != nil || n != 0 {
			t.Fatalf("delete again: %d, %v", n, err)
		}
		if n, err := s.DeleteOrders(ctx(t), nil); err != nil || n != 0 {
			t.Fatalf("delete nothing: %d, %v", n, err)
		}

		// A copy read before a late payment refunded the order is stale:
		// the order stays, to be written to history again.
		late := checkout(t, s, "user-3", Line{"item-a", 1, 500}).OrderID
		cancelOrder(t, s, late)
		stale := orderOf(t, s, late)
		a, err := s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: late, Succeeded: true, PaymentID: "pay-late"})
		if err != nil || a.Order.Status != lifecycle.Refunded {
			t.Fatalf("late payment: %+v, %v", a, err)
		}
		if n, err := s.DeleteOrders(ctx(t), []Order{stale}); err != nil || n != 0 {
			t.Fatalf("delete a stale copy: %d, %v; want 0", n, err)
		}
		if n, err := s.DeleteOrders(ctx(t), []Order{orderOf(t, s, late)}); err != nil || n != 1 {
			t.Fatalf("delete the current copy: %d, %v; want 1", n, err)
		}
	})

	// A late payment and the migration's delete race for canceled orders:
	// each order is either refunded and kept, or deleted with the payment
	// finding no order, never refunded and deleted.
	t.Run("delete-and-late-payments-race", func(t *testing.T) {
		s := openMigrated(t, fresh(t))
		setStock(t, s, "item-a", 1000)
		var ids []string
		var read []Order
		for range 40 {
			id := checkout(t, s, "user-1", Line{"item-a", 1, 100}).OrderID
			cancelOrder(t, s, id)
			ids = append(ids, id)
			read = append(read, orderOf(t, s, id))
		}
		refunded := make([]bool, len(ids))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() {
				a, err := s.ApplyPayment(ctx(t), PaymentOutcome{EventID: topics.NewID(), OrderID: id, Succeeded: true, PaymentID: "p"})
				switch {
				case errors.Is(err, ErrOrderNotFound):
				case err != nil:
					t.Errorf("pay %s: %v", id, err)
				default:
					refunded[i] = a.Effect.Changed
				}
			})
		}
		deleted := 0
		for part := range slices.Chunk(read, 5) {
			n, err := s.DeleteOrders(ctx(t), part)
			if err != nil {
				t.Fatal(err)
			}
			deleted += n
		}
		wg.Wait()
		kept := 0
		for i, id := range ids {
			o, err := s.Order(ctx(t), id)
			switch {
			case errors.Is(err, ErrOrderNotFound):
				if refunded[i] {
					t.Errorf("order %s was refunded, then deleted with its canceled copy", id)
				}
			case err != nil:
				t.Fatal(err)
			case o.Status != lifecycle.Refunded || !refunded[i]:
				t.Errorf("order %s kept as %s (refunded by the payment: %v)", id, o.Status, refunded[i])
			default:
				kept++
			}
		}
		if kept+deleted != len(ids) {
			t.Errorf("%d kept + %d deleted of %d orders", kept, deleted, len(ids))
		}
		t.Logf("%d deleted, %d refunded first and kept", deleted, kept)
	})
}

func cancelOrder(t *testing.T, s *sqlStore, orderID string) {
	t.Helper()
	if a, err := s.Cancel(ctx(t), orderID); err != nil || !a.Effect.Changed {
		t.Fatalf("cancel %s: %+v, %v", orderID, a, err)
	}
}

// setTimes moves an order's payment deadline and last change.
func setTimes(t *testing.T, s *sqlStore, orderID string, expiresAt, updatedAt time.Time) {
	t.Helper()
	if _, err := s.DB().ExecContext(ctx(t), "UPDATE orders SET expires_at = ?, updated_at = ? WHERE order_id = ?", expiresAt, updatedAt, orderID); err != nil {
		t.Fatal(err)
	}
}

// wantFinal checks FinalOrders(olderThan, limit) against the orders named,
// in order, each as Order reads it, and FinalBacklog without the limit.
func wantFinal(t *testing.T, s *sqlStore, olderThan time.Time, limit int, ids ...string) {
	t.Helper()
	got, err := s.FinalOrders(ctx(t), olderThan, limit)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, o := range got {
		gotIDs = append(gotIDs, o.OrderID)
	}
	if !slices.Equal(gotIDs, ids) {
		t.Fatalf("final orders older than %s (limit %d): %v, want %v", olderThan, limit, gotIDs, ids)
	}
	for _, o := range got {
		if want := orderOf(t, s, o.OrderID); !reflect.DeepEqual(o, want) || len(o.Lines) == 0 || len(o.Timeline) < 2 {
			t.Fatalf("final order\n%+v\nwant it whole, as Order reads it\n%+v", o, want)
		}
	}
	if n, err := s.FinalBacklog(ctx(t), olderThan); err != nil || (len(ids) < limit && n != int64(len(ids))) || n < int64(len(ids)) {
		t.Fatalf("backlog %d, %v; %d orders returned with limit %d", n, err, len(ids), limit)
	}
}
