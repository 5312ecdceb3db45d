package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/api"
	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/api/ordertaking"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testclock"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/processors/membership"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/sinks/analytics/cohort"
	"github.com/shopstream/shopstream/topics"
)

// membershipTable reads the membership table through goka: the API's
// MembershipReader, as production reads it.
type membershipTable struct{ gokaTable }

func (m membershipTable) Membership(user string) (membership.Membership, bool, error) {
	return gokaGet[membership.Membership](m.gokaTable, user)
}

// club runs the membership processor over the Kafka protocol and a goka
// view of its table, which the routes read.
type club struct {
	k        *pt.Kafka
	rt       *processors.Runtime
	group    goka.Group
	stop     func()
	table    membershipTable
	producer *eventlog.Producer
}

func openClub(t *testing.T) *club {
	t.Helper()
	k := pt.StartKafka(t)
	c := &club{k: k, rt: k.Runtime(), group: goka.Group(testkafka.Unique("membership"))}
	k.StartGroupAtEnd(t, c.group, topics.MembershipCommands)
	c.start(t)
	view, err := c.rt.NewView(goka.GroupTable(c.group), membership.Codec{})
	if err != nil {
		t.Fatal(err)
	}
	runGokaView(t, view)
	c.table = membershipTable{view}
	waitUntil(t, "the membership view", view.Recovered)
	_, c.producer = k.Producer(t, "membership-test")
	return c
}

func (c *club) start(t *testing.T) {
	_, c.stop = pt.Run(t, c.rt, membership.Graph(c.group, c.rt))
}

func runGokaView(t *testing.T, view *goka.View) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- processors.Run(ctx, view) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("view stopped with %v", err)
		}
	})
}

// serve mounts the membership routes on a test server with its own clock
// (and, with orders, the checkout routes too).
func (c *club) serve(t *testing.T, clk *testclock.Clock, orders *ordertaking.Service, opts ...api.MembershipOption) string {
	mux := http.NewServeMux()
	api.NewMemberships(c.producer, c.table, append([]api.MembershipOption{api.MembershipClock(clk.Now)}, opts...)...).Mount(mux)
	if orders != nil {
		api.NewOrders(orders, slog.Default()).Mount(mux)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// memberAnswer is any answer of the membership routes.
type memberAnswer struct {
	code int
	membership.Status
	// A pending command.
	EventID string `json:"event_id"`
	Error   struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Details membership.Status `json:"details"`
	} `json:"error"`
}

func memberCall(t *testing.T, method, url, contentType, body string) memberAnswer {
	t.Helper()
	code, raw, err := memberSend(method, url, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return memberParse(t, code, raw)
}

// memberSend makes one request; it may run off the test's goroutine.
func memberSend(method, url, contentType, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

func memberParse(t *testing.T, code int, raw []byte) memberAnswer {
	t.Helper()
	a := memberAnswer{code: code}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%d answer is not JSON: %s", code, raw)
	}
	return a
}

// member calls a membership route of user: "" for GET, else the command.
func member(t *testing.T, base, user, command string) memberAnswer {
	t.Helper()
	if command == "" {
		return memberCall(t, "GET", base+"/v1/users/"+user+"/membership", "", "")
	}
	return memberCall(t, "POST", base+"/v1/users/"+user+"/membership/"+command, "", "")
}

// expectMember checks an answer's status code, state and conversion ("true",
// "false" or "pending"); a 409 is checked on its details.
func expectMember(t *testing.T, a memberAnswer, code int, state membership.State, converted string) membership.Status {
	t.Helper()
	s := a.Status
	if code == http.StatusConflict {
		if a.Error.Code != api.CodeMembershipConflict {
			t.Fatalf("409 with code %q: %+v", a.Error.Code, a.Error)
		}
		s = a.Error.Details
	}
	got := "pending"
	if s.Converted != nil {
		got = fmt.Sprint(*s.Converted)
	}
	if a.code != code || s.State != state || got != converted {
		t.Fatalf("answer %d, state %s, converted %s; want %d, %s, %s: %+v", a.code, s.State, got, code, state, converted, a)
	}
	return s
}

// cohortMonday is the start of a cohort week.
var cohortMonday = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

const (
	oneDay  = 24 * time.Hour
	oneWeek = 7 * oneDay
)

// The routes on the real processor and view, with a clock that moves
// weeks in seconds: a trial runs, converts at its end, and the user stays
// converted after cancelling; a cancel in the trial's last second does
// not convert; illegal transitions are 409s with the state.
func TestMembershipRoutes(t *testing.T) {
	c := openClub(t)

	t.Run("trial-converts-at-its-end", func(t *testing.T) {
		clk := testclock.New(cohortMonday.Add(2*oneDay + 9*time.Hour))
		base, u := c.serve(t, clk, nil), testkafka.Unique("user")
		expectMember(t, member(t, base, u, ""), http.StatusOK, membership.None, "pending")

		s := expectMember(t, member(t, base, u, "trial"), http.StatusOK, membership.Trial, "pending")
		if s.UserID != u || !s.TrialStartedAt.Equal(clk.Now()) || !s.TrialEndsAt.Equal(clk.Now().Add(30*oneDay)) || s.TrialDays != 30 ||
			s.SpendCents != 0 || s.Currency != "USD" || s.OrderID != "" || *s.CohortWeek != "2026-11-23" || *s.Bucket != membership.Bucket100OrLess ||
			s.ConvertedAt != nil || s.CanceledAt != nil || s.Version != 1 {
			t.Fatalf("a trial without a purchase: %+v", s)
		}
		if d := expectMember(t, member(t, base, u, "trial"), http.StatusConflict, membership.Trial, "pending"); !d.TrialStartedAt.Equal(*s.TrialStartedAt) {
			t.Errorf("the second trial's details: %+v", d)
		}

		clk.Add(30*oneDay - time.Second)
		expectMember(t, member(t, base, u, ""), http.StatusOK, membership.Trial, "pending")
		clk.Add(time.Second)
		if g := expectMember(t, member(t, base, u, ""), http.StatusOK, membership.Member, "true"); !g.ConvertedAt.Equal(*s.TrialEndsAt) {
			t.Errorf("converted at %v, want the trial's end", g.ConvertedAt)
		}
		if a := member(t, base, u, "convert"); !strings.Contains(a.Error.Message, "the trial already converted at its end") {
			t.Errorf("convert after the trial's end: %+v", a.Error)
		}
		expectMember(t, member(t, base, u, "convert"), http.StatusConflict, membership.Member, "true")

		clk.Add(3 * oneWeek)
		if g := expectMember(t, member(t, base, u, "cancel"), http.StatusOK, membership.Canceled, "true"); !g.CanceledAt.Equal(clk.Now()) {
			t.Errorf("canceled at %v, want %v", g.CanceledAt, clk.Now())
		}
		expectMember(t, member(t, base, u, "cancel"), http.StatusConflict, membership.Canceled, "true")
		expectMember(t, member(t, base, u, "trial"), http.StatusConflict, membership.Canceled, "true")
	})

	t.Run("cancel-in-the-trial's-last-second", func(t *testing.T) {
		clk := testclock.New(cohortMonday.Add(-time.Second)) // Sunday: the cohort before
		base, u := c.serve(t, clk, nil), testkafka.Unique("user")
		s := expectMember(t, member(t, base, u, "trial"), http.StatusOK, membership.Trial, "pending")
		if *s.CohortWeek != "2026-11-16" {
			t.Errorf("cohort of a Sunday trial: %s", *s.CohortWeek)
		}
		clk.Add(30*oneDay - time.Second)
		expectMember(t, member(t, base, u, "cancel"), http.StatusOK, membership.Canceled, "false")
		clk.Add(8 * oneWeek)
		expectMember(t, member(t, base, u, ""), http.StatusOK, membership.Canceled, "false")
		expectMember(t, member(t, base, u, "convert"), http.StatusConflict, membership.Canceled, "false")
	})

	t.Run("cancel-one-second-after-the-end", func(t *testing.T) {
		clk := testclock.New(cohortMonday)
		base, u := c.serve(t, clk, nil), testkafka.Unique("user")
		expectMember(t, member(t, base, u, "trial"), http.StatusOK, membership.Trial, "pending")
		clk.Add(30*oneDay + time.Second)
		expectMember(t, member(t, base, u, "cancel"), http.StatusOK, membership.Canceled, "true")
	})

	t.Run("no-convert-or-cancel-without-a-trial", func(t *testing.T) {
		clk := testclock.New(cohortMonday.Add(5 * oneWeek))
		base, u := c.serve(t, clk, nil), testkafka.Unique("user")
		if a := member(t, base, u, "convert"); a.Error.Message != "there is no trial to convert" {
			t.Errorf("convert without a trial: %+v", a.Error)
		}
		expectMember(t, member(t, base, u, "convert"), http.StatusConflict, membership.None, "pending")
		expectMember(t, member(t, base, u, "cancel"), http.StatusConflict, membership.None, "pending")
		expectMember(t, member(t, base, u, "trial"), http.StatusOK, membership.Trial, "pending")
		clk.Add(oneDay)
		// A full member at once; converted for the cohorts only if still a
		// member when the trial ends.
		expectMember(t, member(t, base, u, "convert"), http.StatusOK, membership.Member, "pending")
		expectMember(t, member(t, base, u, "convert"), http.StatusConflict, membership.Member, "pending")
		clk.Add(oneDay)
		expectMember(t, member(t, base, u, "cancel"), http.StatusOK, membership.Canceled, "false")
	})

	t.Run("bad-input-is-a-4xx", func(t *testing.T) {
		base := c.serve(t, testclock.New(cohortMonday), nil)
		u := testkafka.Unique("user")
		for _, b := range []struct {
			method, path, contentType, body string
			code                            int
			errCode                         string
		}{
			{"GET", "/v1/users/bad%20id/membership", "", "", http.StatusBadRequest, "invalid_parameter"},
			{"POST", "/v1/users/" + strings.Repeat("x", 65) + "/membership/trial", "", "", http.StatusBadRequest, "invalid_parameter"},
			{"POST", "/v1/users/" + u + "/membership/trial", "application/json", `{"spend_cents":20000}`, http.StatusBadRequest, "invalid_json"},
			{"POST", "/v1/users/" + u + "/membership/trial", "application/json", `{`, http.StatusBadRequest, "invalid_json"},
			{"POST", "/v1/users/" + u + "/membership/cancel", "text/plain", `x`, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		} {
			if a := memberCall(t, b.method, base+b.path, b.contentType, b.body); a.code != b.code || a.Error.Code != b.errCode {
				t.Errorf("%s %s %s: %d %+v, want %d %s", b.method, b.path, b.body, a.code, a.Error, b.code, b.errCode)
			}
		}
		// None of them reached the processor; an empty object is a body.
		expectMember(t, memberCall(t, "POST", base+"/v1/users/"+u+"/membership/trial", "application/json", `{}`), http.StatusOK, membership.Trial, "pending")
	})

	// A trial the processor decides first (another edge's, or checkout's)
	// while this edge's view had none: the pre-check passes, the processor
	// refuses this edge's command, and the edge answers 409 from the
	// table's record of the refusal.
	t.Run("processor-refusal-is-a-409", func(t *testing.T) {
		clk := testclock.New(cohortMonday.Add(oneWeek))
		base, u := c.serve(t, clk, nil, api.MembershipCatchUp(time.Minute)), testkafka.Unique("user")
		commands := c.k.Tail(t, topics.MembershipCommands)
		c.stop()
		first := pt.Event(t, topics.TypeMembershipTrialRequested, u,
			topics.MembershipTrialRequested{UserID: u, SpendCents: 15000, Currency: "USD", OrderID: "o-1"}, topics.At(clk.Now().Add(-time.Hour)))
		c.k.Produce(t, pt.Record(t, topics.MembershipCommands, first))

		type result struct {
			code int
			raw  []byte
			err  error
		}
		answer := make(chan result, 1)
		go func() {
			code, raw, err := memberSend("POST", base+"/v1/users/"+u+"/membership/trial", "", "")
			answer <- result{code, raw, err}
		}()
		commands.Wait(t, 2, 30*time.Second, pt.Keys(u))
		c.start(t)
		r := <-answer
		if r.err != nil {
			t.Fatal(r.err)
		}
		a := memberParse(t, r.code, r.raw)
		s := expectMember(t, a, http.StatusConflict, membership.Trial, "pending")
		if !strings.HasPrefix(a.Error.Message, "a trial already started at ") || s.SpendCents != 15000 || s.OrderID != "o-1" || *s.Bucket != membership.BucketOver100 {
			t.Errorf("the refusal's 409: %+v", a.Error)
		}
		if m, _, _ := c.table.Membership(u); len(m.Refused) == 0 || !m.Applied.Has(m.Refused[len(m.Refused)-1].EventID) {
			t.Errorf("the table's record of the refusal: %+v", m)
		}
	})
}

// Checkout with prime_trial starts the trial with the order's total as the
// spend at signup, through the outbox, the relay and the processor; a
// second prime_trial checkout is a 409 before any order is taken.
func TestPrimeTrialCheckout(t *testing.T) {
	c := openClub(t)
	tv := testkafka.Unique("tv")
	catalogGroup := goka.Group(testkafka.Unique("catalog"))
	c.k.StartGroupAtEnd(t, catalogGroup, topics.SupplierItems)
	c.k.Produce(t, itemUpsert(t, tv, "TV", tvPrice))
	items, _ := pt.Run(t, c.rt, catalog.Graph(catalogGroup, c.rt))
	tables := shopTables{items: items}
	waitUntil(t, "the TV in the catalog", func() bool { _, ok, _ := tables.Item(tv); return ok })

	ctx := context.Background()
	store, err := orderdb.Open(ctx, config.OrdersStore{Driver: "sqlite"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ApplyStock(ctx, orderdb.StockChange{EventID: topics.NewID(), ItemID: tv, OnHand: 5, Version: 1, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	svc := ordertaking.NewService(store, tables, nil, ordertaking.Limits{MaxLines: 10, MaxQuantity: 10, TTL: time.Minute},
		ordertaking.TrialCheck(c.table))
	relayCtx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan error, 1)
	go func() {
		relayDone <- ordertaking.NewRelay(store, c.producer, ordertaking.RelayWake(svc.Wake())).Run(relayCtx)
	}()
	t.Cleanup(func() {
		stopRelay()
		if err := <-relayDone; err != nil {
			t.Errorf("relay stopped with %v", err)
		}
	})
	base, u := c.serve(t, testclock.New(time.Now()), svc), testkafka.Unique("user")
	// orderAnswer is an order, or the error of a refused checkout.
	type orderAnswer struct {
		OrderID   string    `json:"order_id"`
		CreatedAt time.Time `json:"created_at"`
		Error     struct {
			Code    string            `json:"code"`
			Details membership.Status `json:"details"`
		} `json:"error"`
	}
	checkout := func(primeTrial bool) (int, orderAnswer) {
		body := fmt.Sprintf(`{"user_id":%q,"lines":[{"item_id":%q,"quantity":1}],"prime_trial":%v}`, u, tv, primeTrial)
		code, raw, err := memberSend("POST", base+"/v1/orders", "application/json", body)
		var out orderAnswer
		if err == nil {
			err = json.Unmarshal(raw, &out)
		}
		if err != nil {
			t.Fatalf("checkout: %v: %s", err, raw)
		}
		return code, out
	}

	code, order := checkout(true)
	if code != http.StatusCreated {
		t.Fatalf("prime_trial checkout: %d %+v", code, order)
	}
	var s membership.Status
	waitUntil(t, "the trial started by the order", func() bool {
		s = member(t, base, u, "").Status
		return s.State == membership.Trial
	})
	if s.SpendCents != tvPrice || s.Currency != "USD" || s.OrderID != order.OrderID || *s.Bucket != membership.BucketOver100 ||
		!s.TrialStartedAt.Equal(order.CreatedAt) || *s.CohortWeek != cohort.Week(order.CreatedAt).Format(time.DateOnly) {
		t.Fatalf("the trial of order %+v: %+v", order, s)
	}

	code, again := checkout(true)
	if code != http.StatusConflict || again.Error.Code != api.CodeMembershipConflict || again.Error.Details.State != membership.Trial ||
		again.Error.Details.OrderID != order.OrderID {
		t.Fatalf("a second prime_trial checkout: %d %+v", code, again)
	}
	if row, _, _ := store.Stock(ctx, tv); row.Committed != 1 {
		t.Errorf("the refused checkout took stock: %+v", row)
	}
	expectMember(t, member(t, base, u, "trial"), http.StatusConflict, membership.Trial, "pending")

	// Without prime_trial the same user checks out as usual.
	if code, plain := checkout(false); code != http.StatusCreated {
		t.Errorf("a plain checkout by a trial user: %d %+v", code, plain)
	}
}
