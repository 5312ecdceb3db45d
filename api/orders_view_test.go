package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/api/ordertaking"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/sinks/history"
	"github.com/shopstream/shopstream/topics"
)

// viewOrder is an order of the merge tests: only its position and the
// store it came from (in Status) matter.
func viewOrder(id string, created time.Time, from lifecycle.Status) orderdb.Order {
	return orderdb.Order{OrderID: id, UserID: "u1", Status: from, CreatedAt: created}
}

func orderIDs(orders []orderdb.Order) []string {
	out := make([]string, len(orders))
	for i, o := range orders {
		out[i] = o.OrderID
	}
	return out
}

func TestMergeOrdersView(t *testing.T) {
	ms := time.Date(2025, 3, 10, 9, 30, 0, 123_000_000, time.UTC) // a millisecond
	us := func(n int) time.Time { return ms.Add(time.Duration(n) * time.Microsecond) }
	live, hist := lifecycle.Placed, lifecycle.Delivered // which store each copy came from
	l := func(id string, n int) orderdb.Order { return viewOrder(id, us(n), live) }
	h := func(id string, n int) orderdb.Order { return viewOrder(id, us(n), hist) }

	for _, tc := range []struct {
		name           string
		live, archived []orderdb.Order
		limit          int
		more           bool
		want           []string
		next           string // the order the cursor is after, "" for none
	}{
		{"interleaved", []orderdb.Order{l("a5", 5000), l("a3", 3000), l("a1", 1000)}, []orderdb.Order{h("b4", 4000), h("b2", 2000)}, 10, false,
			[]string{"a5", "b4", "a3", "b2", "a1"}, ""},
		{"cut at the limit", []orderdb.Order{l("a5", 5000), l("a3", 3000), l("a1", 1000)}, []orderdb.Order{h("b4", 4000), h("b2", 2000)}, 3, false,
			[]string{"a5", "b4", "a3"}, "a3"},
		{"a store has more beyond a short merge", []orderdb.Order{l("a5", 5000), l("a3", 3000)}, nil, 2, true,
			[]string{"a5", "a3"}, "a3"},
		{"only history", nil, []orderdb.Order{h("b4", 4000), h("b2", 2000)}, 5, false, []string{"b4", "b2"}, ""},
		{"nothing", nil, nil, 5, false, []string{}, ""},
		// Mid-migration an order is in both stores: once, the live copy.
		{"an order in both shows once", []orderdb.Order{l("a5", 5000), l("x", 4000), l("a1", 1000)}, []orderdb.Order{h("x", 4000), h("b2", 2000)}, 10, false,
			[]string{"a5", "x", "b2", "a1"}, ""},
		{"every order in both", []orderdb.Order{l("a5", 5000), l("a3", 3000)}, []orderdb.Order{h("a5", 5000), h("a3", 3000)}, 2, false,
			[]string{"a5", "a3"}, ""},
		{"duplicates go before the cut", []orderdb.Order{l("a", 3000), l("x", 2000)}, []orderdb.Order{h("x", 2000), h("c", 1000)}, 2, false,
			[]string{"a", "x"}, "x"},
		// Equal microseconds: the order id decides, across the stores.
		{"equal times", []orderdb.Order{l("m2", 700), l("m0", 700)}, []orderdb.Order{h("m3", 700), h("m1", 700)}, 3, false,
			[]string{"m3", "m2", "m1"}, "m1"},
		// One millisecond, 300µs apart: the microseconds decide, not the id.
		{"one millisecond", []orderdb.Order{l("a", 100)}, []orderdb.Order{h("z", 400)}, 10, false, []string{"z", "a"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, next := mergeOrders(slices.Clone(tc.live), slices.Clone(tc.archived), tc.limit, tc.more)
			if got := orderIDs(page); !slices.Equal(got, tc.want) {
				t.Errorf("page %v, want %v", got, tc.want)
			}
			for _, o := range page {
				if slices.ContainsFunc(tc.live, func(x orderdb.Order) bool { return x.OrderID == o.OrderID }) && o.Status != live {
					t.Errorf("order %s shows history's copy, though the database holds it", o.OrderID)
				}
			}
			switch {
			case tc.next == "" && !next.IsZero():
				t.Errorf("next %+v on the last page", next)
			case tc.next != "" && next.OrderID != tc.next:
				t.Errorf("next %+v, want after %s", next, tc.next)
			case tc.next != "" && !next.CreatedAt.Equal(page[len(page)-1].CreatedAt):
				t.Errorf("next %+v is not at the last order shown", next)
			}
		})
	}
}

func TestViewCursor(t *testing.T) {
	c := history.Cursor{CreatedAt: time.Date(2025, 3, 10, 9, 30, 0, 123_456_000, time.UTC), OrderID: "01a20b65-63f1-740b-ba97-6ad53a702930"}
	got, err := parseViewCursor(viewCursor(c))
	if err != nil || got != c {
		t.Fatalf("round trip of %+v: %+v, %v", c, got, err)
	}
	for _, bad := range []string{"!!!", "MTIz", base64.RawURLEncoding.EncodeToString([]byte("123|")),
		base64.RawURLEncoding.EncodeToString([]byte("soon|o1")), base64.StdEncoding.EncodeToString([]byte("1741599000123456|o1"))} {
		if _, err := parseViewCursor(bad); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}

// viewBackend is a deployment's two stores: the order-taking database and
// the history store, each fresh, removed when t ends.
type viewBackend struct {
	orders  func(t *testing.T) (config.OrdersStore, string)
	history func(t *testing.T) (config.HistoryStore, string)
}

// TestContractOrdersView runs the merged view over both deployments:
// SQLite and the embedded history store (all-in-one), and MySQL and
// Cassandra against the real servers (real-cassandra; it skips without
// them, saying why).
func TestContractOrdersView(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		runOrdersView(t, viewBackend{
			orders: func(t *testing.T) (config.OrdersStore, string) {
				return config.OrdersStore{Driver: "sqlite"}, t.TempDir()
			},
			history: func(t *testing.T) (config.HistoryStore, string) {
				return config.HistoryStore{Driver: "embedded"}, t.TempDir()
			},
		})
	})
	t.Run("real-cassandra", func(t *testing.T) {
		mysql, cassandra := realserver.Addr(t, realserver.MySQL), realserver.Addr(t, realserver.Cassandra)
		runOrdersView(t, viewBackend{
			orders: func(t *testing.T) (config.OrdersStore, string) {
				return config.OrdersStore{Driver: "mysql", DSN: realserver.ScratchMySQL(t, mysql)}, ""
			},
			history: func(t *testing.T) (config.HistoryStore, string) {
				return config.HistoryStore{Driver: "cassandra", Hosts: []string{cassandra}, Keyspace: realserver.ScratchKeyspace(t, cassandra),
					ReplicationFactor: 1, Consistency: "one"}, t.TempDir()
			},
		})
	})
}

func runOrdersView(t *testing.T, b viewBackend) {
	t.Run("merges-live-and-history", func(t *testing.T) { testMergesLiveAndHistory(t, openViewStores(t, b)) })
	t.Run("between-the-two-reads", func(t *testing.T) { testBetweenTheTwoReads(t, openViewStores(t, b)) })
	t.Run("migrator-running", func(t *testing.T) { testMigratorRunning(t, openViewStores(t, b)) })
	t.Run("refuses-bad-input", func(t *testing.T) { testRefusesBadInput(t, openViewStores(t, b)) })
}

// viewStores is the two stores of one deployment, with a user's orders
// taken.
type viewStores struct {
	db   orderdb.Store
	hist history.Store
	svc  *ordertaking.Service
	// want is the user's orders as the database listed them before any
	// moved: what every walk of the view must give.
	want []orderdb.Order
}

const (
	viewUser   = "shopper-1"
	viewOrders = 60
	viewItem   = "item-view"
)

func openViewStores(t *testing.T, b viewBackend) *viewStores {
	t.Helper()
	ctx := t.Context()
	ocfg, odir := b.orders(t)
	db, err := orderdb.Open(ctx, ocfg, odir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hcfg, hdir := b.history(t)
	hist, err := history.Open(ctx, hcfg, hdir, history.Logger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hist.Close() })
	for _, st := range []interface{ Migrate(context.Context) error }{db, hist} {
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ApplyStock(ctx, orderdb.StockChange{EventID: topics.NewID(), ItemID: viewItem, OnHand: 1000, Version: 1, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s := &viewStores{db: db, hist: hist, svc: ordertaking.NewService(db, nil, nil, ordertaking.Limits{MaxLines: 10, MaxQuantity: 10, TTL: time.Minute})}

	// Half one at a time, half in concurrent bursts: many share a
	// millisecond, which only the microseconds order (ties of equal
	// microseconds are TestMergeOrdersView's and the stores' contract
	// suites'). Another user's orders must not show.
	checkout := func(user string) error {
		_, err := db.Checkout(ctx, orderdb.CheckoutRequest{UserID: user, Currency: "USD", TTL: time.Microsecond,
			Lines: []orderdb.Line{{ItemID: viewItem, Quantity: 1, PriceCents: 100}}})
		return err
	}
	for range viewOrders / 2 {
		if err := checkout(viewUser); err != nil {
			t.Fatal(err)
		}
	}
	for range viewOrders / 2 / 6 {
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 6 {
			wg.Go(func() { errs <- checkout(viewUser) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 5 {
		if err := checkout("shopper-2"); err != nil {
			t.Fatal(err)
		}
	}
	all, next, err := db.UserOrders(ctx, viewUser, "", orderdb.MaxPage)
	if err != nil || next != "" || len(all) != viewOrders {
		t.Fatalf("the user's orders: %d, next %q, %v", len(all), next, err)
	}
	// Canceled orders are final: the migration may move them. Every sixth
	// stays live, among them.
	for i, o := range all {
		if i%6 == 5 {
			continue
		}
		if _, err := db.Cancel(ctx, o.OrderID); err != nil {
			t.Fatal(err)
		}
	}
	if s.want, _, err = db.UserOrders(ctx, viewUser, "", orderdb.MaxPage); err != nil {
		t.Fatal(err)
	}
	sameMS, sameUS := 0, 0
	for i := 1; i < len(s.want); i++ {
		a, b := s.want[i-1].CreatedAt, s.want[i].CreatedAt
		if a.Equal(b) {
			sameUS++
		} else if a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond)) {
			sameMS++
		}
	}
	t.Logf("%d orders; after the one before: %d at the same microsecond, %d others in the same millisecond", len(s.want), sameUS, sameMS)
	return s
}

// serve mounts the order routes over the stores, with h as their history
// (nil: none), on a test server.
func (s *viewStores) serve(t *testing.T, h OrderHistory) string {
	t.Helper()
	var opts []OrdersOption
	if h != nil {
		opts = append(opts, WithHistory(h))
	}
	mux := http.NewServeMux()
	NewOrders(s.svc, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})), opts...).Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// move writes orders to history and then deletes them from the database,
// as the Migrator does; keep leaves them in both, as a migrator killed
// between its two steps does.
func (s *viewStores) move(ctx context.Context, orders []orderdb.Order, keep bool) error {
	if err := s.hist.Put(ctx, orders); err != nil {
		return err
	}
	if keep {
		return nil
	}
	_, err := s.db.DeleteOrders(ctx, orders)
	return err
}

// viewAnswer is an answer of GET /v1/users/{user_id}/orders.
type viewAnswer struct {
	Orders     []orderdb.Order `json:"orders"`
	NextCursor *string         `json:"next_cursor"`
	Error      struct {
		Code string `json:"code"`
	} `json:"error"`
}

func getUserOrders(t *testing.T, base, user, query string) (int, viewAnswer) {
	t.Helper()
	resp, err := http.Get(base + "/v1/users/" + user + "/orders?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	var a viewAnswer
	if err == nil {
		err = json.Unmarshal(raw, &a)
	}
	if err != nil {
		t.Fatalf("answer %d: %v: %s", resp.StatusCode, err, raw)
	}
	return resp.StatusCode, a
}

// walk reads every page of the user's orders, limit a page; every page but
// the last is full and says where the next starts.
func walk(t *testing.T, base string, limit int) []orderdb.Order {
	t.Helper()
	var out []orderdb.Order
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	for range viewOrders + 1 {
		code, a := getUserOrders(t, base, viewUser, q.Encode())
		if code != http.StatusOK {
			t.Fatalf("page after cursor %q: %d %s", q.Get("cursor"), code, a.Error.Code)
		}
		out = append(out, a.Orders...)
		if a.NextCursor == nil {
			return out
		}
		if len(a.Orders) != limit {
			t.Fatalf("a page of %d orders (limit %d) says more follow", len(a.Orders), limit)
		}
		q.Set("cursor", *a.NextCursor)
	}
	t.Fatalf("more than %d pages", viewOrders+1)
	return nil
}

// checkWalk checks that a walk gave exactly the user's orders, newest
// first, whole, each once.
func checkWalk(t *testing.T, got, want []orderdb.Order) {
	t.Helper()
	if !slices.Equal(orderIDs(got), orderIDs(want)) {
		t.Fatalf("the walk gave %d orders\n%v\nwant %d\n%v", len(got), orderIDs(got), len(want), orderIDs(want))
	}
	// As the client reads them: through JSON.
	var w []orderdb.Order
	raw, err := json.Marshal(want)
	if err == nil {
		err = json.Unmarshal(raw, &w)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], w[i]) {
			t.Errorf("order %s\n%+v\nwant\n%+v", got[i].OrderID, got[i], w[i])
		}
	}
}

// Half the final orders in history, a few in both stores (a migrator
// killed between its write and its delete), the rest live: pages of 7
// give every order once, newest first. Without history the route lists
// the database's alone, as before the merge.
func testMergesLiveAndHistory(t *testing.T, s *viewStores) {
	ctx := t.Context()
	var moved, both []orderdb.Order
	for i, o := range s.want {
		switch {
		case !lifecycle.Final(o.Status):
		case i%2 == 0:
			moved = append(moved, o)
		case i%3 == 1:
			both = append(both, o)
		}
	}
	if err := s.move(ctx, moved, false); err != nil {
		t.Fatal(err)
	}
	if err := s.move(ctx, both, true); err != nil {
		t.Fatal(err)
	}
	live, _, err := s.db.UserOrders(ctx, viewUser, "", orderdb.MaxPage)
	if err != nil || len(live) != viewOrders-len(moved) {
		t.Fatalf("%d orders left in the database, want %d: %v", len(live), viewOrders-len(moved), err)
	}

	base := s.serve(t, s.hist)
	checkWalk(t, walk(t, base, 7), s.want)
	for _, limit := range []int{1, 25, 100} {
		if got := walk(t, base, limit); !slices.Equal(orderIDs(got), orderIDs(s.want)) {
			t.Errorf("pages of %d: %v", limit, orderIDs(got))
		}
	}
	checkWalk(t, walk(t, s.serve(t, nil), 7), live)
}

// steppingHistory is the history store with one step of a migration run
// right before and right after each page it reads, given the page's
// position: the database has been read by then, so the first step moves
// orders of the page between the view's two reads.
type steppingHistory struct {
	history.Store
	step func(before history.Cursor, limit int)
}

func (h steppingHistory) UserOrders(ctx context.Context, user string, before history.Cursor, limit int) ([]orderdb.Order, history.Cursor, error) {
	h.step(before, limit)
	orders, next, err := h.Store.UserOrders(ctx, user, before, limit)
	h.step(before, limit)
	return orders, next, err
}

// Orders move while the view pages: a goroutine migrates final orders of
// the page being read, a few at a time, whenever the page is between its
// database read and its history read, and right after both; some batches
// stay in both stores for a step. Every walk gives every order once,
// newest first.
func testBetweenTheTwoReads(t *testing.T, s *viewStores) {
	ctx := t.Context()
	type stepAt struct {
		before history.Cursor
		limit  int
		done   chan error
	}
	steps := make(chan stepAt)
	// The migrator: each step writes 1-3 final orders of the page at
	// its position to history and, but every fourth step, deletes
	// them from the database.
	go func() {
		for n := 1; ; n++ {
			var at stepAt
			select {
			case at = <-steps:
			case <-ctx.Done():
				return
			}
			cursor := ""
			if !at.before.IsZero() {
				cursor = viewCursor(at.before)
			}
			page, _, err := s.db.UserOrders(ctx, viewUser, cursor, at.limit)
			batch := slices.DeleteFunc(page, func(o orderdb.Order) bool { return !lifecycle.Final(o.Status) })
			if err == nil && len(batch) > 0 {
				err = s.move(ctx, batch[:min(len(batch), 1+n%3)], n%4 == 0)
			}
			at.done <- err
		}
	}()
	step := func(before history.Cursor, limit int) {
		done := make(chan error)
		steps <- stepAt{before, limit, done}
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	base := s.serve(t, steppingHistory{s.hist, step})
	for walks := 1; ; walks++ {
		checkWalk(t, walk(t, base, 7), s.want)
		left, err := s.db.FinalBacklog(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			t.Logf("%d walks", walks)
			break
		}
		if walks == 20 {
			t.Fatalf("%d final orders still live after %d walks", left, walks)
		}
	}
}

// history.Migrator moves the final orders on its own schedule while walks
// repeat: every walk gives every order once, newest first.
func testMigratorRunning(t *testing.T, s *viewStores) {
	ctx, stop := context.WithCancel(t.Context())
	m := history.NewMigrator(s.db, s.hist, history.MigrateAfter(0), history.MigrateBatch(2), history.MigrateInterval(time.Millisecond),
		history.MigrateLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))))
	done := make(chan error, 1)
	base := s.serve(t, s.hist)
	go func() { done <- m.Run(ctx) }()
	walks := 0
	for left := int64(1); left > 0; walks++ {
		var err error
		if left, err = s.db.FinalBacklog(t.Context(), time.Now()); err != nil {
			t.Fatal(err)
		}
		checkWalk(t, walk(t, base, 7), s.want)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d walks", walks)
}

// A cursor the view did not give is a 400, with or without history; so is
// a bad limit. A history store that fails is a 503.
func testRefusesBadInput(t *testing.T, s *viewStores) {
	withHistory, without := s.serve(t, s.hist), s.serve(t, nil)
	for _, base := range []string{withHistory, without} {
		for _, q := range []string{"cursor=not-a-cursor", "cursor=" + base64.RawURLEncoding.EncodeToString([]byte("123|")), "limit=0", "limit=101", "page=2"} {
			if code, a := getUserOrders(t, base, viewUser, q); code != http.StatusBadRequest || a.Error.Code != "invalid_parameter" {
				t.Errorf("%s: %d %q, want 400 invalid_parameter", q, code, a.Error.Code)
			}
		}
	}
	// A cursor given before the view merged history still works.
	_, next, err := s.db.UserOrders(t.Context(), viewUser, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if code, a := getUserOrders(t, withHistory, viewUser, "limit=5&cursor="+next); code != http.StatusOK || !slices.Equal(orderIDs(a.Orders), orderIDs(s.want[10:15])) {
		t.Errorf("the database's own cursor: %d %v, want %v", code, orderIDs(a.Orders), orderIDs(s.want[10:15]))
	}
	if err := s.hist.Close(); err != nil {
		t.Fatal(err)
	}
	if code, a := getUserOrders(t, withHistory, viewUser, ""); code != http.StatusServiceUnavailable || a.Error.Code != "unavailable" {
		t.Errorf("history closed: %d %q, want 503 unavailable", code, a.Error.Code)
	}
}
