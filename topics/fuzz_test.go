package topics_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/shopstream/shopstream/topics"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic; a typed
// error is the only failure; anything it accepts must survive a re-encode.
// The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"e1","type":"supplier.stock.level","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"i","data":{"item_id":"i","on_hand":3}}`))
	f.Add([]byte(`{"id":"e1","type":"order.created","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"o","data":{"lines":[{"item_id":"i","quantity":1,"price_cents":5}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := topics.Decode(b)
		if err != nil {
			var de *topics.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if !errors.Is(err, topics.ErrMalformed) && !errors.Is(err, topics.ErrUnknownType) && !errors.Is(err, topics.ErrNewerVersion) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		again, err := topics.Encode(ev)
		if err != nil {
			t.Fatalf("accepted %q but cannot re-encode: %v", b, err)
		}
		back, err := topics.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", again, err)
		}
		if !reflect.DeepEqual(back, ev) {
			t.Fatalf("unstable round trip:\n%#v\n%#v", ev, back)
		}
	})
}
