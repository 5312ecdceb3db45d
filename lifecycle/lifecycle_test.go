package lifecycle

import (
	"errors"
	"testing"
)

func TestNext(t *testing.T) {
	cases := []struct {
		cur     Status
		step    Step
		next    Status
		changed bool
		restock bool
		refund  bool
		err     error
	}{
		{None, Checkout, Created, true, false, false, nil},
		{Created, Checkout, Created, false, false, false, nil},
		{None, PaymentSucceeded, None, false, false, false, ErrUnknownOrder},
		{Created, PaymentSucceeded, Placed, true, false, false, nil},
		{Placed, PaymentSucceeded, Placed, false, false, false, nil},
		{Canceled, PaymentSucceeded, Refunded, true, false, true, nil},
		{Refunded, PaymentSucceeded, Refunded, false, false, false, nil},
		{Created, PaymentFailed, Canceled, true, true, false, nil},
		{Canceled, PaymentFailed, Canceled, false, false, false, nil},
		{Placed, PaymentFailed, Placed, false, false, false, nil},
		{Created, Expire, Canceled, true, true, false, nil},
		{Placed, Expire, Placed, false, false, false, nil},
		{Created, Cancel, Canceled, true, true, false, nil},
		{Placed, Cancel, Refunded, true, true, true, nil},
		{Canceled, Cancel, Canceled, false, false, false, nil},
		{Refunded, Cancel, Refunded, false, false, false, nil},
		{Shipped, Cancel, None, false, false, false, ErrNotCancelable},
		{Delivered, Cancel, None, false, false, false, ErrNotCancelable},
		{Placed, Ship, Shipped, true, false, false, nil},
		{Created, Ship, Created, false, false, false, nil},
		{Refunded, Ship, Refunded, false, false, false, nil},
		{Shipped, Deliver, Delivered, true, false, false, nil},
		{Placed, Deliver, Placed, false, false, false, nil},
	}
	for _, c := range cases {
		e, err := Next(c.cur, c.step)
		if !errors.Is(err, c.err) {
			t.Errorf("%q + %s: error %v, want %v", c.cur, c.step, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		if e.Next != c.next || e.Changed != c.changed || e.Restock != c.restock || e.Refund != c.refund {
			t.Errorf("%q + %s = %+v, want next %q changed %v restock %v refund %v", c.cur, c.step, e, c.next, c.changed, c.restock, c.refund)
		}
		if e.Changed {
			if got, ok := StatusOf(e.Event); !ok || got != e.Next {
				t.Errorf("%q + %s records %q, which is status %q, not %q", c.cur, c.step, e.Event, got, e.Next)
			}
		}
	}
}

// Whatever steps arrive in whatever order, an order is never both placed
// (kept by the shopper) and restocked, and stock goes back at most once.
func TestNeverPlacedAndRestocked(t *testing.T) {
	steps := []Step{PaymentSucceeded, PaymentFailed, Expire, Cancel, Ship, Deliver}
	var walk func(cur Status, restocks int, depth int)
	walk = func(cur Status, restocks, depth int) {
		if restocks > 1 {
			t.Fatalf("restocked twice, ending %s", cur)
		}
		if restocks == 1 && HoldsStock(cur) {
			t.Fatalf("order %s after its stock went back", cur)
		}
		if restocks == 0 && !HoldsStock(cur) {
			t.Fatalf("order %s without its stock going back", cur)
		}
		if depth == 0 {
			return
		}
		for _, s := range steps {
			e, err := Next(cur, s)
			if err != nil || !e.Changed {
				continue
			}
			if !Follows(cur, e.Next) {
				t.Fatalf("Follows(%s, %s) is false, but %s makes it", cur, e.Next, s)
			}
			r := restocks
			if e.Restock {
				r++
			}
			walk(e.Next, r, depth-1)
		}
	}
	walk(Created, 0, 6)
	if Follows(Delivered, Placed) || Follows(Refunded, Canceled) || Follows(None, Placed) {
		t.Error("Follows allows a transition Next never makes")
	}
}
