// Package payment is shopstream's payment role: a simulated payment gateway
// whose success, failure and no-answer rates and latency are configurable,
// and the Role that charges every created order through it and publishes
// the outcome on payment.events, and pays refunded orders back. The REST
// edge applies those events to the order-taking database (placed,
// canceled with the stock restored, or refunded when the money arrives
// after the order expired); an order the gateway never answers is
// canceled by the edge's expiry sweeper.
package payment

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/shopstream/shopstream/eventlog/due"
	"github.com/shopstream/shopstream/topics"
)

// Outcome is a gateway's answer to a charge.
type Outcome int

// The outcomes.
const (
	Succeeded Outcome = iota + 1
	Failed
	// NoAnswer: the gateway never answers; the caller hears nothing.
	NoAnswer
)

func (o Outcome) String() string {
	switch o {
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case NoAnswer:
		return "no answer"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// ErrInvalidRequest is a request the gateway refuses whatever the outcome
// would have been (no order id, no amount, unknown currency).
var ErrInvalidRequest = errors.New("invalid payment request")

// Request asks the gateway to charge (or refund) one order.
type Request struct {
	OrderID     string
	AmountCents int64
	Currency    string
	// At is when the request was sent; the answer comes the gateway's
	// latency after it. Zero means now. The role passes the order event's
	// time, so a redelivered event is answered at the same time as before.
	At time.Time
}

func (r Request) validate() error {
	switch {
	case r.OrderID == "":
		return fmt.Errorf("%w: no order id", ErrInvalidRequest)
	case r.AmountCents <= 0:
		return fmt.Errorf("%w: order %s: amount_cents %d is not positive", ErrInvalidRequest, r.OrderID, r.AmountCents)
	case !topics.KnownCurrency(r.Currency):
		return fmt.Errorf("%w: order %s: unknown currency %q", ErrInvalidRequest, r.OrderID, r.Currency)
	}
	return nil
}

// Result is the gateway's answer.
type Result struct {
	Outcome Outcome
	// PaymentID identifies the charge (a refund names the charge it pays
	// back); empty when there is no answer.
	PaymentID string
	// Reason says why a charge failed.
	Reason string
	// AnsweredAt is the request's At plus the latency; zero when there is
	// no answer.
	AnsweredAt time.Time
}

// Gateway is a simulated payment gateway. It is idempotent by order id as
// real gateways are by idempotency key: an order's outcome, payment id,
// failure reason and latency are a function of the seed and the order id,
// so charging an order again (a redelivered order.created) answers the
// same and charges nothing more.
type Gateway struct {
	success, failure, noAnswer float64
	minLatency, maxLatency     time.Duration
	seed                       int64
}

// GatewayOption configures a Gateway.
type GatewayOption func(*Gateway)

// Rates sets the shares of charges that succeed, fail and get no answer;
// each is between 0 and 1 and they sum to 1. The default is 1, 0, 0.
func Rates(success, failure, noAnswer float64) GatewayOption {
	return func(g *Gateway) { g.success, g.failure, g.noAnswer = success, failure, noAnswer }
}

// Latency makes every answer take d (default 0).
func Latency(d time.Duration) GatewayOption {
	return func(g *Gateway) { g.minLatency, g.maxLatency = d, d }
}

// LatencyBetween makes each order's answers take between lo and hi
// inclusive, drawn per order from the seed.
func LatencyBetween(lo, hi time.Duration) GatewayOption {
	return func(g *Gateway) { g.minLatency, g.maxLatency = lo, hi }
}

// Seed fixes the outcomes: the same seed gives every order the same
// outcome on every run (default 0).
func Seed(seed int64) GatewayOption { return func(g *Gateway) { g.seed = seed } }

// rateTolerance absorbs float rounding in rates that sum to 1 on paper
// (0.6 + 0.3 + 0.1 is 0.9999999999999999).
const rateTolerance = 1e-9

// NewGateway returns a gateway, or an error naming the option at fault.
func NewGateway(opts ...GatewayOption) (*Gateway, error) {
	g := &Gateway{success: 1}
	for _, o := range opts {
		o(g)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"success", g.success}, {"failure", g.failure}, {"no-answer", g.noAnswer}} {
		if !(r.v >= 0 && r.v <= 1) {
			return nil, fmt.Errorf("payment: gateway: %s rate %v is not between 0 and 1", r.name, r.v)
		}
	}
	if sum := g.success + g.failure + g.noAnswer; math.Abs(sum-1) > rateTolerance {
		return nil, fmt.Errorf("payment: gateway: rates sum to %v (success %v + failure %v + no-answer %v); they must sum to 1",
			sum, g.success, g.failure, g.noAnswer)
	}
	if g.minLatency < 0 {
		return nil, fmt.Errorf("payment: gateway: latency %v is negative", g.minLatency)
	}
	if g.maxLatency < g.minLatency {
		return nil, fmt.Errorf("payment: gateway: latency range %v to %v ends before it starts", g.minLatency, g.maxLatency)
	}
	return g, nil
}

// MaxLatency is the longest any answer takes.
func (g *Gateway) MaxLatency() time.Duration { return g.maxLatency }

// Outcome is how a charge of the order turns out. It is a plain function of
// the seed and the order id: a uniform draw in [0, 1) against the rates.
func (g *Gateway) Outcome(orderID string) Outcome {
	u := float64(g.draw("outcome", orderID)>>11) / (1 << 53)
	switch {
	case u < g.success:
		return Succeeded
	case u < g.success+g.failure:
		return Failed
	}
	return NoAnswer
}

// latency is how long the gateway takes to answer a charge ("charge") or
// a refund ("refund") of the order.
func (g *Gateway) latency(kind, orderID string) time.Duration {
	span := uint64(g.maxLatency - g.minLatency)
	if span == 0 {
		return g.minLatency
	}
	return g.minLatency + time.Duration(g.draw("latency/"+kind, orderID)%(span+1))
}

// declines are the reasons the simulated gateway gives for a failure.
var declines = []string{"card declined", "insufficient funds", "card expired", "suspected fraud"}

// Reason is why a charge of the order fails, if it does.
func (g *Gateway) Reason(orderID string) string {
	return declines[g.draw("reason", orderID)%uint64(len(declines))]
}

// draw is 64 pseudo-random bits fixed by the seed, the purpose and the
// order id.
func (g *Gateway) draw(purpose, orderID string) uint64 {
	h := sha256.New()
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(g.seed))
	h.Write(seed[:])
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(orderID))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// PaymentID is the id of the order's charge: the same for every attempt,
// as an idempotency key would make it.
func PaymentID(orderID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("shopstream:payment/"+orderID)).String()
}

// Charge charges the order and returns the answer once it is due: at
// req.At plus the order's latency, waiting no longer than that latency
// from now. A request sent long ago is answered at once. NoAnswer returns
// at once too: the caller hears nothing and must not wait for it. The
// error is ErrInvalidRequest (wrapped) or ctx's.
func (g *Gateway) Charge(ctx context.Context, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, fmt.Errorf("payment: charge: %w", err)
	}
	out := g.Outcome(req.OrderID)
	if out == NoAnswer {
		return Result{Outcome: NoAnswer}, nil
	}
	res := Result{Outcome: out, PaymentID: PaymentID(req.OrderID)}
	if out == Failed {
		res.Reason = g.Reason(req.OrderID)
	}
	return g.answer(ctx, res, req, "charge")
}

// Refund pays the amount of the order's charge back, answering as Charge
// does. The simulated gateway accepts every refund; the result names the
// charge refunded.
func (g *Gateway) Refund(ctx context.Context, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, fmt.Errorf("payment: refund: %w", err)
	}
	return g.answer(ctx, Result{Outcome: Succeeded, PaymentID: PaymentID(req.OrderID)}, req, "refund")
}

func (g *Gateway) answer(ctx context.Context, res Result, req Request, kind string) (Result, error) {
	at := req.At
	if at.IsZero() {
		at = time.Now()
	}
	lat := g.latency(kind, req.OrderID)
	res.AnsweredAt = at.Add(lat)
	if err := due.Wait(ctx, res.AnsweredAt, lat); err != nil {
		return Result{}, fmt.Errorf("payment: %s order %s: %w", kind, req.OrderID, err)
	}
	return res, nil
}
