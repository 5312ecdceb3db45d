package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/api/ordertaking"
	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/payment"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/membership"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/reconcile"
	"github.com/shopstream/shopstream/shipping"
	"github.com/shopstream/shopstream/topics"
)

// orderFlow is one all-in-one minus the payment role, whose gateway each
// scenario starts apart with the outcome it needs.
type orderFlow struct {
	t    *testing.T
	r    *running
	cfg  config.Config
	base string
	run  string
}

func (f *orderFlow) id(s string) string { return f.run + "-" + s }

// withoutPayment is AllInOne without the payment role.
func withoutPayment(a *app.App) error {
	for _, name := range app.ProcessorNames() {
		if err := a.RunProcessor(name); err != nil {
			return err
		}
	}
	if err := a.RunSearchSink(); err != nil {
		return err
	}
	if err := a.RunShipping(); err != nil {
		return err
	}
	if err := a.RunHistoryMigration(); err != nil {
		return err
	}
	return a.ServeAPI()
}

// startOrderFlow starts the flow; setup runs first (to set the app's
// clock, say), and more roles may follow in setup too.
func startOrderFlow(t *testing.T, setup ...func(*app.App) error) *orderFlow {
	cfg := testConfig(t, t.TempDir())
	cfg.Orders.TTL = 1500 * time.Millisecond
	cfg.Orders.SweepInterval = 100 * time.Millisecond
	cfg.Shipping.ShipAfter = 3 * time.Second
	cfg.Shipping.DeliverAfter = 200 * time.Millisecond
	// Finished orders move to history while the test runs: every read,
	// cancel and reconcile below must find them there.
	cfg.HistoryMigration.After = 3 * time.Second
	cfg.HistoryMigration.Interval = 200 * time.Millisecond
	if brokers, shared := testkafka.Real(); shared {
		// This deployment starts now: the roles that act on orders skip
		// the earlier suites' orders and payments on the shared Kafka
		// (thousands, each a database transaction for the edge to refuse).
		k := &pt.Kafka{Brokers: brokers}
		k.StartGroupAtEnd(t, goka.Group(ordertaking.InboundGroup), ordertaking.InboundTopics...)
		k.StartGroupAtEnd(t, payment.Name, topics.OrderEvents)
		k.StartGroupAtEnd(t, shipping.Name, shipping.Inputs...)
		k.StartGroupAtEnd(t, membership.Group, topics.MembershipCommands)
		k.StartGroupAtEnd(t, app.AnalyticsSinkGroup, topics.MembershipEvents, topics.OrderEvents)
	}
	r := start(t, cfg, append(setup, withoutPayment)...)
	return &orderFlow{t: t, r: r, cfg: cfg, base: "http://" + r.HTTPAddr(), run: testkafka.Unique("orders")}
}

// gateway runs the payment role alone, on the flow's brokers, with a
// gateway that answers every charge with one outcome; stop it to take the
// gateway down.
func (f *orderFlow) gateway(success, failure, noAnswer float64) *running {
	f.t.Helper()
	cfg := embeddedConfig(f.t.TempDir())
	cfg.Kafka.Embedded.Enabled = false
	cfg.Kafka.Brokers = f.r.Brokers
	cfg.Payments = config.Payments{SuccessRate: success, FailureRate: failure, NoAnswerRate: noAnswer, Latency: 50 * time.Millisecond, Seed: 7}
	gw := start(f.t, cfg, (*app.App).RunPayment)
	// Orders taken before the gateway has joined its group would wait for
	// the join; with a short TTL they might expire first.
	adm := kadm.NewClient(gw.Kafka)
	f.eventually("payment group stable", func() bool {
		groups, err := adm.DescribeGroups(context.Background(), payment.Name)
		g := groups[payment.Name]
		return err == nil && g.State == "Stable" && len(g.Members) == 1
	})
	return gw
}

// call sends a JSON request with optional headers and decodes the answer.
func call(t *testing.T, method, url string, body any, header ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// stock supplies items at on-hand levels and waits until the order-taking
// database sells them.
func (f *orderFlow) stock(levels map[string]int64) {
	f.t.Helper()
	var items, lv []any
	for id, n := range levels {
		items = append(items, item(id, "Thing "+id, "Acme", 2500))
		lv = append(lv, map[string]any{"item_id": id, "warehouse_id": "w1", "on_hand": n})
	}
	if code, out := send(f.t, "POST", f.base+"/v1/suppliers/acme/items", map[string]any{"items": items}); code != http.StatusOK {
		f.t.Fatalf("items: %d %v", code, out)
	}
	if code, out := send(f.t, "PUT", f.base+"/v1/suppliers/acme/inventory", map[string]any{"levels": lv}); code != http.StatusOK {
		f.t.Fatalf("stock: %d %v", code, out)
	}
	for id, n := range levels {
		f.eventually("database stock of "+id, func() bool {
			s, ok, err := f.r.Stores.Orders.Stock(context.Background(), id)
			return err == nil && ok && s.OnHand == n
		})
		f.eventually("catalog item "+id, func() bool {
			code, _ := send(f.t, "GET", f.base+"/v1/items/"+id, nil)
			return code == http.StatusOK
		})
	}
}

func (f *orderFlow) eventually(what string, ok func() bool) {
	f.t.Helper()
	// On a shared Kafka a role's first start catches up with every
	// earlier test's records first.
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			f.logOrderTopics()
			f.t.Fatalf("%s: not reached within 90s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// logOrderTopics logs what the order and payment topics hold, to tell a
// slow role from a lost event when a wait fails.
func (f *orderFlow) logOrderTopics() {
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.r.Brokers...), kgo.ConsumeTopics(topics.OrderEvents, topics.PaymentEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			ev, _ := topics.Decode(r.Value)
			f.t.Logf("%s %s %s key %s id %s", r.Timestamp.Format("15:04:05.000"), r.Topic, ev.Type, r.Key, ev.ID)
		})
	}
}

// checkout posts an order for user and returns its id.
func (f *orderFlow) checkout(user string, lines map[string]int64, header ...string) (int, map[string]any) {
	f.t.Helper()
	var ls []any
	for id, q := range lines {
		ls = append(ls, map[string]any{"item_id": id, "quantity": q})
	}
	return call(f.t, "POST", f.base+"/v1/orders", map[string]any{"user_id": user, "lines": ls}, header...)
}

func (f *orderFlow) mustCheckout(user string, lines map[string]int64) string {
	f.t.Helper()
	code, out := f.checkout(user, lines)
	if code != http.StatusCreated || out["status"] != "created" {
		f.t.Fatalf("checkout %v: %d %v", lines, code, out)
	}
	return out["order_id"].(string)
}

// waitStatus waits for the order's status and returns the order.
func (f *orderFlow) waitStatus(orderID, status string) map[string]any {
	f.t.Helper()
	var last map[string]any
	f.eventually("order "+orderID+" "+status, func() bool {
		_, last = call(f.t, "GET", f.base+"/v1/orders/"+orderID, nil)
		return last["status"] == status
	})
	return last
}

func (f *orderFlow) sellable(itemID string) int64 {
	f.t.Helper()
	s, _, err := f.r.Stores.Orders.Stock(context.Background(), itemID)
	if err != nil {
		f.t.Fatal(err)
	}
	return s.Sellable()
}

// reconcile asserts that the database and the stream side agree on this
// run's items and orders (on a shared Kafka other tests' orders are in the
// order table too; on the embedded broker nothing else is).
func (f *orderFlow) reconcile() {
	f.t.Helper()
	rt := processors.NewRuntime(f.r.Brokers, f.t.TempDir(), 10*time.Second, processors.Logger(quiet()))
	var only func(reconcile.Difference) bool
	if _, shared := testkafka.Real(); shared {
		only = func(d reconcile.Difference) bool { return strings.HasPrefix(d.ID, f.run) }
	}
	diffs, err := app.Reconcile(context.Background(), f.r.Stores.Orders, f.r.Stores.History, rt, 30*time.Second, only)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(diffs) > 0 {
		f.t.Fatalf("reconcile found %d difference(s):\n%v", len(diffs), diffs)
	}
}

func statuses(order map[string]any) []string {
	var out []string
	for _, s := range order["timeline"].([]any) {
		out = append(out, s.(map[string]any)["status"].(string))
	}
	return out
}

// notifications waits until the user has n notifications and returns
// their kinds, oldest first.
func (f *orderFlow) notifications(user string, n int) []string {
	f.t.Helper()
	var kinds []string
	f.eventually("notifications of "+user, func() bool {
		_, out := call(f.t, "GET", f.base+"/v1/users/"+user+"/notifications", nil)
		list, _ := out["notifications"].([]any)
		kinds = kinds[:0]
		for i := len(list) - 1; i >= 0; i-- {
			kinds = append(kinds, list[i].(map[string]any)["kind"].(string))
		}
		return len(list) >= n
	})
	return kinds
}

// Every payment outcome, expiry, a payment after expiry, cancels,
// idempotent retries, a cart checkout and a restart of every processor,
// each followed by a reconcile that finds nothing.
func TestOrdersEndToEnd(t *testing.T) {
	f := startOrderFlow(t)
	tv, mug, hot, lamp := f.id("tv"), f.id("mug"), f.id("hot"), f.id("lamp")
	f.stock(map[string]int64{tv: 10, mug: 5, hot: 2, lamp: 3})

	t.Run("no-answer-expires-and-restocks", func(t *testing.T) {
		f.t = t
		gw := f.gateway(0, 0, 1)
		defer gw.stop()
		id := f.mustCheckout(f.id("u-expire"), map[string]int64{tv: 2})
		if got := f.sellable(tv); got != 8 {
			t.Fatalf("sellable after checkout %d, want 8", got)
		}
		o := f.waitStatus(id, "canceled")
		if got := f.sellable(tv); got != 10 {
			t.Fatalf("sellable after expiry %d, want 10", got)
		}
		if s := statuses(o); strings.Join(s, ",") != "created,canceled" {
			t.Fatalf("timeline %v", s)
		}
		if kinds := f.notifications(f.id("u-expire"), 2); strings.Join(kinds, ",") != "created,canceled" {
			t.Fatalf("notifications %v", kinds)
		}
		f.reconcile()
	})

	t.Run("payment-after-expiry-is-a-refund", func(t *testing.T) {
		f.t = t
		// The gateway is down while the order expires, then answers yes.
		id := f.mustCheckout(f.id("u-late"), map[string]int64{mug: 1})
		f.waitStatus(id, "canceled")
		gw := f.gateway(1, 0, 0)
		defer gw.stop()
		o := f.waitStatus(id, "refunded")
		if s := statuses(o); strings.Join(s, ",") != "created,canceled,refunded" {
			t.Fatalf("timeline %v", s)
		}
		if got := f.sellable(mug); got != 5 {
			t.Fatalf("sellable %d, want 5: restocked once, at expiry", got)
		}
		f.reconcile()
	})

	t.Run("success-ships-and-delivers", func(t *testing.T) {
		f.t = t
		gw := f.gateway(1, 0, 0)
		defer gw.stop()
		user := f.id("u-happy")
		id := f.mustCheckout(user, map[string]int64{tv: 1, mug: 2})
		f.waitStatus(id, "placed")
		o := f.waitStatus(id, "delivered")
		if s := statuses(o); strings.Join(s, ",") != "created,placed,shipped,delivered" {
			t.Fatalf("timeline %v", s)
		}
		if f.sellable(tv) != 9 || f.sellable(mug) != 3 {
			t.Fatalf("delivered units must stay sold: tv %d mug %d", f.sellable(tv), f.sellable(mug))
		}
		if kinds := f.notifications(user, 4); strings.Join(kinds, ",") != "created,placed,shipped,delivered" {
			t.Fatalf("notifications %v", kinds)
		}
		if code, out := call(t, "POST", f.base+"/v1/orders/"+id+"/cancel", nil); code != http.StatusConflict || out["error"].(map[string]any)["code"] != "order_not_cancelable" {
			t.Fatalf("cancel after delivery: %d %v", code, out)
		}
		f.reconcile()
		// Once old enough it leaves the database and is still found.
		f.eventually("delivered order moved to history", func() bool {
			_, err := f.r.Stores.Orders.Order(context.Background(), id)
			return errors.Is(err, orderdb.ErrOrderNotFound)
		})
		if o := f.waitStatus(id, "delivered"); len(o["timeline"].([]any)) != 4 {
			t.Fatalf("order read from history: %v", o)
		}
		if code, out := call(t, "POST", f.base+"/v1/orders/"+id+"/cancel", nil); code != http.StatusConflict {
			t.Fatalf("cancel of an order in history: %d %v", code, out)
		}
		f.reconcile()
	})

	t.Run("failure-cancels-and-restocks", func(t *testing.T) {
		f.t = t
		gw := f.gateway(0, 1, 0)
		defer gw.stop()
		id := f.mustCheckout(f.id("u-declined"), map[string]int64{tv: 3})
		o := f.waitStatus(id, "canceled")
		if tl := o["timeline"].([]any); tl[1].(map[string]any)["reason"] != "payment failed" {
			t.Fatalf("timeline %v", tl)
		}
		if got := f.sellable(tv); got != 9 {
			t.Fatalf("sellable %d, want 9", got)
		}
		f.reconcile()
	})

	t.Run("cancel-before-and-after-payment", func(t *testing.T) {
		f.t = t
		user := f.id("u-cancel")
		unpaid := f.mustCheckout(user, map[string]int64{mug: 1})
		code, out := call(t, "POST", f.base+"/v1/orders/"+unpaid+"/cancel", nil)
		if code != http.StatusOK || out["status"] != "canceled" {
			t.Fatalf("cancel unpaid: %d %v", code, out)
		}
		gw := f.gateway(1, 0, 0)
		defer gw.stop()
		paid := f.mustCheckout(user, map[string]int64{mug: 2})
		f.waitStatus(paid, "placed")
		code, out = call(t, "POST", f.base+"/v1/orders/"+paid+"/cancel", nil)
		if code != http.StatusOK || out["status"] != "refunded" {
			t.Fatalf("cancel paid: %d %v", code, out)
		}
		if got := f.sellable(mug); got != 3 {
			t.Fatalf("sellable %d, want 3", got)
		}
		// A second cancel changes nothing.
		if code, out := call(t, "POST", f.base+"/v1/orders/"+paid+"/cancel", nil); code != http.StatusOK || out["status"] != "refunded" {
			t.Fatalf("second cancel: %d %v", code, out)
		}
		f.reconcile()
	})

	t.Run("idempotent-retry-and-conflicts", func(t *testing.T) {
		f.t = t
		user := f.id("u-retry")
		key := []string{"Idempotency-Key", f.id("key-1")}
		code, first := f.checkout(user, map[string]int64{tv: 1}, key...)
		if code != http.StatusCreated {
			t.Fatalf("first: %d %v", code, first)
		}
		code, again := f.checkout(user, map[string]int64{tv: 1}, key...)
		if code != http.StatusCreated || again["order_id"] != first["order_id"] {
			t.Fatalf("retry: %d %v, want order %v", code, again, first["order_id"])
		}
		if got := f.sellable(tv); got != 8 {
			t.Fatalf("sellable %d, want 8: the retry reserved nothing", got)
		}
		if code, out := f.checkout(user, map[string]int64{tv: 2}, key...); code != http.StatusUnprocessableEntity || out["error"].(map[string]any)["code"] != "idempotency_key_reused" {
			t.Fatalf("same key, other body: %d %v", code, out)
		}
		code, out := f.checkout(user, map[string]int64{hot: 3})
		short := out["error"].(map[string]any)["details"].(map[string]any)["short"].([]any)
		if code != http.StatusConflict || len(short) != 1 || short[0].(map[string]any)["available"].(float64) != 2 {
			t.Fatalf("over stock: %d %v", code, out)
		}
		if code, out := f.checkout(user, map[string]int64{f.id("nope"): 1}); code != http.StatusUnprocessableEntity || out["error"].(map[string]any)["code"] != "item_not_found" {
			t.Fatalf("unknown item: %d %v", code, out)
		}
		if code, out := f.checkout(user, map[string]int64{tv: 0}); code != http.StatusBadRequest || out["error"].(map[string]any)["code"] != "invalid_quantity" {
			t.Fatalf("quantity 0: %d %v", code, out)
		}
		if got := f.sellable(hot); got != 2 {
			t.Fatalf("refused checkouts reserved stock: %d", got)
		}
		f.reconcile()
	})

	t.Run("cart-checkout-empties-the-cart", func(t *testing.T) {
		f.t = t
		user := f.id("u-cart")
		if code, out := call(t, "POST", f.base+"/v1/users/"+user+"/cart", map[string]any{"item_id": hot, "quantity": 2}); code != http.StatusOK {
			t.Fatalf("add to cart: %d %v", code, out)
		}
		key := []string{"Idempotency-Key", f.id("cart-key")}
		code, out := call(t, "POST", f.base+"/v1/orders", map[string]any{"user_id": user}, key...)
		if code != http.StatusCreated || out["lines"].([]any)[0].(map[string]any)["quantity"].(float64) != 2 {
			t.Fatalf("cart checkout: %d %v", code, out)
		}
		f.eventually("cart emptied", func() bool {
			_, c := call(t, "GET", f.base+"/v1/users/"+user+"/cart", nil)
			lines, _ := c["lines"].([]any)
			return len(lines) == 0
		})
		// The retry finds the cart empty, and still gets its order.
		if code, again := call(t, "POST", f.base+"/v1/orders", map[string]any{"user_id": user}, key...); code != http.StatusCreated || again["order_id"] != out["order_id"] {
			t.Fatalf("retried cart checkout: %d %v, want order %v", code, again, out["order_id"])
		}
		if code, out := call(t, "POST", f.base+"/v1/orders", map[string]any{"user_id": user}); code != http.StatusUnprocessableEntity {
			t.Fatalf("empty cart checkout: %d %v", code, out)
		}
		f.reconcile()
	})

	t.Run("restart-recovers-and-applies-nothing-twice", func(t *testing.T) {
		f.t = t
		// Paid before the restart, shipped and delivered after it: the
		// processors and roles pick up where they stopped.
		gw := f.gateway(1, 0, 0)
		user := f.id("u-restart")
		id := f.mustCheckout(user, map[string]int64{lamp: 1})
		f.waitStatus(id, "placed")
		gw.stop()
		if err := f.r.stop(); err != nil {
			t.Fatal(err)
		}
		f.r = start(t, f.cfg, withoutPayment)
		f.base = "http://" + f.r.HTTPAddr()
		f.waitStatus(id, "delivered")
		if got := f.sellable(lamp); got != 2 {
			t.Fatalf("sellable %d, want 2", got)
		}
		if kinds := f.notifications(user, 4); strings.Join(kinds, ",") != "created,placed,shipped,delivered" {
			t.Fatalf("notifications after restart %v", kinds)
		}
		f.reconcile()
	})
}
