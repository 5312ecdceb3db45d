package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// BenchmarkDecodeItemLine decodes and validates one generated item line,
// through the hand-written fast path and through encoding/json alone.
func BenchmarkDecodeItemLine(b *testing.B) {
	var buf bytes.Buffer
	if _, err := WriteGenerated(&buf, GenerateOptions{Items: 1, Suppliers: 1, Seed: 3}); err != nil {
		b.Fatal(err)
	}
	line := strings.TrimSpace(buf.String())
	dec := func(raw string) (record, []FieldError) { return decodeJSON(raw, KindAuto) }
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, errs := accept(line, dec, ""); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var j jsonRecord
			if err := strictDecode([]byte(line), &j); err != nil {
				b.Fatal(err)
			}
			w := j.wire()
			rec, _ := kindOf(&w, KindAuto, nil)
			if errs := rec.check(""); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	})
	b.Run("validate-only", func(b *testing.B) {
		rec, _ := decodeJSON(line, KindAuto)
		for b.Loop() {
			if errs := rec.check(""); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	})
	b.Run("event+encode", func(b *testing.B) {
		rec, _ := decodeJSON(line, KindAuto)
		for b.Loop() {
			ev, err := rec.event()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(ev.Data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
