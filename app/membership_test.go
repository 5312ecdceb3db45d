package app_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/internal/testclock"
)

// Issue 7's end to end: trials started by checkouts (and one without a
// purchase), converted or canceled through the routes, then the cohort
// endpoint, on the all-in-one's own clock moved a month. The week is a
// random Monday years ahead, which no other suite on a shared Kafka uses.
func TestPrimeTrialEndToEnd(t *testing.T) {
	monday := time.Date(2031, 3, 3, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*rand.N(2000))
	clk := testclock.New(monday.Add(10 * time.Hour))
	f := startOrderFlow(t, func(a *app.App) error { a.Clock = clk.Now; return nil }, (*app.App).RunAnalyticsSink)
	item := f.id("gadget") // $25.00 each
	f.stock(map[string]int64{item: 100})

	trial := func(user string, units int64) {
		t.Helper()
		code, out := call(t, "POST", f.base+"/v1/orders", map[string]any{"user_id": user, "prime_trial": true,
			"lines": []any{map[string]any{"item_id": item, "quantity": units}}})
		if code != http.StatusCreated || out["prime_trial"] != true {
			t.Fatalf("checkout with a trial: %d %v", code, out)
		}
	}
	member := func(user, command string, want int) map[string]any {
		t.Helper()
		var code int
		var out map[string]any
		f.eventually(user+" "+command, func() bool {
			if command == "" {
				code, out = call(t, "GET", f.base+"/v1/users/"+user+"/membership", nil)
			} else {
				code, out = call(t, "POST", f.base+"/v1/users/"+user+"/membership/"+command, nil)
			}
			return code == want
		})
		return out
	}
	waitTrial := func(user string, spend float64) {
		t.Helper()
		f.eventually(user+"'s trial", func() bool {
			_, out := call(t, "GET", f.base+"/v1/users/"+user+"/membership", nil)
			return out["state"] == "trial" && out["spend_cents"] == spend
		})
	}

	over, under, exact, free := f.id("u-over"), f.id("u-under"), f.id("u-exact"), f.id("u-free")
	trial(over, 6)  // $150.00
	trial(under, 2) // $50.00
	trial(exact, 4) // $100.00: not over
	member(free, "trial", http.StatusOK)
	waitTrial(over, 15000)
	waitTrial(under, 5000)
	waitTrial(exact, 10000)
	if out := member(over, "", http.StatusOK); out["cohort_week"] != monday.Format(time.DateOnly) || out["bucket"] != "over_100" {
		t.Fatalf("the $150 trial: %v", out)
	}
	// A second trial is a 409 at checkout too.
	if code, out := call(t, "POST", f.base+"/v1/orders", map[string]any{"user_id": over, "prime_trial": true,
		"lines": []any{map[string]any{"item_id": item, "quantity": 1}}}); code != http.StatusConflict {
		t.Fatalf("a second trial at checkout: %d %v", code, out)
	}

	clk.Add(24 * time.Hour)
	member(free, "convert", http.StatusOK)
	member(under, "cancel", http.StatusOK)

	// Before the trials end the week is pending, the canceled trial too:
	// pending counts trials whose period has not ended (docs/analytics.md).
	cohort := func() map[string]any {
		t.Helper()
		code, out := call(t, "GET", f.base+"/v1/analytics/prime-cohorts?from="+monday.Format(time.DateOnly)+"&to="+monday.AddDate(0, 0, 7).Format(time.DateOnly), nil)
		if code != http.StatusOK {
			t.Fatalf("cohorts: %d %v", code, out)
		}
		return out
	}
	week := func(out map[string]any) map[string]any {
		if ws, _ := out["weeks"].([]any); len(ws) == 1 {
			return ws[0].(map[string]any)
		}
		return nil
	}
	bucket := func(w map[string]any, name string) string {
		b := w[name].(map[string]any)
		return fmt.Sprintf("trials=%v converted=%v pending=%v", b["trials"], b["converted"], b["pending"])
	}
	var last map[string]any
	defer func() {
		if t.Failed() {
			t.Logf("last cohorts: %v", last)
		}
	}()
	f.eventually("a pending week of four trials", func() bool {
		last = cohort()
		w := week(last)
		return w != nil && w["pending"] == true && bucket(w, "over_100") == "trials=1 converted=0 pending=1" &&
			bucket(w, "100_or_less") == "trials=3 converted=0 pending=3"
	})

	// Thirty days on every trial has ended: the canceled one did not
	// convert; the rest did, the early convert included.
	clk.Add(30 * 24 * time.Hour)
	if out := member(over, "", http.StatusOK); out["state"] != "member" || out["converted"] != true {
		t.Fatalf("after the trial: %v", out)
	}
	if out := member(under, "", http.StatusOK); out["state"] != "canceled" || out["converted"] != false {
		t.Fatalf("canceled in the trial: %v", out)
	}
	// The sink may not have the cancel yet: wait for it.
	var w map[string]any
	f.eventually("the week after the trials", func() bool {
		last = cohort()
		w = week(last)
		return w != nil && w["pending"] == false && bucket(w, "over_100") == "trials=1 converted=1 pending=0" &&
			bucket(w, "100_or_less") == "trials=3 converted=2 pending=0"
	})
	// 1/1 against 2/3.
	if d, ok := w["difference"].(float64); !ok || d < 0.333 || d > 0.334 {
		t.Fatalf("difference %v, want 1 - 2/3", w["difference"])
	}
}
