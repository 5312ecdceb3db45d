package main_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the all-in-one's order-taking database, tampered with below
)

func post(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// reconcile against a running all-in-one: nothing to report after an
// order, then exit 1 naming the item once the database's stock is
// tampered with, and the event type the analytics store lost.
func TestReconcileAgainstAllInOne(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	port := strconv.Itoa(freePort(t))
	_, addr := startAllInOne(t, data, io.Discard, "--kafka.embedded.port", port)
	base := "http://" + addr

	if code, out := post(t, "POST", base+"/v1/suppliers/acme/items",
		`{"items":[{"item_id":"rc-tv","title":"TV","category":"tv","price_cents":1000,"currency":"USD"}]}`); code != http.StatusOK {
		t.Fatalf("items: %d %s", code, out)
	}
	if code, out := post(t, "PUT", base+"/v1/suppliers/acme/inventory", `{"levels":[{"item_id":"rc-tv","warehouse_id":"w1","on_hand":4}]}`); code != http.StatusOK {
		t.Fatalf("stock: %d %s", code, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out := post(t, "POST", base+"/v1/orders", `{"user_id":"ann","lines":[{"item_id":"rc-tv","quantity":1}]}`)
		if code == http.StatusCreated {
			break
		}
		// Until the item and its stock have reached the catalog view and
		// the database, checkout answers 422 or 409.
		if time.Now().After(deadline) {
			t.Fatalf("checkout never succeeded: %d %s", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	args := []string{"reconcile", "--data-dir", data, "--kafka.embedded.port", port}
	code, out, errOut := runBin(t, nil, append(args, "--wait", "30s")...)
	if code != 0 || !strings.Contains(out, "no differences") {
		t.Fatalf("reconcile: exit %d\n%s%s", code, out, errOut)
	}

	tamper := func(file, stmt string) {
		t.Helper()
		db, err := sql.Open("sqlite", filepath.Join(data, file)+"?_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if res, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		} else if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s changed %d rows", stmt, n)
		}
	}
	tamper("orders.db", "UPDATE stock SET on_hand = on_hand + 5 WHERE item_id = 'rc-tv'")
	// The analytics store loses the order's order.created event.
	tamper("analytics.db", "DELETE FROM events WHERE type = 'order.created'")
	reconcileJSON := func(extra ...string) (int, []map[string]string, string) {
		t.Helper()
		code, out, errOut := runBin(t, nil, append(append(args, "--wait", "1s", "--json"), extra...)...)
		var diffs []map[string]string
		if err := json.NewDecoder(bytes.NewReader([]byte(out))).Decode(&diffs); err != nil {
			t.Fatalf("reconcile --json printed %q: %v", out, err)
		}
		return code, diffs, errOut
	}
	code, diffs, errOut := reconcileJSON()
	if code != 1 || len(diffs) != 2 || diffs[0]["id"] != "rc-tv" || diffs[0]["detail"] != "on_hand is 9 in the database, 4 in the inventory table" ||
		diffs[1]["kind"] != "analytics" || diffs[1]["id"] != "order.created" || diffs[1]["detail"] != "the analytics store holds 0 distinct events, the topics it reads 1" {
		t.Fatalf("reconcile after tampering: exit %d %v\n%s", code, diffs, errOut)
	}
	// --analytics=false leaves the counts out.
	code, diffs, errOut = reconcileJSON("--analytics=false", "--events=false")
	if code != 1 || len(diffs) != 1 || diffs[0]["id"] != "rc-tv" {
		t.Fatalf("reconcile --analytics=false --events=false after tampering: exit %d %v\n%s", code, diffs, errOut)
	}
}
