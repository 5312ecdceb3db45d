package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/sinks/search"
	"github.com/shopstream/shopstream/topics"
)

// startSupply runs every role, as all-in-one does, on cfg.
func startSupply(t *testing.T, cfg config.Config) *running {
	t.Helper()
	return start(t, cfg, (*app.App).AllInOne)
}

func send(t *testing.T, method, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// searchIDs returns the item ids GET /v1/search answers for query.
func searchIDs(t *testing.T, base, query string) []string {
	t.Helper()
	code, out := send(t, "GET", base+"/v1/search?"+query, nil)
	if code != http.StatusOK {
		t.Fatalf("search %s: %d %v", query, code, out)
	}
	var ids []string
	for _, h := range out["hits"].([]any) {
		ids = append(ids, h.(map[string]any)["item_id"].(string))
	}
	sort.Strings(ids)
	return ids
}

func waitSearch(t *testing.T, base, query string, want []string) {
	t.Helper()
	want = append([]string(nil), want...)
	sort.Strings(want)
	// On a shared Kafka the processors' first start catches up with every
	// earlier test's records first.
	deadline := time.Now().Add(90 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = searchIDs(t, base, query); strings.Join(got, ",") == strings.Join(want, ",") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("search %q: got %v, want %v", query, got, want)
}

func item(id, title, brand string, price int64) map[string]any {
	return map[string]any{"item_id": id, "title": title, "category": "electronics", "brand": brand, "price_cents": price, "currency": "USD"}
}

// Items arrive by HTTP, by file and straight on Kafka; all valid ones
// become searchable once stocked, bad ones land in the dead-letter topics
// with their reason, and stock at zero hides an item until a restock.
func TestSupplyEndToEnd(t *testing.T) {
	ctx := context.Background()
	r := startSupply(t, testConfig(t, t.TempDir()))
	base := "http://" + r.HTTPAddr()
	run := testkafka.Unique("e2e")
	id := func(s string) string { return run + "-" + s }

	// HTTP: three valid items beside an invalid one.
	code, out := send(t, "POST", base+"/v1/suppliers/acme/items", map[string]any{"items": []any{
		item(id("tv"), "Sony Bravia 65 inch "+run, "Sony", 89999),
		item(id("phone"), "Pixel phone "+run, "Google", 59900),
		map[string]any{"item_id": id("bad"), "title": "", "price_cents": 0, "currency": "USD"},
		item(id("laptop"), "ThinkPad laptop "+run, "Lenovo", 129900),
	}})
	if code != http.StatusMultiStatus || out["accepted"].(float64) != 3 {
		t.Fatalf("mixed batch: %d %v", code, out)
	}

	// File: two valid lines around a broken one.
	file := filepath.Join(t.TempDir(), "items.jsonl")
	lines := []string{
		fmt.Sprintf(`{"supplier_id":"acme","item_id":%q,"title":"Kindle reader %s","category":"books","price_cents":9999,"currency":"USD"}`, id("kindle"), run),
		`{"supplier_id":"acme","item_id":"` + id("broken") + `",` + "\x01" + `}`,
		fmt.Sprintf(`{"supplier_id":"acme","item_id":%q,"title":"Bose headphones %s","category":"audio","brand":"Bose","price_cents":34900,"currency":"USD"}`, id("bose"), run),
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.File(ctx, file, r.Producer, ingest.WithKind(ingest.KindItems))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Items != 2 || sum.DeadLettered != 1 {
		t.Fatalf("file summary %+v", sum)
	}

	// Kafka: a direct producer's valid item, garbage, and an invalid item.
	direct, err := topics.New(topics.TypeSupplierItemUpserted, id("mug"), topics.SupplierItemUpserted{SupplierID: "acme", ItemID: id("mug"),
		Title: "Coffee mug " + run, Category: "kitchen", PriceCents: 1299, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	invalid, _ := topics.New(topics.TypeSupplierItemUpserted, id("neg"), topics.SupplierItemUpserted{SupplierID: "acme", ItemID: id("neg"),
		Title: "Negative", Category: "x", PriceCents: -5, Currency: "USD"})
	if err := r.Producer.Publish(ctx, topics.SupplierItems, direct, invalid); err != nil {
		t.Fatal(err)
	}
	raw, _ := kgo.NewClient(kgo.SeedBrokers(r.Brokers...))
	defer raw.Close()
	if err := raw.ProduceSync(ctx, &kgo.Record{Topic: topics.SupplierItems, Key: []byte(id("junk")), Value: []byte("junk " + run)}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	valid := []string{id("tv"), id("phone"), id("laptop"), id("kindle"), id("bose"), id("mug")}
	var levels []any
	for _, v := range valid {
		levels = append(levels, map[string]any{"item_id": v, "warehouse_id": "w1", "on_hand": 3})
	}
	if code, out := send(t, "PUT", base+"/v1/suppliers/acme/inventory", map[string]any{"levels": levels}); code != http.StatusOK {
		t.Fatalf("stock: %d %v", code, out)
	}
	waitSearch(t, base, "q="+run, valid)

	// Typos and a prefix on the last word, title above description.
	waitSearch(t, base, "q="+run+"+sonny+brav", []string{id("tv")})

	// Out of stock hides the item; a restock brings it back.
	if code, _ := send(t, "PUT", base+"/v1/suppliers/acme/inventory", map[string]any{"levels": []any{
		map[string]any{"item_id": id("tv"), "warehouse_id": "w1", "on_hand": 0}}}); code != http.StatusOK {
		t.Fatal("zero stock refused")
	}
	waitSearch(t, base, "q="+run, []string{id("phone"), id("laptop"), id("kindle"), id("bose"), id("mug")})
	waitSearch(t, base, "in_stock=false&q="+run, valid)
	send(t, "PUT", base+"/v1/suppliers/acme/inventory", map[string]any{"levels": []any{
		map[string]any{"item_id": id("tv"), "warehouse_id": "w2", "on_hand": 7}}})
	waitSearch(t, base, "q="+run, valid)

	code, got := send(t, "GET", base+"/v1/items/"+id("tv"), nil)
	if code != http.StatusOK || got["stock"].(map[string]any)["on_hand"].(float64) != 7 {
		t.Fatalf("item with live stock: %d %v", code, got)
	}
	if code, _ := send(t, "GET", base+"/v1/items/"+id("bad"), nil); code != http.StatusNotFound {
		t.Errorf("rejected item is visible: %d", code)
	}

	// Bad records from the file and from Kafka are dead letters with reasons.
	reasons := deadLetters(t, r.Brokers, topics.DeadLetterTopic(topics.SupplierItems), run, 3)
	for _, want := range []string{"file:" + file + ":2", "price_cents", "malformed event"} {
		if !strings.Contains(strings.Join(reasons, "\n"), want) {
			t.Errorf("dead letters lack %q:\n%s", want, strings.Join(reasons, "\n"))
		}
	}

	// Replaying the listings topic into an empty index gives the same index.
	replayed := replayListings(t, r, run)
	live := allListings(t, r.Stores.Search, run)
	if len(live) != len(valid) {
		t.Fatalf("live index holds %d of our listings, want %d", len(live), len(valid))
	}
	for id, l := range live {
		if rl, ok := replayed[id]; !ok || rl.Version != l.Version || rl.OnHand != l.OnHand || rl.Title != l.Title {
			t.Errorf("replayed %s = %+v, live %+v", id, rl, l)
		}
	}
}

// deadLetters reads the dead-letter topic until n letters mention marker,
// returning "source: reason" for each.
func deadLetters(t *testing.T, brokers []string, topic, marker string, n int) []string {
	t.Helper()
	var out []string
	for _, d := range testkafka.DeadLetters(t, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topic, n, func(key []byte, d topics.DeadLetter) bool {
		return strings.Contains(string(d.Original), marker) || strings.Contains(string(key), marker) || strings.Contains(d.Source, marker)
	}) {
		out = append(out, d.Source+": "+d.Reason)
	}
	if len(out) < n {
		t.Fatalf("found %d dead letters for %s, want %d: %v", len(out), marker, n, out)
	}
	return out
}

// allListings reads every listing of this run from a search store.
func allListings(t *testing.T, s search.Store, marker string) map[string]topics.Listing {
	t.Helper()
	no := false
	res, err := s.Search(context.Background(), search.Query{Text: marker, InStock: &no, Sort: search.SortPrice, Page: 1, Size: search.MaxSize})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]topics.Listing{}
	for _, h := range res.Hits {
		out[h.Item.ItemID] = h.Item
	}
	return out
}

// replayListings indexes the listings topic from the start into a new,
// empty search store with a new group, and returns the listings of run.
func replayListings(t *testing.T, r *running, run string) map[string]topics.Listing {
	t.Helper()
	cfg := r.Config.Stores.Search
	if cfg.Driver == "elasticsearch" {
		cfg.Index = realserver.ScratchIndex(t, cfg.URLs[0])
	} else {
		cfg.Index = "replay"
	}
	store, err := search.Open(context.Background(), cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink, err := search.NewSink(store, []kgo.Opt{kgo.SeedBrokers(r.Brokers...)}, testkafka.Unique("replay"), r.Producer)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()
	defer func() { cancel(); <-done }()
	want := len(allListings(t, r.Stores.Search, run))
	deadline := time.Now().Add(20 * time.Second)
	for len(allListings(t, store, run)) < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// Let the rest of the topic, older versions included, arrive too.
	time.Sleep(500 * time.Millisecond)
	return allListings(t, store, run)
}
