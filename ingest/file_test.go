package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/topics"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// deadLetters returns the dead letters whose source is in path, by line.
func deadLetters(t *testing.T, brokers []string, input, path string) map[int]topics.DeadLetter {
	t.Helper()
	out := map[int]topics.DeadLetter{}
	for _, c := range readTopic(t, brokers, topics.DeadLetterTopic(input)) {
		d := c.Event.Data.(topics.DeadLetter)
		var line int
		if _, err := fmt.Sscanf(strings.TrimPrefix(d.Source, "file:"+path+":"), "%d", &line); err != nil || !strings.HasPrefix(d.Source, "file:"+path+":") {
			continue
		}
		if d.Topic != input || d.Reason == "" {
			t.Errorf("dead letter %+v", d)
		}
		out[line] = d
	}
	return out
}

func TestFileJSONLinesMixedKindsAndBadLines(t *testing.T) {
	brokers, p := setup(t)
	sup := testkafka.Unique("sup")
	lines := []string{
		1: item("tv-1", 89999),
		2: `{"item_id":"tv-1","warehouse_id":"w-1","on_hand":7}`,
		3: ``,
		4: `{"item_id":"tv-2","title":`,
		5: `{"item_id":"tv-3","title":"caf` + "\xe9" + `","category":"c","price_cents":1,"currency":"USD"}`,
		6: `{"item_id":"tv-4","title":"t","category":"c","price_cents":0,"currency":"USD"}`,
		7: `{"item_id":"tv-5","warehouse_id":"w-1","on_hand":"many"}`,
		8: "   \t",
		9: item("tv-6", 100) + "\r",
	}
	path := writeFile(t, "feed.jsonl", strings.Join(lines[1:], "\n"))
	sum, err := ingest.File(context.Background(), path, p, ingest.WithSupplier(sup))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 7 || sum.Items != 2 || sum.Stock != 1 || sum.DeadLettered != 4 || sum.Failed != 0 || len(sum.Samples) != 4 {
		t.Fatalf("%+v", sum)
	}
	if got := bySupplier(t, readTopic(t, brokers, topics.SupplierItems), sup); len(got) != 2 {
		t.Errorf("%d items", len(got))
	}
	stock := bySupplier(t, readTopic(t, brokers, topics.SupplierStock), sup)
	if len(stock) != 1 || stock[0].Data.(topics.SupplierStockLevel).OnHand != 7 {
		t.Errorf("stock %+v", stock)
	}
	items := deadLetters(t, brokers, topics.SupplierItems, path)
	stockDead := deadLetters(t, brokers, topics.SupplierStock, path)
	want := map[int]string{4: "ends in the middle", 5: "not valid UTF-8", 6: "price_cents 0 must be greater than 0"}
	for line, reason := range want {
		d, ok := items[line]
		if !ok || !strings.Contains(d.Reason, reason) || string(d.Original) != lines[line] {
			t.Errorf("line %d: %+v, want a reason with %q and the original line", line, d, reason)
		}
	}
	if d := stockDead[7]; !strings.Contains(d.Reason, "on_hand must be an integer") || string(d.Original) != lines[7] {
		t.Errorf("line 7: %+v", d)
	}
	if len(items) != 3 || len(stockDead) != 1 {
		t.Errorf("dead letters: %d items, %d stock", len(items), len(stockDead))
	}
}

func TestFileCSV(t *testing.T) {
	brokers, p := setup(t)
	sup := testkafka.Unique("sup")
	doc := "\xEF\xBB\xBFsupplier_id,item_id,title,description,category,price_cents,currency,attr.colour,attr.size\r\n" +
		sup + ",sh-1,Oxford Shirt,\"Soft,\r\nwashed \"\"oxford\"\" cotton\",apparel/shirts,2499,USD,Navy,M\r\n" +
		sup + ",sh-2,Polo,,apparel/shirts,1999,USD,,\r\n" +
		sup + ",sh-3,Polo,,apparel/shirts,abc,USD,,\r\n" +
		sup + ",sh-4,Polo,apparel/shirts,1999,USD\r\n" +
		sup + ",sh-5,\"Polo,,apparel/shirts,1999,USD,,\r\n" +
		sup + ",sh-6,Henley,,apparel/shirts,2999,USD,Olive,L\r\n"
	path := writeFile(t, "feed.csv", doc)
	sum, err := ingest.File(context.Background(), path, p)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 6 || sum.Items != 3 || sum.DeadLettered != 3 {
		t.Fatalf("%+v", sum)
	}
	got := map[string]topics.SupplierItemUpserted{}
	for _, ev := range bySupplier(t, readTopic(t, brokers, topics.SupplierItems), sup) {
		d := ev.Data.(topics.SupplierItemUpserted)
		got[d.ItemID] = d
	}
	if d := got["sh-1"]; d.Description != "Soft,\nwashed \"oxford\" cotton" || d.Attributes["colour"] != "Navy" || d.Attributes["size"] != "M" {
		t.Errorf("sh-1 %+v", d)
	}
	if d := got["sh-2"]; d.Attributes != nil || d.PriceCents != 1999 {
		t.Errorf("sh-2 %+v", d)
	}
	if _, ok := got["sh-6"]; !ok || len(got) != 3 {
		t.Errorf("items %v", got)
	}
	dead := deadLetters(t, brokers, topics.SupplierItems, path)
	for line, reason := range map[int]string{5: `"abc" is not an integer`, 6: "has 6 fields, the header has 9", 7: "quoted field"} {
		if d := dead[line]; !strings.Contains(d.Reason, reason) || !strings.HasPrefix(string(d.Original), sup+",sh-") {
			t.Errorf("line %d: %+v, want %q", line, d, reason)
		}
	}
}

func TestFileRefusesABadCSVHeaderBeforeProducing(t *testing.T) {
	_, p := setup(t)
	for doc, want := range map[string]string{
		"item_id,title,price\nx,y,1\n":     `column 3 "price" is not a supplier record column`,
		"":                                 "empty",
		"item_id,warehouse_id,on_hand\n":   "--kind items",
		"\"item_id,title\nx,y\n":           "not a CSV record",
		"item_id,title,attr.Size\nx,y,1\n": `attribute name "Size"`,
	} {
		sum, err := ingest.File(context.Background(), writeFile(t, "bad.csv", doc), p, ingest.WithKind(ingest.KindItems))
		if err == nil || !strings.Contains(err.Error(), want) || sum.Read != 0 {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
}

func TestFileOptionsAndErrors(t *testing.T) {
	_, p := setup(t)
	ctx := context.Background()
	if _, err := ingest.File(ctx, writeFile(t, "feed.txt", item("x", 1)), p); err == nil || !strings.Contains(err.Error(), "cannot tell the format") {
		t.Errorf("unknown extension: %v", err)
	}
	if sum, err := ingest.File(ctx, writeFile(t, "feed.txt", item("x", 1)), p, ingest.WithFormat(ingest.FormatJSONL), ingest.WithSupplier("s-1")); err != nil || sum.Items != 1 {
		t.Errorf("--format jsonl: %+v %v", sum, err)
	}
	if _, err := ingest.File(ctx, filepath.Join(t.TempDir(), "missing.jsonl"), p); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ingest.File(ctx, writeFile(t, "f.jsonl", ""), p, ingest.WithSupplier("bad supplier")); err == nil || !strings.Contains(err.Error(), "supplier") {
		t.Errorf("bad supplier: %v", err)
	}
	// --kind stock sends an item line to the stock dead-letter topic.
	sum, err := ingest.File(ctx, writeFile(t, "f.jsonl", item("x", 1)), p, ingest.WithKind(ingest.KindStock), ingest.WithSupplier("s-1"))
	if err != nil || sum.DeadLettered != 1 || !strings.Contains(sum.Samples[0].Reason, "invalid stock level: title is an item field") {
		t.Errorf("--kind stock: %+v %v", sum, err)
	}
}

// Records of one item reach its partition in file order, across chunks
// decoded by parallel workers.
func TestFileKeepsFileOrderPerItem(t *testing.T) {
	brokers, p := setup(t)
	sup := testkafka.Unique("sup")
	var b strings.Builder
	const n = 5000
	for i := range n {
		fmt.Fprintf(&b, `{"supplier_id":%q,"item_id":"tv-%d","warehouse_id":"w-1","on_hand":%d}`+"\n", sup, i%3, i)
	}
	path := writeFile(t, "order.jsonl", b.String())
	if sum, err := ingest.File(context.Background(), path, p, ingest.WithWorkers(4)); err != nil || sum.Stock != n {
		t.Fatalf("%+v %v", sum, err)
	}
	last := map[string]int64{}
	for _, ev := range bySupplier(t, readTopic(t, brokers, topics.SupplierStock), sup) {
		d := ev.Data.(topics.SupplierStockLevel)
		if prev, ok := last[d.ItemID]; ok && d.OnHand <= prev {
			t.Fatalf("%s: on_hand %d after %d", d.ItemID, d.OnHand, prev)
		}
		last[d.ItemID] = d.OnHand
	}
	if len(last) != 3 {
		t.Fatalf("%v", last)
	}
}

func TestFileDeadLettersALongLineCut(t *testing.T) {
	brokers, p := setup(t)
	long := `{"item_id":"big","title":"` + strings.Repeat("x", ingest.MaxLineBytes) + `"}`
	path := writeFile(t, "long.jsonl", long+"\n"+item("after", 5)+"\n")
	sum, err := ingest.File(context.Background(), path, p, ingest.WithSupplier("s-1"))
	if err != nil || sum.DeadLettered != 1 || sum.Items != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	d := deadLetters(t, brokers, topics.SupplierItems, path)[1]
	if len(d.Original) != ingest.MaxOriginalBytes || !strings.HasPrefix(long, string(d.Original)) || !strings.Contains(d.Reason, "longer than the limit") {
		t.Errorf("reason %q, original %d bytes", d.Reason, len(d.Original))
	}
}

func TestFileProgress(t *testing.T) {
	_, p := setup(t)
	var out bytes.Buffer
	path := writeFile(t, "feed.jsonl", item("tv-1", 5)+"\n")
	if _, err := ingest.File(context.Background(), path, p, ingest.WithSupplier("s-1"), ingest.WithProgress(&out)); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "feed.jsonl [########################] 100%") || !strings.Contains(s, "rec/s") || !strings.HasSuffix(s, "\n") {
		t.Errorf("progress %q", s)
	}
}

func TestFileStopsOnCancel(t *testing.T) {
	_, p := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := writeFile(t, "feed.jsonl", item("tv-1", 5)+"\n")
	if _, err := ingest.File(ctx, path, p, ingest.WithSupplier("s-1")); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("%v", err)
	}
}
