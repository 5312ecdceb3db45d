package ingest

import (
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

const validItemJSON = `{"item_id":"tv-1","title":"Sony Bravia 65\" 4K TV","category":"electronics/tv","price_cents":89999,"currency":"USD","attributes":{"resolution":"4K"}}`

func codes(errs []FieldError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+":"+e.Code)
	}
	return out
}

func TestDecodeJSONReportsEachProblemByField(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want Kind
		kind Kind
		errs []string
	}{
		{"valid item", validItemJSON, KindItems, KindItems, nil},
		{"valid item, auto", validItemJSON, KindAuto, KindItems, nil},
		{"valid stock, auto", `{"item_id":"tv-1","warehouse_id":"w-1","on_hand":3}`, KindAuto, KindStock, nil},
		{"price not a number", `{"item_id":"tv-1","title":"t","category":"c","price_cents":"abc","currency":"USD"}`, KindItems, KindItems, []string{"price_cents:invalid_json"}},
		{"float on_hand", `{"item_id":"tv-1","warehouse_id":"w","on_hand":1.5}`, KindStock, KindStock, []string{"on_hand:invalid_json"}},
		{"attribute not a string", `{"item_id":"tv-1","title":"t","category":"c","price_cents":1,"currency":"USD","attributes":{"a":1}}`, KindItems, KindItems, []string{"attributes:invalid_json"}},
		{"unknown field", `{"item_id":"tv-1","title":"t","category":"c","price":1,"price_cents":1,"currency":"USD"}`, KindItems, KindItems, []string{"price:unknown_field"}},
		{"stock field in an item", `{"item_id":"tv-1","title":"t","category":"c","price_cents":1,"currency":"USD","on_hand":3}`, KindItems, KindItems, []string{"on_hand:unknown_field"}},
		{"item field in a stock level", `{"item_id":"tv-1","warehouse_id":"w","on_hand":3,"title":"x"}`, KindStock, KindStock, []string{"title:unknown_field"}},
		{"mixed kinds, auto", `{"item_id":"tv-1","warehouse_id":"w","title":"x"}`, KindAuto, KindItems, []string{":unknown_kind"}},
		{"no kind, auto", `{"item_id":"tv-1"}`, KindAuto, KindItems, []string{":unknown_kind"}},
		{"not an object", `[1,2]`, KindItems, KindItems, []string{":invalid_json"}},
		{"syntax", `{"item_id":`, KindStock, KindStock, []string{":invalid_json"}},
		{"trailing data", validItemJSON + ` {}`, KindItems, KindItems, []string{":invalid_json"}},
		{"invalid UTF-8", strings.Replace(validItemJSON, "Sony", "So\xffny", 1), KindItems, KindItems, []string{":invalid_text"}},
	}
	for _, c := range cases {
		rec, errs := decodeJSON(c.raw, c.want)
		if rec.kind != c.kind || !reflect.DeepEqual(codes(errs), c.errs) {
			t.Errorf("%s: kind %q errors %v, want %q %v (%v)", c.name, rec.kind, codes(errs), c.kind, c.errs, errs)
		}
	}
}

func TestAcceptFillsTheSupplierAndDoesNotRepeatDecodeErrors(t *testing.T) {
	dec := func(b string) (record, []FieldError) { return decodeJSON(b, KindItems) }
	rec, errs := accept(validItemJSON, dec, "s-1")
	if len(errs) != 0 || rec.item.SupplierID != "s-1" {
		t.Fatalf("%+v %v", rec.item, errs)
	}
	_, errs = accept(`{"supplier_id":"s-2","item_id":"tv-1","title":"t","category":"c","price_cents":"x","currency":"USD"}`, dec, "s-1")
	if got := codes(errs); !reflect.DeepEqual(got, []string{"price_cents:invalid_json", "supplier_id:mismatch"}) {
		t.Fatalf("errors %v", got)
	}
	_, errs = accept(`nope`, dec, "s-1")
	if got := codes(errs); !reflect.DeepEqual(got, []string{":invalid_json"}) {
		t.Fatalf("a broken record is not validated too: %v", got)
	}
}

func TestParseHeader(t *testing.T) {
	good := []struct {
		cols string
		want Kind
		kind Kind
	}{
		{"item_id,title,category,price_cents,currency,attr.colour", KindAuto, KindItems},
		{"supplier_id,item_id,warehouse_id,on_hand", KindAuto, KindStock},
		{"item_id,supplier_id", KindItems, KindItems},
	}
	for _, g := range good {
		h, err := parseHeader(strings.Split(g.cols, ","), g.want)
		if err != nil || h.kind != g.kind {
			t.Errorf("%s: %v %q", g.cols, err, h.kind)
		}
	}
	bad := map[string]string{
		"item_id,title,title":             "appears twice",
		"item_id,price":                   `"price" is not a supplier record column`,
		"item_id,attr.Colour":             "attribute name",
		"title,category":                  "no item_id column",
		"item_id,title,on_hand":           "mixes item columns",
		"item_id,supplier_id":             "neither item columns",
		"item_id,warehouse_id,on_hand,xx": `"xx"`,
	}
	for cols, want := range bad {
		if _, err := parseHeader(strings.Split(cols, ","), KindAuto); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", cols, err, want)
		}
	}
	if _, err := parseHeader([]string{"item_id", "on_hand"}, KindItems); err == nil || !strings.Contains(err.Error(), "--kind items") {
		t.Errorf("kind conflict: %v", err)
	}
}

func TestDecodeRow(t *testing.T) {
	h, err := parseHeader(strings.Split("item_id,title,category,price_cents,currency,attr.colour,attr.size", ","), KindAuto)
	if err != nil {
		t.Fatal(err)
	}
	rec, errs := h.decodeRow(`shirt-1,"Oxford Shirt, ""Slim""",apparel/shirts,2499,USD,Navy,`)
	if len(errs) != 0 || rec.item.Title != `Oxford Shirt, "Slim"` || rec.item.PriceCents != 2499 ||
		!reflect.DeepEqual(rec.item.Attributes, map[string]string{"colour": "Navy"}) {
		t.Fatalf("%+v %v", rec.item, errs)
	}
	for row, want := range map[string]string{
		`shirt-1,t,c,abc,USD,,`: "price_cents:invalid_csv",
		`shirt-1,t,c,1,USD`:     ":invalid_csv",
		`shirt-1,t"x,c,1,USD,,`: ":invalid_csv",
	} {
		if _, errs := h.decodeRow(row); !reflect.DeepEqual(codes(errs), []string{want}) {
			t.Errorf("%s: %v, want %s", row, codes(errs), want)
		}
	}
}

// readAllCSV splits a CSV document the way File does.
func readAllCSV(data []byte) ([]rawRecord, error) {
	recs := &csvRecords{lines: newLineReader(strings.NewReader(string(data)))}
	var out []rawRecord
	for {
		r, err := recs.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

func TestCSVRecordsSpanLinesAndRecoverFromAStrayQuote(t *testing.T) {
	doc := "a,\"multi\r\nline\",c\n\n\"open,b,c\nx,y,z\n"
	recs, err := readAllCSV([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("records %+v", recs)
	}
	fields, err := parseCSVRecord(string(recs[0].data), nil)
	if err != nil || !reflect.DeepEqual(fields, []string{"a", "multi\nline", "c"}) || recs[0].line != 1 {
		t.Errorf("multi-line record: %q %v", fields, err)
	}
	if recs[1].line != 4 || recs[1].err == nil || string(recs[1].data) != `"open,b,c` {
		t.Errorf("the unclosed quote is its own bad record: %+v", recs[1])
	}
	if recs[2].line != 5 || string(recs[2].data) != "x,y,z" || recs[2].err != nil {
		t.Errorf("the line after a stray quote is read again: %+v", recs[2])
	}
}

func TestParseCSVRecordMatchesEncodingCSV(t *testing.T) {
	for _, in := range []string{`a,b,c`, `"a,b",c`, `"a""b",`, `,`, `""`, `"a"b`, `a"b`, `"a`, `"",""`, `x,"y"`} {
		mine, myErr := parseCSVRecord(in, nil)
		theirs, theirErr := csv.NewReader(strings.NewReader(in)).Read()
		if (myErr == nil) != (theirErr == nil) || (myErr == nil && !reflect.DeepEqual(mine, theirs)) {
			t.Errorf("%q: mine %q %v, encoding/csv %q %v", in, mine, myErr, theirs, theirErr)
		}
	}
}

func TestLineReaderCutsLongLinesAndStripsEndings(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes+10)
	lr := newLineReader(strings.NewReader("\xEF\xBB\xBFfirst\r\n" + long + "\nlast"))
	var got []line
	for {
		ln, err := lr.next()
		if err != nil {
			break
		}
		ln.data = append([]byte(nil), ln.data...)
		got = append(got, ln)
	}
	if len(got) != 3 || string(got[0].data) != "first" || got[1].size != MaxLineBytes+11 || len(got[1].data) != MaxLineBytes ||
		string(got[2].data) != "last" || got[2].num != 3 {
		t.Fatalf("%d lines; first %q, long size %d len %d", len(got), got[0].data, got[1].size, len(got[1].data))
	}
	if lr.read != int64(3+len("first\r\n")+len(long)+1+4) {
		t.Errorf("read %d bytes", lr.read)
	}
}
