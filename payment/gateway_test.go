package payment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func gateway(t testing.TB, opts ...GatewayOption) *Gateway {
	t.Helper()
	g, err := NewGateway(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func orderIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("order-%06d", i)
	}
	return ids
}

func TestNewGatewayNamesTheBadValue(t *testing.T) {
	cases := []struct {
		opts []GatewayOption
		want string
	}{
		{[]GatewayOption{Rates(1.2, -0.2, 0)}, "success rate 1.2 is not between 0 and 1"},
		{[]GatewayOption{Rates(0.5, -0.1, 0.6)}, "failure rate -0.1 is not between 0 and 1"},
		{[]GatewayOption{Rates(0, 0, math.NaN())}, "no-answer rate NaN is not between 0 and 1"},
		{[]GatewayOption{Rates(0.5, 0.1, 0)}, "rates sum to 0.6 (success 0.5 + failure 0.1 + no-answer 0); they must sum to 1"},
		{[]GatewayOption{Latency(-time.Millisecond)}, "latency -1ms is negative"},
		{[]GatewayOption{LatencyBetween(2*time.Second, time.Second)}, "latency range 2s to 1s ends before it starts"},
	}
	for _, c := range cases {
		_, err := NewGateway(c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
	// Rates that sum to 1 only up to float rounding are fine.
	gateway(t, Rates(0.6, 0.3, 0.1), LatencyBetween(0, time.Second), Seed(-7))
}

func TestOutcomeAtExtremeRates(t *testing.T) {
	for _, c := range []struct {
		rates [3]float64
		want  Outcome
	}{{[3]float64{1, 0, 0}, Succeeded}, {[3]float64{0, 1, 0}, Failed}, {[3]float64{0, 0, 1}, NoAnswer}} {
		g := gateway(t, Rates(c.rates[0], c.rates[1], c.rates[2]), Seed(3))
		for _, id := range orderIDs(2000) {
			if got := g.Outcome(id); got != c.want {
				t.Fatalf("rates %v: order %s %v, want %v", c.rates, id, got, c.want)
			}
		}
	}
}

func TestOutcomeIsFixedBySeedAndOrder(t *testing.T) {
	a := gateway(t, Rates(0.6, 0.3, 0.1), Seed(42))
	b := gateway(t, Rates(0.6, 0.3, 0.1), Seed(42))
	other := gateway(t, Rates(0.6, 0.3, 0.1), Seed(43))
	differ := 0
	for _, id := range orderIDs(1000) {
		if a.Outcome(id) != b.Outcome(id) || a.Reason(id) != b.Reason(id) {
			t.Fatalf("order %s: the same seed gave %v/%q and %v/%q", id, a.Outcome(id), a.Reason(id), b.Outcome(id), b.Reason(id))
		}
		if a.Outcome(id) != other.Outcome(id) {
			differ++
		}
	}
	// Two independent draws at these rates differ for 1-(.36+.09+.01) = 54%.
	if differ < 400 {
		t.Fatalf("seeds 42 and 43 differ on %d of 1000 orders: the seed barely matters", differ)
	}
}

// within reports whether count out of n is within 5 standard deviations
// of the rate p: a sane tolerance that a correct gateway misses about
// once in a million runs.
func within(count, n int, p float64) bool {
	return math.Abs(float64(count)-float64(n)*p) <= 5*math.Sqrt(float64(n)*p*(1-p))
}

func TestOutcomeMixFollowsTheRates(t *testing.T) {
	g := gateway(t, Rates(0.6, 0.3, 0.1), Seed(1))
	n := 100_000
	counts := map[Outcome]int{}
	for _, id := range orderIDs(n) {
		counts[g.Outcome(id)]++
	}
	for o, p := range map[Outcome]float64{Succeeded: 0.6, Failed: 0.3, NoAnswer: 0.1} {
		if !within(counts[o], n, p) {
			t.Errorf("%v: %d of %d, want about %.0f", o, counts[o], n, float64(n)*p)
		}
	}
}

func TestLatencyBetweenIsPerOrderAndInRange(t *testing.T) {
	lo, hi := 100*time.Millisecond, 300*time.Millisecond
	g := gateway(t, LatencyBetween(lo, hi), Seed(9))
	distinct := map[time.Duration]bool{}
	for _, id := range orderIDs(500) {
		d := g.latency("charge", id)
		if d < lo || d > hi {
			t.Fatalf("order %s: latency %v outside [%v, %v]", id, d, lo, hi)
		}
		if d != g.latency("charge", id) {
			t.Fatalf("order %s: latency changed between calls", id)
		}
		distinct[d] = true
	}
	if len(distinct) < 400 {
		t.Fatalf("only %d distinct latencies in 500 orders", len(distinct))
	}
	if g.MaxLatency() != hi {
		t.Fatalf("MaxLatency %v, want %v", g.MaxLatency(), hi)
	}
	if fixed := gateway(t, Latency(time.Second)); fixed.latency("refund", "o") != time.Second {
		t.Fatalf("fixed latency %v", fixed.latency("refund", "o"))
	}
}

// The answer is due at the request time plus the latency: a request sent
// an hour ago with an hour's latency is answered at once (waiting would
// outlast the context), stamped with its due time.
func TestChargeAnswersAtRequestTimePlusLatency(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sent := time.Now().Add(-time.Hour).UTC()
	for _, c := range []struct {
		rates [3]float64
		want  Result
	}{
		{[3]float64{1, 0, 0}, Result{Outcome: Succeeded, PaymentID: PaymentID("o-1"), AnsweredAt: sent.Add(time.Hour)}},
		{[3]float64{0, 1, 0}, Result{Outcome: Failed, PaymentID: PaymentID("o-1"), AnsweredAt: sent.Add(time.Hour)}},
		{[3]float64{0, 0, 1}, Result{Outcome: NoAnswer}},
	} {
		g := gateway(t, Rates(c.rates[0], c.rates[1], c.rates[2]), Latency(time.Hour))
		if c.want.Outcome == Failed {
			c.want.Reason = g.Reason("o-1")
		}
		for range 2 { // charging again answers the same
			got, err := g.Charge(ctx, Request{OrderID: "o-1", AmountCents: 1999, Currency: "USD", At: sent})
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("rates %v: %+v, want %+v", c.rates, got, c.want)
			}
		}
	}
	if PaymentID("o-1") == PaymentID("o-2") || PaymentID("o-1") == "" {
		t.Fatalf("payment ids do not identify the order: %q %q", PaymentID("o-1"), PaymentID("o-2"))
	}
}

func TestChargeStopsWithTheContext(t *testing.T) {
	g := gateway(t, Latency(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := g.Charge(ctx, Request{OrderID: "o-1", AmountCents: 100, Currency: "EUR", At: time.Now()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestChargeAndRefundRefuseInvalidRequests(t *testing.T) {
	g := gateway(t)
	ctx := context.Background()
	cases := []struct {
		req  Request
		want string
	}{
		{Request{AmountCents: 100, Currency: "USD"}, "no order id"},
		{Request{OrderID: "o-1", Currency: "USD"}, "order o-1: amount_cents 0 is not positive"},
		{Request{OrderID: "o-1", AmountCents: -5, Currency: "USD"}, "amount_cents -5 is not positive"},
		{Request{OrderID: "o-1", AmountCents: 100, Currency: "usd"}, `unknown currency "usd"`},
	}
	for _, c := range cases {
		for name, call := range map[string]func(context.Context, Request) (Result, error){"charge": g.Charge, "refund": g.Refund} {
			_, err := call(ctx, c.req)
			if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "payment: "+name) {
				t.Errorf("%s %+v: error %v, want ErrInvalidRequest naming %q", name, c.req, err, c.want)
			}
		}
	}
}

// The simulated gateway pays back any refund, naming the charge.
func TestRefundNamesTheCharge(t *testing.T) {
	g := gateway(t, Rates(0, 0, 1), Latency(time.Minute))
	sent := time.Now().Add(-time.Hour).UTC()
	got, err := g.Refund(context.Background(), Request{OrderID: "o-9", AmountCents: 500, Currency: "INR", At: sent})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Outcome: Succeeded, PaymentID: PaymentID("o-9"), AnsweredAt: sent.Add(time.Minute)}
	if got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
}
