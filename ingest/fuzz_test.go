package ingest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The fuzz targets' seed corpora are in testdata/fuzz/<target>; run one
// with: go test ./ingest -run '^$' -fuzz '^FuzzJSONLine$' -fuzztime 60s

var jsonSeeds = []string{
	validItemJSON,
	`{"supplier_id":"s-1","item_id":"i-1","warehouse_id":"w-1","on_hand":0}`,
	`{"item_id":"i","title":"a \"quoted\" \\ \/ \b\f\n\r\t title","category":"c","price_cents":-0,"currency":"EUR","attributes":{}}`,
	`{"item_id":"i","title":"\u00e9\ud83d\ude00\ud800","category":"c","price_cents":1,"currency":"JPY"}`,
	`{"ITEM_ID":"i","Title":"t"}`,
	`{"item_id":"i","item_id":"j","attributes":{"a":"1"},"attributes":{"b":"2"}}`,
	`{"item_id":null,"title":null,"attributes":null,"on_hand":null}`,
	`{"price_cents":1e3}`, `{"price_cents":01}`, `{"on_hand":9223372036854775808}`, `{"on_hand":-9223372036854775808}`,
	` { "item_id" : "i" , "on_hand" : 3 } `, `{}`, `[]`, `"x"`, `null`, ``, `{"a":1}`, `{"item_id":"i"} x`,
	"{\"title\":\"tab\there\"}", "{\"title\":\"caf\xe9\"}",
}

// FuzzJSONLine: no input panics the line decoder; a record it accepts
// re-encodes to JSON that decodes to the same record, also accepted.
func FuzzJSONLine(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, want := range []Kind{KindAuto, KindItems, KindStock} {
			rec, errs := accept(string(raw), func(b string) (record, []FieldError) { return decodeJSON(b, want) }, "")
			if rec.kind != KindItems && rec.kind != KindStock {
				t.Fatalf("kind %q", rec.kind)
			}
			for _, e := range errs {
				if e.Code == "" || e.Message == "" {
					t.Fatalf("error without code or message: %+v", e)
				}
			}
			if len(errs) > 0 {
				continue
			}
			var v any = rec.item
			if rec.kind == KindStock {
				v = rec.stock
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			back, errs := decodeJSON(string(again), want)
			if len(errs) > 0 || !reflect.DeepEqual(back, rec) {
				t.Fatalf("%q accepted as %+v; re-encoded %s decodes to %+v %v", raw, rec, again, back, errs)
			}
			if _, err := rec.event(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzFastPathMatches: whatever the hand-written decoder accepts,
// encoding/json (strict, as decodeJSON uses it) decodes to the same thing.
func FuzzFastPathMatches(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !utf8.Valid(raw) {
			return
		}
		var fast wireRecord
		if !decodeFast(string(raw), &fast) {
			return
		}
		var j jsonRecord
		if err := strictDecode(raw, &j); err != nil {
			t.Fatalf("fast path accepted %q; encoding/json: %v", raw, err)
		}
		slow := j.wire()
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %s\nslow %s", raw, dump(fast), dump(slow))
		}
	})
}

func dump(w wireRecord) string { return fmt.Sprintf("%+v", w) }

// FuzzCSV: any document splits into records without panicking or
// losing a line; where encoding/csv reads the document without error,
// the records and their fields are the same as its own.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"item_id,title\nx,y\n", "a,\"multi\r\nline\",c\n\n\"open,b,c\nx,y,z\n", "a,b\r\nc,d", "\"a\"\"b\",c\n", "a\"b,c\n",
		"\"a\"x,b\n", "\xEF\xBB\xBFa,b\n", ",\n,,\n", "\"\"\n", "a,b\r", "\"a\nb\"\r\n\"c\"\r\n", "\"x\n\n\ny\"\nz\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		recs, err := readAllCSV(doc)
		if err != nil {
			t.Fatal(err)
		}
		var mine [][]string
		ok := true
		last := 0
		for _, r := range recs {
			if r.line <= last {
				t.Fatalf("record at line %d after line %d", r.line, last)
			}
			last = r.line
			fields, err := parseCSVRecord(string(r.data), nil)
			if r.err != nil || err != nil {
				ok = false
				continue
			}
			mine = append(mine, fields)
		}
		if last > bytes.Count(doc, []byte("\n"))+1 {
			t.Fatalf("line %d of a %d-line document", last, bytes.Count(doc, []byte("\n"))+1)
		}
		cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(doc, utf8BOM)))
		cr.FieldsPerRecord = -1
		theirs, theirErr := cr.ReadAll()
		switch {
		case theirErr == nil && !ok:
			t.Fatalf("%q: encoding/csv reads %q, a record here failed", doc, theirs)
		case theirErr != nil && ok && utf8.Valid(doc):
			t.Fatalf("%q: encoding/csv fails (%v), every record here parsed: %q", doc, theirErr, mine)
		case theirErr == nil && !reflect.DeepEqual(mine, theirs) && !(len(mine) == 0 && len(theirs) == 0):
			t.Fatalf("%q:\nmine   %q\ntheirs %q", doc, mine, theirs)
		}
	})
}

// The validation rules as first written, with regular expressions; the
// hand-written checks must agree with them.
var (
	idRegexp   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	attrRegexp = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

func referenceText(v string, maxRunes int, required bool) string {
	blank := true
	control := false
	for _, r := range v {
		control = control || unicode.IsControl(r) && r != '\n' && r != '\t'
		blank = blank && unicode.IsSpace(r)
	}
	switch {
	case !utf8.ValidString(v):
		return CodeInvalidText
	case control:
		return CodeInvalidText + " control"
	case required && blank:
		return CodeRequired
	case utf8.RuneCountInString(v) > maxRunes:
		return CodeTooLong
	}
	return ""
}

// FuzzValidationMatchesReference holds IsID, isAttrName and the text
// check equal to the reference rules.
func FuzzValidationMatchesReference(f *testing.F) {
	for _, s := range []string{"", "a", "A-1._:z", "-a", "a b", strings.Repeat("a", 64), strings.Repeat("a", 65), "é", "\x85", " \u00a0", "a\x7f", "caf\xe9", "\t\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if IsID(s) != idRegexp.MatchString(s) {
			t.Fatalf("IsID(%q) = %v", s, IsID(s))
		}
		if isAttrName(s) != attrRegexp.MatchString(s) {
			t.Fatalf("isAttrName(%q) = %v", s, isAttrName(s))
		}
		for _, required := range []bool{false, true} {
			var c checker
			c.text("f", s, 5, required)
			got := ""
			if len(c.errs) > 0 {
				got = c.errs[0].Code
				if strings.Contains(c.errs[0].Message, "control") {
					got += " control"
				}
			}
			if want := referenceText(s, 5, required); got != want {
				t.Fatalf("text(%q, required=%v) = %q, want %q", s, required, got, want)
			}
		}
	})
}

// FuzzFileRecords runs a whole document through File's reading and
// decoding, as JSON Lines and as CSV: no input panics it, and every
// non-blank JSON line is one record, accepted or rejected with a reason.
func FuzzFileRecords(f *testing.F) {
	f.Add([]byte(validItemJSON + "\n\n" + `{"item_id":"i","warehouse_id":"w","on_hand":1}` + "\r\nnot json\n"))
	f.Add([]byte("item_id,title,category,price_cents,currency,attr.colour\ni,t,c,5,USD,red\ni,\"t\n2\",c,x,USD,\n"))
	f.Add([]byte("supplier_id,item_id,warehouse_id,on_hand\ns,i,w,3\n\"s,i\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, format := range []Format{FormatJSONL, FormatCSV} {
			lr := newLineReader(bytes.NewReader(doc))
			src, err := newSource(lr, fileConfig{format: format, supplier: "s-1"})
			if err != nil {
				if format == FormatJSONL {
					t.Fatal(err)
				}
				continue // a bad CSV header stops the file
			}
			n := 0
			for {
				r, err := src.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				if r.size > 0 || r.err != nil {
					continue
				}
				rec, errs := accept(string(r.data), src.decode, "s-1")
				if len(errs) == 0 {
					if _, err := rec.event(); err != nil {
						t.Fatal(err)
					}
				} else if reason(rec.kind, errs) == "" {
					t.Fatal("a rejected record without a reason")
				}
			}
			if format == FormatJSONL {
				want := 0
				for i, l := range bytes.Split(doc, []byte("\n")) {
					if i == 0 {
						l = bytes.TrimPrefix(l, utf8BOM)
					}
					if !blank(l) {
						want++
					}
				}
				if n != want {
					t.Fatalf("%d records from %d non-blank lines", n, want)
				}
			}
		}
	})
}
