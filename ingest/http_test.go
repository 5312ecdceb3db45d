package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/topics"
)

// memInventory is an in-memory InventoryReader.
type memInventory struct {
	levels map[string][]ingest.ItemStock
	err    error
}

func (m memInventory) SupplierInventory(_ context.Context, supplier string) ([]ingest.ItemStock, error) {
	return m.levels[supplier], m.err
}

func server(t *testing.T, p *eventlog.Producer, inv ingest.InventoryReader, opts ...ingest.HandlerOption) *httptest.Server {
	mux := http.NewServeMux()
	ingest.NewHandler(p, inv, nil, opts...).Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type errorBody struct {
	Error struct {
		Code    string
		Message string
		Details ingest.BatchResponse
	}
}

// call sends body and decodes the answer into out.
func call(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s %s: %d answer is not JSON: %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

func item(id string, price int64) string {
	return fmt.Sprintf(`{"item_id":%q,"title":"Sony Bravia 65\" 4K TV","category":"electronics/tv","brand":"Sony","price_cents":%d,"currency":"USD","attributes":{"screen_size":"65"}}`, id, price)
}

func statuses(r ingest.BatchResponse) string {
	var s []string
	for _, res := range r.Results {
		s = append(s, fmt.Sprintf("%d:%s:%s", res.Index, res.ItemID, res.Status))
	}
	return strings.Join(s, " ")
}

func TestPostItemsAllValidIsDurableBeforeTheAnswer(t *testing.T) {
	brokers, p := setup(t)
	srv := server(t, p, nil)
	sup := testkafka.Unique("sup")
	var resp ingest.BatchResponse
	code := call(t, "POST", srv.URL+"/v1/suppliers/"+sup+"/items", `{"items":[`+item("tv-1", 89999)+`,`+item("tv-2", 59999)+`]}`, &resp)
	if code != 200 || resp.Accepted != 2 || resp.Rejected != 0 || statuses(resp) != "0:tv-1:accepted 1:tv-2:accepted" {
		t.Fatalf("%d %+v", code, resp)
	}
	// The answer came after the acknowledgement: the records are there now.
	got := bySupplier(t, readTopic(t, brokers, topics.SupplierItems), sup)
	if len(got) != 2 {
		t.Fatalf("%d records on %s", len(got), topics.SupplierItems)
	}
	byID := map[string]topics.Event{}
	for _, ev := range got {
		byID[ev.ID] = ev
	}
	for i, res := range resp.Results {
		ev, ok := byID[res.EventID]
		if !ok {
			t.Fatalf("result %d: event %s not on the topic", i, res.EventID)
		}
		d := ev.Data.(topics.SupplierItemUpserted)
		if ev.Key != res.ItemID || d.ItemID != res.ItemID || d.SupplierID != sup || d.Title != `Sony Bravia 65" 4K TV` || d.Attributes["screen_size"] != "65" {
			t.Errorf("event %+v", ev)
		}
	}
}

func TestPostItemsMixedKeepsTheValidOnes(t *testing.T) {
	brokers, p := setup(t)
	srv := server(t, p, nil)
	sup := testkafka.Unique("sup")
	body := `{"items":[` + item("ok-1", 1999) + `,
		{"item_id":"bad-price","title":"t","category":"c","price_cents":"abc","currency":"USD"},
		{"item_id":"bad-currency","title":"t","category":"c","price_cents":5,"currency":"XXX"},
		{"supplier_id":"someone-else","item_id":"bad-supplier","title":"t","category":"c","price_cents":5,"currency":"USD"},
		42,
		` + item("ok-2", 2999) + `]}`
	var resp ingest.BatchResponse
	code := call(t, "POST", srv.URL+"/v1/suppliers/"+sup+"/items", body, &resp)
	if code != http.StatusMultiStatus || resp.Accepted != 2 || resp.Rejected != 4 {
		t.Fatalf("%d %+v", code, resp)
	}
	if got := statuses(resp); got != "0:ok-1:accepted 1:bad-price:rejected 2:bad-currency:rejected 3:bad-supplier:rejected 4::rejected 5:ok-2:accepted" {
		t.Fatalf("statuses %s", got)
	}
	wantErr := map[int]string{1: "price_cents:invalid_json", 2: "currency:unknown_currency", 3: "supplier_id:mismatch", 4: ":invalid_json"}
	for i, want := range wantErr {
		e := resp.Results[i].Errors
		if len(e) != 1 || e[0].Field+":"+e[0].Code != want || e[0].Message == "" || resp.Results[i].EventID != "" {
			t.Errorf("result %d errors %+v, want %s", i, e, want)
		}
	}
	got := bySupplier(t, readTopic(t, brokers, topics.SupplierItems), sup)
	if len(got) != 2 || got[0].Key == got[1].Key {
		t.Fatalf("records %+v", got)
	}
	for _, ev := range got {
		if id := ev.Data.(topics.SupplierItemUpserted).ItemID; !strings.HasPrefix(id, "ok-") {
			t.Errorf("rejected item %s was produced", id)
		}
	}
}

func TestPostItemsNoneValidIs422WithDetails(t *testing.T) {
	brokers, p := setup(t)
	srv := server(t, p, nil)
	sup := testkafka.Unique("sup")
	var eb errorBody
	code := call(t, "POST", srv.URL+"/v1/suppliers/"+sup+"/items", `{"items":[{"item_id":"x"},{"item_id":"y","title":"t","category":"c","price_cents":-1,"currency":"USD"}]}`, &eb)
	if code != 422 || eb.Error.Code != "validation_failed" || len(eb.Error.Details.Results) != 2 || eb.Error.Details.Rejected != 2 {
		t.Fatalf("%d %+v", code, eb)
	}
	if r := eb.Error.Details.Results[1]; r.Status != "rejected" || len(r.Errors) != 1 || r.Errors[0].Code != ingest.CodeOutOfRange {
		t.Errorf("%+v", r)
	}
	if got := bySupplier(t, readTopic(t, brokers, topics.SupplierItems), sup); len(got) != 0 {
		t.Errorf("%d records produced", len(got))
	}
}

func TestBatchBodiesThatAreNotBatches(t *testing.T) {
	_, p := setup(t)
	srv := server(t, p, nil, ingest.MaxBodyBytes(64<<10))
	over := make([]string, ingest.MaxBatchItems+1)
	for i := range over {
		over[i] = "{}"
	}
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"1001 items", "POST", "/v1/suppliers/s-1/items", `{"items":[` + strings.Join(over, ",") + `]}`, 413, "body_too_large"},
		{"over the byte limit", "POST", "/v1/suppliers/s-1/items", `{"items":[` + strings.Repeat(item("x", 1)+",", 500) + item("x", 1) + `]}`, 413, "body_too_large"},
		{"not JSON", "POST", "/v1/suppliers/s-1/items", `items: 1`, 400, "invalid_json"},
		{"items not an array", "POST", "/v1/suppliers/s-1/items", `{"items": {"item_id": "x"}}`, 400, "invalid_json"},
		{"no items", "POST", "/v1/suppliers/s-1/items", `{}`, 400, "invalid_json"},
		{"null items", "POST", "/v1/suppliers/s-1/items", `{"items": null}`, 400, "invalid_json"},
		{"unknown envelope field", "POST", "/v1/suppliers/s-1/items", `{"items": [], "dry_run": true}`, 400, "invalid_json"},
		{"two values", "POST", "/v1/suppliers/s-1/items", `{"items": [{}]} {}`, 400, "invalid_json"},
		{"truncated", "POST", "/v1/suppliers/s-1/items", `{"items": [{"item_id": "x"`, 400, "invalid_json"},
		{"empty", "POST", "/v1/suppliers/s-1/items", `{"items": []}`, 422, "validation_failed"},
		{"levels sent as items", "POST", "/v1/suppliers/s-1/items", `{"levels": []}`, 400, "invalid_json"},
		{"items sent as levels", "PUT", "/v1/suppliers/s-1/inventory", `{"items": []}`, 400, "invalid_json"},
		{"bad supplier id", "POST", "/v1/suppliers/has%20space/items", `{"items":[` + item("x", 1) + `]}`, 400, "invalid_parameter"},
	}
	for _, c := range cases {
		var eb errorBody
		if code := call(t, c.method, srv.URL+c.path, c.body, &eb); code != c.status || eb.Error.Code != c.code || eb.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", c.name, code, eb.Error, c.status, c.code)
		}
	}
	resp, err := http.Post(srv.URL+"/v1/suppliers/s-1/items", "text/csv", strings.NewReader("item_id\nx\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/csv: %d", resp.StatusCode)
	}
}

func TestPutInventory(t *testing.T) {
	brokers, p := setup(t)
	srv := server(t, p, nil)
	sup := testkafka.Unique("sup")
	body := `{"levels":[
		{"item_id":"tv-1","warehouse_id":"w-1","on_hand":5},
		{"item_id":"tv-1","warehouse_id":"w-2","on_hand":0},
		{"item_id":"tv-2","warehouse_id":"w-1","on_hand":-3},
		{"item_id":"tv-3","warehouse_id":"w-1","on_hand":2,"price_cents":5}]}`
	var resp ingest.BatchResponse
	code := call(t, "PUT", srv.URL+"/v1/suppliers/"+sup+"/inventory", body, &resp)
	if code != http.StatusMultiStatus || statuses(resp) != "0:tv-1:accepted 1:tv-1:accepted 2:tv-2:rejected 3:tv-3:rejected" {
		t.Fatalf("%d %+v", code, resp)
	}
	if resp.Results[1].WarehouseID != "w-2" || resp.Results[3].Errors[0].Code != ingest.CodeUnknownField {
		t.Errorf("%+v", resp.Results)
	}
	got := bySupplier(t, readTopic(t, brokers, topics.SupplierStock), sup)
	if len(got) != 2 {
		t.Fatalf("%d records on %s", len(got), topics.SupplierStock)
	}
	for _, ev := range got {
		d := ev.Data.(topics.SupplierStockLevel)
		if ev.Type != topics.TypeSupplierStockLevel || d.ItemID != "tv-1" || d.SupplierID != sup {
			t.Errorf("%+v", ev)
		}
	}
	// Stock levels never reach the items topic.
	if n := len(bySupplier(t, readTopic(t, brokers, topics.SupplierItems), sup)); n != 0 {
		t.Errorf("%d stock levels on %s", n, topics.SupplierItems)
	}
}

func TestGetInventoryGroupsByItem(t *testing.T) {
	_, p := setup(t)
	inv := memInventory{levels: map[string][]ingest.ItemStock{"s-1": {
		{ItemID: "tv-2", WarehouseID: "w-1", OnHand: 4},
		{ItemID: "tv-1", WarehouseID: "w-2", OnHand: 0},
		{ItemID: "tv-1", WarehouseID: "w-1", OnHand: 20},
	}}}
	srv := server(t, p, inv)
	var got ingest.InventoryResponse
	if code := call(t, "GET", srv.URL+"/v1/suppliers/s-1/inventory", "", &got); code != 200 {
		t.Fatalf("%d", code)
	}
	want := ingest.InventoryResponse{SupplierID: "s-1", Items: []ingest.InventoryItem{
		{ItemID: "tv-1", OnHand: 20, Warehouses: []ingest.WarehouseStock{{WarehouseID: "w-1", OnHand: 20}, {WarehouseID: "w-2", OnHand: 0}}},
		{ItemID: "tv-2", OnHand: 4, Warehouses: []ingest.WarehouseStock{{WarehouseID: "w-1", OnHand: 4}}},
	}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	var empty map[string]any
	if code := call(t, "GET", srv.URL+"/v1/suppliers/nobody/inventory", "", &empty); code != 200 || fmt.Sprint(empty["items"]) != "[]" {
		t.Errorf("unknown supplier: %d %v", code, empty)
	}
	for name, inv := range map[string]ingest.InventoryReader{"no view": nil, "view fails": memInventory{err: errors.New("table not recovered")}} {
		var eb errorBody
		if code := call(t, "GET", server(t, p, inv).URL+"/v1/suppliers/s-1/inventory", "", &eb); code != 503 || eb.Error.Code != "unavailable" || strings.Contains(eb.Error.Message, "recovered") {
			t.Errorf("%s: %d %+v", name, code, eb)
		}
	}
}

func TestKafkaNotAcknowledgingIs503(t *testing.T) {
	// Nothing listens on this port: no record is ever acknowledged.
	dead, err := eventlog.NewProducer(eventlog.ClientOpts([]string{"127.0.0.1:1"}, "dead", time.Second, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close(context.Background())
	srv := server(t, dead, nil, ingest.AckTimeout(300*time.Millisecond))
	var eb errorBody
	start := time.Now()
	code := call(t, "POST", srv.URL+"/v1/suppliers/s-1/items", `{"items":[`+item("tv-1", 1)+`,{"item_id":"bad"}]}`, &eb)
	if code != 503 || eb.Error.Code != "unavailable" || eb.Error.Details.Failed != 1 || eb.Error.Details.Rejected != 1 {
		t.Fatalf("%d %+v", code, eb)
	}
	if r := eb.Error.Details.Results[0]; r.Status != ingest.StatusFailed || r.EventID != "" {
		t.Errorf("%+v", r)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
}

func TestBatchOfAThousand(t *testing.T) {
	brokers, p := setup(t)
	srv := server(t, p, nil)
	sup := testkafka.Unique("sup")
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := range ingest.MaxBatchItems {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(item(fmt.Sprintf("tv-%d", i), int64(100+i)))
	}
	b.WriteString(`]}`)
	var resp ingest.BatchResponse
	if code := call(t, "POST", srv.URL+"/v1/suppliers/"+sup+"/items", b.String(), &resp); code != 200 || resp.Accepted != ingest.MaxBatchItems {
		t.Fatalf("%d accepted %d", code, resp.Accepted)
	}
	if n := len(bySupplier(t, readTopic(t, brokers, topics.SupplierItems), sup)); n != ingest.MaxBatchItems {
		t.Fatalf("%d on the topic", n)
	}
}
