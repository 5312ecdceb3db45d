package processors_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

func in(id string, offset int64) processors.In {
	return processors.In{ID: id, Key: "k", Pos: processors.Position{Topic: "t", Partition: 1, Offset: offset}}
}

func TestAppliedRemembersTheLastIDs(t *testing.T) {
	var a processors.Applied
	for i := range processors.MaxApplied + 10 {
		a = a.Add(in(fmt.Sprint(i), int64(i)), i%2 == 0)
	}
	if len(a.IDs) != processors.MaxApplied {
		t.Fatalf("holds %d ids, want %d", len(a.IDs), processors.MaxApplied)
	}
	if a.Has("9") || !a.Has("10") || !a.Has(fmt.Sprint(processors.MaxApplied+9)) {
		t.Errorf("want the last %d ids, oldest dropped: %v...", processors.MaxApplied, a.IDs[:3])
	}
	// The last emitting record was the last even one.
	if want := int64(processors.MaxApplied + 8); a.Emitted.Offset != want {
		t.Errorf("emitted offset %d, want %d", a.Emitted.Offset, want)
	}
}

// Rules are pure: adding to a copy never writes through to the original.
func TestAppliedAddLeavesTheOriginal(t *testing.T) {
	a := processors.Applied{IDs: make([]string, 1, 10)}
	a.IDs[0] = "x"
	b := a.Add(in("y", 1), true)
	c := a.Add(in("z", 2), true)
	if b.IDs[1] != "y" || c.IDs[1] != "z" || len(a.IDs) != 1 || a.Emitted.Offset != 0 {
		t.Errorf("a %v, b %v, c %v", a, b, c)
	}
}

func TestAgainReemitsOnlyTheLastEmittingRecord(t *testing.T) {
	emitted := in("e", 7).Pos
	for _, tc := range []struct {
		name string
		pos  processors.Position
		want processors.Outcome
	}{
		{"same record read again", emitted, processors.Reemit},
		{"later duplicate", processors.Position{Topic: "t", Partition: 1, Offset: 9}, processors.Skip},
		{"earlier record", processors.Position{Topic: "t", Partition: 1, Offset: 3}, processors.Skip},
		{"other topic", processors.Position{Topic: "u", Partition: 1, Offset: 7}, processors.Skip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := processors.Again(emitted, processors.In{Pos: tc.pos}, "out")
			if v.Outcome != tc.want {
				t.Errorf("outcome %v, want %v", v.Outcome, tc.want)
			}
		})
	}
}

func TestDerivedIDsAreDeterministic(t *testing.T) {
	a, b := processors.OutputID("catalog", "e-1"), processors.OutputID("catalog", "e-1")
	if a != b || a == processors.OutputID("inventory", "e-1") || a == processors.OutputID("catalog", "e-2") {
		t.Errorf("output ids: %s %s", a, b)
	}
	// The ids outputs already on the topics carry: a replay must repeat them.
	long := strings.Repeat("x", 300)
	for _, id := range []string{"e-1", "0192f7a4-5b6c-7d8e-9f00-112233445566", long} {
		want := uuid.NewSHA1(uuid.NameSpaceURL, []byte("shopstream:out/catalog/"+id)).String()
		if got := processors.OutputID("catalog", id); got != want {
			t.Errorf("output id of %.20s: %s, want %s", id, got, want)
		}
	}
	// The scheme of eventlog's consumer: one dead letter per group and position.
	pos := processors.Position{Topic: "supplier.items", Partition: 2, Offset: 7}
	want := uuid.NewSHA1(uuid.NameSpaceURL, []byte("shopstream:dlq/catalog/supplier.items/2/7")).String()
	if got := processors.DeadLetterID("catalog", pos); got != want {
		t.Errorf("dead-letter id %s, want %s", got, want)
	}
}

func TestInvalidNamesEveryField(t *testing.T) {
	v := processors.Invalid(topics.TypeSupplierStockLevel, ingest.ValidateStock("", topics.SupplierStockLevel{OnHand: -1}))
	for _, want := range []string{"invalid supplier.stock.level", "supplier_id: is required", "warehouse_id", "on_hand: -1"} {
		if v.Outcome != processors.Reject || !strings.Contains(v.Reason, want) {
			t.Errorf("reason %q lacks %q", v.Reason, want)
		}
	}
}

func TestLenientNeverFails(t *testing.T) {
	good, err := topics.New(topics.TypeSupplierStockLevel, "i", topics.SupplierStockLevel{SupplierID: "s", ItemID: "i", WarehouseID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	goodBytes, _ := topics.Encode(good)
	for _, tc := range []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"event", goodBytes, nil},
		{"garbage", []byte("\xff\x00 not json"), topics.ErrMalformed},
		{"null value", nil, topics.ErrMalformed},
		{"unknown type", []byte(`{"id":"x","type":"nope","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"k","data":{}}`), topics.ErrUnknownType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := processors.Lenient{}.Decode(tc.in)
			if err != nil {
				t.Fatalf("decode failed: %v", err)
			}
			d := v.(processors.Decoded)
			if !errors.Is(d.Err, tc.wantErr) || string(d.Raw) != string(tc.in) {
				t.Errorf("got err %v raw %q, want err %v", d.Err, d.Raw, tc.wantErr)
			}
			if tc.wantErr == nil && d.Event.ID != good.ID {
				t.Errorf("event %+v", d.Event)
			}
		})
	}
}

func TestJSONCodec(t *testing.T) {
	type v struct{ N int }
	c := processors.JSON[v]{}
	for _, in := range []any{v{3}, &v{3}} {
		b, err := c.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Decode(b); err != nil || got != (v{3}) {
			t.Errorf("round trip of %#v: %#v, %v", in, got, err)
		}
	}
	if _, err := c.Encode("x"); err == nil {
		t.Error("encoding another type must fail")
	}
	if _, err := c.Decode([]byte("{")); err == nil {
		t.Error("decoding bad JSON must fail")
	}
}
