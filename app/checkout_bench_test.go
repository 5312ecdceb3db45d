package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/shopstream/shopstream/api/ordertaking"
	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/internal/checkoutbench"
)

// The HTTP checkout benchmarks run an App with the processors, the search
// sink, shipping and the REST edge (its relay, inbound consumer and
// sweeper), all but payment, on the embedded broker and the order-taking
// database under test. Items arrive through the supplier API and the
// pipeline; the benchmark waits until the catalog view prices them and the
// database sells them. Then, through HTTP on keep-alive connections opened
// beforehand, it measures POST /v1/orders against internal/checkoutbench's
// baseline run in the same process on the same database, through the
// store's own connection pool:
//
//   - BenchmarkCheckoutHTTP: 10,000 orders of two items each from 64
//     clients, against the raw SQL loop of the same orders over the same
//     items with 64 goroutines.
//   - BenchmarkFlashSaleHTTP: 2,000 buyers at once of one unit of an item
//     with 1,000: exactly 1,000 orders and 1,000 insufficient_stock, never
//     oversold; against the naive hot-row loop, 2,000 buyers of a second
//     item with 1,000 units.
//
// Each phase starts from a quiet App: outbox published and every consumer
// group caught up, so neither side pays for the other's events.
//
// Run once each: go test ./app -run '^$' -bench 'CheckoutHTTP|FlashSaleHTTP'
// -benchtime 1x -timeout 20m (the mysql halves need SHOPSTREAM_TEST_MYSQL).

// httpItems is how many items BenchmarkCheckoutHTTP's orders spread over:
// far more than 64 clients hold at once, few enough to load quickly.
const httpItems = 2_000

func BenchmarkCheckoutHTTP(b *testing.B) {
	checkoutbench.Engines(b, func(b *testing.B, fresh func() config.OrdersStore) {
		e := startEdge(b, fresh())
		items := make([]string, httpItems)
		for i := range items {
			items[i] = checkoutbench.Item("bench", i)
		}
		e.supply(b, items, 1_000_000)
		w := checkoutbench.Work{Orders: checkoutbench.Orders, Callers: checkoutbench.Callers,
			Lines: checkoutbench.Pairs("bench", httpItems), TTL: e.a.Config.Orders.TTL}
		var raw, web checkoutbench.Phase
		b.ResetTimer()
		for range b.N {
			e.settle(b)
			p, err := checkoutbench.RawCheckouts(context.Background(), e.db, e.driver, w)
			if err != nil {
				b.Fatal(err)
			}
			raw.Add(p)
			e.settle(b)
			e.connect(b, w.Callers)
			web.Add(e.checkouts(b, w))
		}
		checkoutbench.Report(b, web, raw)
	})
}

func BenchmarkFlashSaleHTTP(b *testing.B) {
	checkoutbench.Engines(b, func(b *testing.B, fresh func() config.OrdersStore) {
		e := startEdge(b, fresh())
		var raw, web checkoutbench.Phase
		for i := range b.N {
			b.StopTimer()
			flash, naive := fmt.Sprintf("flash-%d", i), fmt.Sprintf("naive-%d", i)
			e.supply(b, []string{flash, naive}, checkoutbench.FlashUnits)
			e.settle(b)
			b.StartTimer()
			p, err := checkoutbench.NaiveFlashSale(context.Background(), e.db, naive, checkoutbench.FlashBuyers)
			if err != nil {
				b.Fatal(err)
			}
			if p.Orders != checkoutbench.FlashUnits {
				b.Fatalf("naive loop sold %d units of %d", p.Orders, checkoutbench.FlashUnits)
			}
			e.soldOut(b, naive, 0)
			raw.Add(p)
			b.StopTimer()
			e.settle(b)
			e.connect(b, checkoutbench.FlashBuyers)
			b.StartTimer()
			web.Add(e.flashSale(b, flash))
		}
		checkoutbench.Report(b, web, raw)
	})
}

// edge is a running App and what the benchmarks reach it by.
type edge struct {
	a      *app.App
	db     *sql.DB // the order-taking store's own pool
	driver string
	base   string
	client *http.Client
	adm    *kadm.Client
}

// startEdge runs an App on the order-taking database orders until the
// benchmark ends.
func startEdge(b *testing.B, orders config.OrdersStore) *edge {
	b.Helper()
	cfg := embeddedConfig(b.TempDir())
	cfg.Stores.Orders = orders
	cfg.Orders.TTL = time.Hour // nothing expires while the benchmark runs
	a := start(b, cfg, withoutPayment).App
	store, ok := a.Stores.Orders.(interface{ DB() *sql.DB })
	if !ok {
		b.Fatalf("the orders store %T does not expose its *sql.DB for the raw loops", a.Stores.Orders)
	}
	checkoutbench.Pool(store.DB(), orders.Driver)
	// Keep-alive connections for every buyer of a flash sale.
	tr := &http.Transport{MaxIdleConnsPerHost: checkoutbench.FlashBuyers, IdleConnTimeout: 10 * time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	return &edge{a: a, db: store.DB(), driver: orders.Driver, base: "http://" + a.HTTPAddr(),
		client: &http.Client{Transport: tr, Timeout: time.Minute}, adm: kadm.NewClient(a.Kafka)}
}

// do sends a JSON request and returns the answer's status and body.
func (e *edge) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// supply loads items with units each through the supplier API and waits
// until the catalog view has them and the database sells them.
func (e *edge) supply(b *testing.B, items []string, units int64) {
	b.Helper()
	for start := 0; start < len(items); start += ingest.MaxBatchItems {
		part := items[start:min(start+ingest.MaxBatchItems, len(items))]
		var upserts, levels []any
		for _, id := range part {
			upserts = append(upserts, item(id, "Bench item "+id, "Acme", 2500))
			levels = append(levels, map[string]any{"item_id": id, "warehouse_id": "w1", "on_hand": units})
		}
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/suppliers/bench/items", map[string]any{"items": upserts}},
			{"PUT", "/v1/suppliers/bench/inventory", map[string]any{"levels": levels}},
		} {
			if code, out, err := e.do(req.method, req.path, req.body); err != nil || code != http.StatusOK {
				b.Fatalf("%s %s: %d %s %v", req.method, req.path, code, out, err)
			}
		}
	}
	ctx := context.Background()
	for _, id := range items {
		e.eventually(b, "database stock of "+id, func() bool {
			s, ok, err := e.a.Stores.Orders.Stock(ctx, id)
			return err == nil && ok && s.OnHand == units
		})
		e.eventually(b, "catalog item "+id, func() bool {
			code, _, err := e.do("GET", "/v1/items/"+id, nil)
			return err == nil && code == http.StatusOK
		})
	}
}

func (e *edge) eventually(b *testing.B, what string, ok func() bool) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			b.Fatalf("%s: not reached within 2 minutes", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits until the outbox is published and every consumer group has
// caught up, so a phase does not pay for the events of the one before. It
// goes on after two minutes, saying what is left.
func (e *edge) settle(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		backlog, _, err := e.a.Stores.Orders.OutboxBacklog(ctx)
		if err != nil {
			b.Fatal(err)
		}
		lagging := map[string]int64{}
		listed, err := e.adm.ListGroups(ctx)
		if err == nil {
			var lags kadm.DescribedGroupLags
			lags, err = e.adm.Lag(ctx, listed.Groups()...)
			lags.Each(func(l kadm.DescribedGroupLag) {
				for _, parts := range l.Lag {
					for _, m := range parts {
						if m.Lag > 0 {
							lagging[l.Group] += m.Lag
						}
					}
				}
			})
		}
		if err == nil && backlog == 0 && len(lagging) == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Logf("not quiet after 2 minutes (measuring anyway): outbox %d, group lag %v, %v", backlog, lagging, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// connect opens n keep-alive connections to the edge, each held until all
// are open, so a phase's clients do not time TCP handshakes.
func (e *edge) connect(b *testing.B, n int) {
	b.Helper()
	var opened, done sync.WaitGroup
	var failed checkoutbench.Failures
	release := make(chan struct{})
	opened.Add(n)
	for range n {
		done.Go(func() {
			resp, err := e.client.Get(e.base + "/healthz")
			opened.Done()
			if err != nil {
				failed.Add(err)
				return
			}
			<-release // the connection stays busy until its body is read
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	opened.Wait()
	close(release)
	done.Wait()
	if err := failed.Err("open connections", n); err != nil {
		b.Fatal(err)
	}
}

// order posts a checkout of lines for user.
func (e *edge) order(user string, lines []checkoutbench.Line) (int, []byte, error) {
	ls := make([]ordertaking.LineRequest, len(lines))
	for i, l := range lines {
		ls[i] = ordertaking.LineRequest{ItemID: l.ItemID, Quantity: l.Quantity}
	}
	return e.do("POST", "/v1/orders", map[string]any{"user_id": user, "lines": ls})
}

// checkouts takes w's orders through HTTP; every one must be created.
func (e *edge) checkouts(b *testing.B, w checkoutbench.Work) checkoutbench.Phase {
	b.Helper()
	var failed checkoutbench.Failures
	p := checkoutbench.Run(w.Orders, w.Callers, func(k int) {
		code, out, err := e.order(fmt.Sprintf("user-%d", k), w.Lines(k))
		switch {
		case err != nil:
			failed.Add(err)
		case code != http.StatusCreated:
			failed.Add(fmt.Errorf("%d %s", code, out))
		}
	})
	if err := failed.Err("HTTP checkouts", w.Orders); err != nil {
		b.Fatal(err)
	}
	return p
}

// flashSale has FlashBuyers buy one unit of item at once through HTTP and
// fails the benchmark unless exactly FlashUnits orders were created, the
// others refused for stock, and the database sold exactly the units.
func (e *edge) flashSale(b *testing.B, item string) checkoutbench.Phase {
	b.Helper()
	var created, short atomic.Int64
	var failed checkoutbench.Failures
	p := checkoutbench.Run(checkoutbench.FlashBuyers, checkoutbench.FlashBuyers, func(k int) {
		code, out, err := e.order(fmt.Sprintf("buyer-%d", k), []checkoutbench.Line{{ItemID: item, Quantity: 1}})
		var refusal struct {
			Error struct{ Code string } `json:"error"`
		}
		switch {
		case err != nil:
			failed.Add(err)
		case code == http.StatusCreated:
			created.Add(1)
		case code == http.StatusConflict && json.Unmarshal(out, &refusal) == nil && refusal.Error.Code == ordertaking.CodeInsufficientStock:
			short.Add(1)
		default:
			failed.Add(fmt.Errorf("%d %s", code, out))
		}
	})
	if err := failed.Err("HTTP flash sale", checkoutbench.FlashBuyers); err != nil {
		b.Fatal(err)
	}
	if created.Load() != checkoutbench.FlashUnits || short.Load() != checkoutbench.FlashBuyers-checkoutbench.FlashUnits {
		b.Fatalf("flash sale of %d units to %d buyers: %d created, %d insufficient_stock", checkoutbench.FlashUnits,
			checkoutbench.FlashBuyers, created.Load(), short.Load())
	}
	e.soldOut(b, item, checkoutbench.FlashUnits)
	p.Orders = int(created.Load())
	return p
}

// soldOut fails the benchmark unless the database committed exactly
// FlashUnits of item, no more than it had, in orders orders.
func (e *edge) soldOut(b *testing.B, item string, orders int) {
	b.Helper()
	s, ok, err := e.a.Stores.Orders.Stock(context.Background(), item)
	if err != nil || !ok {
		b.Fatalf("stock of %s: %v (found %v)", item, err, ok)
	}
	if s.OnHand != checkoutbench.FlashUnits || s.Committed != checkoutbench.FlashUnits {
		b.Fatalf("%s: committed %d of %d (oversold %d); want exactly %d", item, s.Committed, s.OnHand, max(-s.Sellable(), 0), checkoutbench.FlashUnits)
	}
	var n int
	if err := e.db.QueryRow("SELECT COUNT(*) FROM order_lines WHERE item_id = ?", item).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n != orders {
		b.Fatalf("%s: %d orders, want %d", item, n, orders)
	}
}
