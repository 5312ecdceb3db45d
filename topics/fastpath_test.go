package topics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzCanonicalMatchesGeneral: whenever the fast path accepts bytes, the
// general JSON path reads the same envelope from them.
func FuzzCanonicalMatchesGeneral(f *testing.F) {
	ev, _ := New(TypeCartCleared, "user-1", CartCleared{UserID: "user-1"}, At(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
	b, _ := Encode(ev)
	f.Add(b)
	f.Add([]byte(`{"id":"a","type":"t","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"k","data":{}}`))
	f.Add([]byte(`{"id":"a","type":"t","version":01,"occurred_at":"2026-01-01T00:00:00+02:00","key":"k","data":{"x":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeCanonical(b)
		if !ok {
			return
		}
		var slow Envelope
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted %q, general path refused: %v", b, err)
		}
		if fast.ID != slow.ID || fast.Type != slow.Type || fast.Version != slow.Version || fast.Key != slow.Key ||
			!fast.OccurredAt.Equal(slow.OccurredAt) || !bytes.Equal(fast.Data, slow.Data) {
			t.Fatalf("paths disagree on %q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}

func TestEncodeTakesTheFastPath(t *testing.T) {
	ev, _ := New(TypeCartCleared, "user-1", CartCleared{UserID: "user-1"})
	b, _ := Encode(ev)
	if _, ok := decodeCanonical(b); !ok {
		t.Fatalf("own encoding %s misses the fast path", b)
	}
}
