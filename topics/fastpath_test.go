package topics

import (
	"bytes"
	"encoding/json"
	"reflect"
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
	f.Add([]byte(`{"id":"a","type":"t","version":1,"occurred_at":"2026-01-01T00:00:00+05:30","key":"k","data":{"x":1}}`))
	f.Add([]byte(`{"id":"a","type":"t","version":1,"occurred_at":"2026-01-01T00:00:00.100Z","key":"k","data":{"x":1}}`))
	for _, ev := range handParsedEvents() {
		f.Add(must(Encode(ev)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeCanonical(b)
		if !ok {
			return
		}
		var slow Envelope
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted %q, general path refused: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
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

// FuzzAppendJSONMatchesEncodingJSON: the hand-written encoders write what
// encoding/json writes, for any strings (escapes, HTML, invalid UTF-8),
// numbers, maps (nil, empty, several keys) and times.
func FuzzAppendJSONMatchesEncodingJSON(f *testing.F) {
	f.Add("item-1", "Sony <Bravia> & \"more\"", "line\nbreak\u2028", "caf\xe9", int64(3), int64(-7), int64(1_700_000_000_123_456_789), 2)
	f.Add("", "", "", "", int64(0), int64(0), int64(0), 0)
	f.Add("\x00\x1f\\", "日本", "a", "b", int64(-1<<63), int64(1<<63-1), int64(-62135596800_000_000_0), 1)
	f.Fuzz(func(t *testing.T, s1, s2, s3, s4 string, n1, n2, nanos int64, keys int) {
		var m map[string]string
		var w map[string]int64
		if keys >= 0 {
			m, w = map[string]string{}, map[string]int64{}
			for i, k := range []string{s1, s2, s3, s4}[:min(keys, 4)] {
				m[k], w[k] = []string{s4, s3, s2, s1}[i], n1+int64(i)
			}
		}
		at := time.Unix(0, nanos).In(time.FixedZone("z", int(n2%86400)))
		check := func(v interface {
			AppendJSON([]byte) ([]byte, error)
		}) {
			t.Helper()
			want, wantErr := json.Marshal(v)
			got, err := v.AppendJSON([]byte("prefix"))
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%#v: error %v, encoding/json's %v", v, err, wantErr)
			}
			if err == nil && string(got) != "prefix"+string(want) {
				t.Fatalf("%#v:\nhand %s\njson %s", v, got[len("prefix"):], want)
			}
		}
		check(CatalogItemChanged{ItemID: s1, Version: n1, SupplierID: s2, Title: s3, Description: s4, Category: s1,
			Brand: s2, PriceCents: n2, Currency: s3, Attributes: m})
		check(InventoryItemChanged{ItemID: s1, Version: n1, Warehouses: w, OnHand: n2, Delta: n1 - n2})
		check(Listing{ItemID: s1, Version: n1, CatalogVersion: n2, InventoryVersion: n1, SupplierID: s2, Title: s3,
			Description: s4, Category: s4, Brand: s3, PriceCents: n2, Currency: s2, Attributes: m, OnHand: n1,
			CreatedAt: at, UpdatedAt: at.Add(time.Duration(n1))})
	})
}

// handParsedEvents are events of every type parsers list, in the variants
// their layout has (omitted fields, nil and empty lines, times with and
// without nanoseconds, in UTC, Local and a fixed zone, non-ASCII text),
// none needing a string escape, so Encode writes them in a layout
// parseData reads.
func handParsedEvents() []Event {
	at := At(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	ends := time.Date(2026, 2, 1, 3, 4, 5, 120_000_000, time.UTC)
	order, user := "0195a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b", "user-1"
	lines := []OrderLine{{ItemID: "i-1", Quantity: 2, PriceCents: 4999}, {ItemID: "i-2", Quantity: 1, PriceCents: 0}}
	var out []Event
	add := func(typ, key string, data any) { out = append(out, must(New(typ, key, data, at))) }
	add(TypeSupplierStockLevel, "i-1", SupplierStockLevel{SupplierID: "s-1", ItemID: "i-1", WarehouseID: "w-1", OnHand: -3})
	add(TypeSupplierItemUpserted, "i-1", SupplierItemUpserted{SupplierID: "s-1", ItemID: "i-1", Title: "TV 55\u2033 Ünïcode 日本", Description: "big",
		Category: "tv", Brand: "Sony", PriceCents: 99900, Currency: "USD", Attributes: map[string]string{"a": "1", "b": "é", "c": ""}})
	add(TypeSupplierItemUpserted, "i-1", SupplierItemUpserted{ItemID: "i-1", Attributes: map[string]string{}})
	add(TypeListingChanged, "i-1", Listing{ItemID: "i-1", Version: 7, CatalogVersion: 3, InventoryVersion: 4, SupplierID: "s-1",
		Title: "TV 55\u2033 Ünïcode", Description: "big", Category: "tv", Brand: "Sony", PriceCents: 99900, Currency: "USD",
		Attributes: map[string]string{"a": "1", "b": "é"}, OnHand: -2, CreatedAt: ends, UpdatedAt: ends.In(time.Local)})
	add(TypeListingChanged, "i-2", Listing{ItemID: "i-2", Version: 1, InventoryVersion: 1, OnHand: 3})
	add(TypeListingChanged, "i-3", Listing{ItemID: "i-3", Attributes: map[string]string{"only": "one"}, CreatedAt: ends, UpdatedAt: ends})
	add(TypeOrderCreated, order, OrderCreated{OrderID: order, UserID: user, Lines: lines, TotalCents: 9998, Currency: "USD", ExpiresAt: ends, PrimeTrial: true})
	add(TypeOrderCreated, order, OrderCreated{OrderID: order, UserID: user, Lines: lines[:1], TotalCents: -1, Currency: "JPY",
		ExpiresAt: time.Date(2026, 2, 1, 3, 4, 5, 999_999_999, time.FixedZone("IST", 5*3600+1800))})
	add(TypeOrderCreated, order, OrderCreated{OrderID: order, UserID: user, Lines: []OrderLine{}, ExpiresAt: ends.In(time.Local)})
	add(TypeOrderCreated, order, OrderCreated{})
	for _, typ := range []string{TypeOrderPlaced, TypeOrderCanceled, TypeOrderRefunded, TypeOrderShipped, TypeOrderDelivered} {
		add(typ, order, OrderTransition{OrderID: order, UserID: user})
	}
	add(TypeOrderCanceled, order, OrderTransition{OrderID: order, UserID: user, Reason: "payment failed", Restocked: true})
	add(TypeOrderRefunded, order, OrderTransition{OrderID: order, UserID: user, Reason: "paid after expiry", AmountCents: 9998, Currency: "EUR"})
	add(TypeOrderRefunded, order, OrderTransition{OrderID: order, Restocked: true, AmountCents: -1 << 63})
	add(TypeMembershipTrialStarted, user, MembershipTrialStarted{UserID: user, TrialEndsAt: ends, SpendCents: 10001, Currency: "USD", OrderID: order, TrialPeriodDays: 30})
	add(TypeMembershipTrialStarted, user, MembershipTrialStarted{UserID: user, TrialEndsAt: ends.Truncate(time.Second), Currency: "USD", TrialPeriodDays: -7})
	add(TypeMembershipTrialStarted, user, MembershipTrialStarted{})
	add(TypeMembershipTrialRequested, user, MembershipTrialRequested{UserID: user, SpendCents: 10001, Currency: "USD", OrderID: order})
	add(TypeMembershipTrialRequested, user, MembershipTrialRequested{UserID: user})
	for _, typ := range []string{TypeMembershipConverted, TypeMembershipCanceled, TypeMembershipConvertRequested, TypeMembershipCancelRequested} {
		add(typ, user, MembershipChanged{UserID: user})
		add(typ, user, MembershipChanged{UserID: user, Reason: "too dear"})
	}
	return out
}

// fallbackCase is data of type typ, in a layout parseData must leave to
// encoding/json (hand false) or may read itself (hand true), with the
// same result either way.
type fallbackCase struct {
	name, typ, data string
	hand            bool
}

// fallbackCases cover the types parsers list: layouts json.Marshal does
// not write (order, whitespace, escapes, unknown, missing or duplicate
// fields, wrong types, numbers and times in other forms) and valid JSON
// it would write otherwise.
func fallbackCases() []fallbackCase {
	return []fallbackCase{
		{"canonical", TypeOrderCanceled, `{"order_id":"o","user_id":"u"}`, true},
		{"explicit empty omitempty", TypeOrderCanceled, `{"order_id":"o","user_id":"u","reason":"","amount_cents":0,"currency":""}`, true},
		{"raw HTML and U+2028 json.Marshal escapes", TypeOrderCanceled, "{\"order_id\":\"<o&>\",\"user_id\":\"u\u2028\"}", true},
		{"reordered", TypeOrderCanceled, `{"user_id":"u","order_id":"o"}`, false},
		{"whitespace", TypeOrderCanceled, `{"order_id": "o","user_id":"u"}`, false},
		{"trailing whitespace", TypeOrderCanceled, `{"order_id":"o","user_id":"u"} `, false},
		{"escape", TypeOrderCanceled, `{"order_id":"o\"1","user_id":"u"}`, false},
		{"unicode escape", TypeOrderCanceled, `{"order_id":"\u006f","user_id":"u"}`, false},
		{"control byte", TypeOrderCanceled, "{\"order_id\":\"o\n\",\"user_id\":\"u\"}", false},
		{"invalid UTF-8", TypeOrderCanceled, "{\"order_id\":\"o\xff\",\"user_id\":\"u\"}", false},
		{"unknown field", TypeOrderCanceled, `{"order_id":"o","user_id":"u","x":1}`, false},
		{"field of another case", TypeOrderCanceled, `{"Order_ID":"o","user_id":"u"}`, false},
		{"duplicate field", TypeOrderCanceled, `{"order_id":"o","order_id":"p","user_id":"u"}`, false},
		{"missing field", TypeOrderCanceled, `{"order_id":"o"}`, false},
		{"explicit false", TypeOrderCanceled, `{"order_id":"o","user_id":"u","restocked":false}`, false},
		{"bool as number", TypeOrderCanceled, `{"order_id":"o","user_id":"u","restocked":1}`, false},
		{"string as number", TypeOrderCanceled, `{"order_id":1,"user_id":"u"}`, false},
		{"null string", TypeOrderCanceled, `{"order_id":null,"user_id":"u"}`, false},
		{"float amount", TypeOrderCanceled, `{"order_id":"o","user_id":"u","amount_cents":1.5}`, false},
		{"exponent amount", TypeOrderCanceled, `{"order_id":"o","user_id":"u","amount_cents":1e3}`, false},
		{"leading zero", TypeOrderCanceled, `{"order_id":"o","user_id":"u","amount_cents":01}`, false},
		{"int64 overflow", TypeOrderCanceled, `{"order_id":"o","user_id":"u","amount_cents":9223372036854775808}`, false},
		{"not JSON", TypeOrderCanceled, `{"order_id":"o","user_id":"u"`, false},
		{"two objects", TypeOrderCanceled, `{"order_id":"o","user_id":"u"},{"x":1}`, false},
		{"lines null", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"0001-01-01T00:00:00Z"}`, true},
		{"lines empty", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":[],"total_cents":0,"currency":"","expires_at":"0001-01-01T00:00:00Z"}`, true},
		{"line trailing comma", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":[{"item_id":"i","quantity":1,"price_cents":2},],"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00Z"}`, false},
		{"line leading comma", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":[,{"item_id":"i","quantity":1,"price_cents":2}],"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00Z"}`, false},
		{"line unknown field", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":[{"item_id":"i","quantity":1,"price_cents":2,"x":0}],"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00Z"}`, false},
		{"line quantity string", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":[{"item_id":"i","quantity":"1","price_cents":2}],"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00Z"}`, false},
		{"lines object", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":{},"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00Z"}`, false},
		{"no lines", TypeOrderCreated, `{"order_id":"o","user_id":"u","total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00Z"}`, false},
		{"no expires_at", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":""}`, false},
		{"null expires_at", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":null}`, false},
		{"prime_trial false", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00Z","prime_trial":false}`, false},
		{"time offset", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00+05:30"}`, true},
		{"time +00:00", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00+00:00"}`, false},
		{"time -00:00", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00-00:00"}`, false},
		{"time trailing zeros", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00.500Z"}`, false},
		{"time ten digits", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00.1234567891Z"}`, false},
		{"time comma", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00,5Z"}`, false},
		{"time one-digit hour", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T0:00:00Z"}`, false},
		{"time offset hour 24", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00+24:00"}`, false},
		{"time lower case", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01t00:00:00z"}`, false},
		{"time February 30", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-02-30T00:00:00Z"}`, false},
		{"time escaped", TypeOrderCreated, `{"order_id":"o","user_id":"u","lines":null,"total_cents":0,"currency":"","expires_at":"2026-01-01T00:00:00\u005a"}`, false},
		{"trial canonical", TypeMembershipTrialStarted, `{"user_id":"u","trial_ends_at":"2026-01-31T00:00:00.000000001Z","spend_cents":0,"currency":"USD","trial_period_days":30}`, true},
		{"trial days float", TypeMembershipTrialStarted, `{"user_id":"u","trial_ends_at":"2026-01-31T00:00:00Z","spend_cents":0,"currency":"USD","trial_period_days":30.0}`, false},
		{"trial no days", TypeMembershipTrialStarted, `{"user_id":"u","trial_ends_at":"2026-01-31T00:00:00Z","spend_cents":0,"currency":"USD"}`, false},
		{"trial order_id last", TypeMembershipTrialStarted, `{"user_id":"u","trial_ends_at":"2026-01-31T00:00:00Z","spend_cents":0,"currency":"USD","trial_period_days":30,"order_id":"o"}`, false},
		{"trial time number", TypeMembershipTrialStarted, `{"user_id":"u","trial_ends_at":1767139200,"spend_cents":0,"currency":"USD","trial_period_days":30}`, false},
		{"request no currency", TypeMembershipTrialRequested, `{"user_id":"u","spend_cents":0}`, false},
		{"changed extra", TypeMembershipConverted, `{"user_id":"u","reason":"r","restocked":true}`, false},
		{"changed empty", TypeMembershipCanceled, `{}`, false},
		{"stock on_hand -0", TypeSupplierStockLevel, `{"supplier_id":"s","item_id":"i","warehouse_id":"w","on_hand":-0}`, true},
		{"item attributes null", TypeSupplierItemUpserted, `{"supplier_id":"s","item_id":"i","title":"t","category":"c","price_cents":1,"currency":"USD","attributes":null}`, false},
	}
}

// record wraps data of type typ in a canonical envelope.
func record(typ, data string) []byte {
	return []byte(`{"id":"e1","type":"` + typ + `","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"k","data":` + data + `}`)
}

// sameAsGeneral decodes b with Decode and with the general path, fails t
// unless both give the same event or the same error, and returns Decode's.
func sameAsGeneral(t testing.TB, b []byte) (Event, error) {
	t.Helper()
	ev, err := Decode(b)
	want, wantErr := decodeGeneral(b)
	if !reflect.DeepEqual(err, wantErr) || !reflect.DeepEqual(ev, want) {
		t.Fatalf("Decode and the general path disagree on %q:\n%#v, %v\n%#v, %v", b, ev, err, want, wantErr)
	}
	if err == nil {
		got, gotErr := Encode(ev)
		general, generalErr := Encode(want)
		if !bytes.Equal(got, general) || !reflect.DeepEqual(gotErr, generalErr) {
			t.Fatalf("Decode and the general path re-encode %q differently:\n%s, %v\n%s, %v", b, got, gotErr, general, generalErr)
		}
	}
	return ev, err
}

// Every variant of every hand-parsed type as Encode writes it is read by
// hand, to what encoding/json reads and to the event encoded.
func TestHandParsersReadEncodedEvents(t *testing.T) {
	for _, ev := range handParsedEvents() {
		b := must(Encode(ev))
		env, ok := canonicalEnvelope(b)
		if !ok {
			t.Fatalf("%s misses the canonical envelope", b)
		}
		if _, ok := parsers[ev.Type](env.Data); !ok {
			t.Errorf("%s: data %s is not read by hand", ev.Type, env.Data)
		}
		got, err := sameAsGeneral(t, b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !bytes.Equal(must(Encode(got)), b) {
			t.Errorf("%s does not re-encode to itself", b)
		}
	}
}

// Layouts json.Marshal does not write fall back to encoding/json, and the
// result, event or error, is the general path's either way.
func TestHandParsersFallBack(t *testing.T) {
	for _, c := range fallbackCases() {
		b := record(c.typ, c.data)
		if _, hand := parsers[c.typ]([]byte(c.data)); hand != c.hand {
			t.Errorf("%s: read by hand %v, want %v", c.name, hand, c.hand)
		}
		sameAsGeneral(t, b)
	}
}

// parsers list exactly the registered types whose Go type parseData
// reads, each with its registered Go type.
func TestParsersMatchParseDataAndRegistry(t *testing.T) {
	for typ, info := range registry {
		zero := must(info.decode([]byte("{}")))
		ptr := reflect.New(reflect.TypeOf(zero))
		reads := parseData(must(json.Marshal(zero)), ptr.Interface())
		parse, listed := parsers[typ]
		if reads != listed {
			t.Errorf("%s: parseData reads its data %v, parsers list it %v", typ, reads, listed)
			continue
		}
		if listed {
			v, ok := parse(must(json.Marshal(zero)))
			if !ok || info.check(v) != nil || !reflect.DeepEqual(v, ptr.Elem().Interface()) {
				t.Errorf("%s: parsers read %#v, not the registered %T", typ, v, zero)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzUTCTimeMatchesTimePackage: the hand-read UTC time accepts only what
// time.Time.UnmarshalText reads and MarshalText writes back byte for byte,
// and reads the same instant and location.
func FuzzUTCTimeMatchesTimePackage(f *testing.F) {
	for _, s := range []string{"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123456789Z", "2026-01-02T03:04:05.1Z",
		"2026-01-02T03:04:05.100Z", "2024-02-29T00:00:00Z", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
		"2026-01-01T24:00:00Z", "2026-01-01T23:59:60Z", "0000-01-01T00:00:00Z", "2026-01-02T03:04:05.Z",
		"2026-01-02T03:04:05+02:00", "2026-01-02T03:04:05.0000000001Z", "2026-04-31T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := utcTime([]byte(s))
		var want time.Time
		canonical := want.UnmarshalText([]byte(s)) == nil && want.Location() == time.UTC
		if canonical {
			back, err := want.MarshalText()
			canonical = err == nil && string(back) == s
		}
		if ok != canonical || ok && !reflect.DeepEqual(got, want) {
			t.Fatalf("utcTime(%q) = %v, %v; time package: %v, canonical UTC %v", s, got, ok, want, canonical)
		}
	})
}
