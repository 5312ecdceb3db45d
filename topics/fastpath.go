package topics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// decodeCanonical parses the exact layout AppendEnvelope writes without a
// generic JSON pass over the envelope, so only data is decoded by
// encoding/json. It returns ok=false for any other layout (field order,
// whitespace, escapes), and Decode then takes the general path; both paths
// give the same result (FuzzDecode checks it).
func decodeCanonical(b []byte) (env Envelope, ok bool) {
	env, ok = canonicalEnvelope(b)
	if !ok || !json.Valid(env.Data) {
		return Envelope{}, false
	}
	return env, true
}

// canonicalEnvelope is decodeCanonical leaving data unchecked but for its
// first byte.
func canonicalEnvelope(b []byte) (env Envelope, ok bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"id":"`))
	if !ok {
		return env, false
	}
	var s string
	if env.ID, rest, ok = plainString(rest, `","type":"`); !ok {
		return env, false
	}
	if env.Type, rest, ok = plainString(rest, `","version":`); !ok {
		return env, false
	}
	i := bytes.IndexByte(rest, ',')
	if i < 1 {
		return env, false
	}
	v, err := strconv.Atoi(string(rest[:i]))
	if err != nil || strconv.Itoa(v) != string(rest[:i]) {
		return env, false
	}
	env.Version = v
	if rest, ok = bytes.CutPrefix(rest[i:], []byte(`,"occurred_at":"`)); !ok {
		return env, false
	}
	if s, rest, ok = plainString(rest, `","key":"`); !ok {
		return env, false
	}
	if env.OccurredAt, err = time.Parse(time.RFC3339Nano, s); err != nil {
		return env, false
	}
	if env.Key, rest, ok = plainString(rest, `","data":`); !ok {
		return env, false
	}
	data, ok := bytes.CutSuffix(rest, []byte("}"))
	if !ok || len(data) == 0 || data[0] != '{' {
		return env, false
	}
	env.Data = data
	return env, true
}

// DecodeAs is Decode for a record expected to carry T's data, with the
// same result, event or error, for any bytes. Records of the supplier
// feeds in the layout Encode writes skip encoding/json altogether: a
// processor's input decoding, a sixth of its CPU per record, took
// encoding/json a validating pass over the data and a reflective one.
// Anything else takes Decode.
func DecodeAs[T any](b []byte) (Event, error) {
	if ev, ok := decodeFast[T](b); ok {
		return ev, nil
	}
	return Decode(b)
}

// decodeFast decodes b if it is an envelope in canonical layout of a
// registered type whose Go type is T, with data of a type parseData
// reads, in the layout json.Marshal writes.
func decodeFast[T any](b []byte) (Event, bool) {
	env, ok := canonicalEnvelope(b)
	if !ok || env.check() != nil {
		return Event{}, false
	}
	info, ok := registry[env.Type]
	var data T
	if !ok || env.Version > info.version || !parseData(env.Data, &data) {
		return Event{}, false
	}
	boxed := any(data)
	if info.check(boxed) != nil {
		return Event{}, false // the type carries another Go type
	}
	return Event{ID: env.ID, Type: env.Type, Version: env.Version, OccurredAt: env.OccurredAt.UTC(), Key: env.Key, Data: boxed}, true
}

// parseData reads into v data in the exact layout json.Marshal writes for
// v's type, for the types it knows; false for any other type or layout.
func parseData(data []byte, v any) bool {
	p := parser{b: data, ok: true}
	switch v := v.(type) {
	case *SupplierStockLevel:
		p.lit(`{"supplier_id":`)
		v.SupplierID = p.str()
		p.lit(`,"item_id":`)
		v.ItemID = p.str()
		p.lit(`,"warehouse_id":`)
		v.WarehouseID = p.str()
		p.lit(`,"on_hand":`)
		v.OnHand = p.int()
	case *SupplierItemUpserted:
		p.lit(`{"supplier_id":`)
		v.SupplierID = p.str()
		p.lit(`,"item_id":`)
		v.ItemID = p.str()
		p.lit(`,"title":`)
		v.Title = p.str()
		if p.opt(`,"description":`) {
			v.Description = p.str()
		}
		p.lit(`,"category":`)
		v.Category = p.str()
		if p.opt(`,"brand":`) {
			v.Brand = p.str()
		}
		p.lit(`,"price_cents":`)
		v.PriceCents = p.int()
		p.lit(`,"currency":`)
		v.Currency = p.str()
		if p.opt(`,"attributes":{`) {
			v.Attributes = map[string]string{}
			for first := true; p.ok && !p.opt("}"); first = false {
				if !first {
					p.lit(",")
				}
				k := p.str()
				p.lit(":")
				v.Attributes[k] = p.str()
			}
		}
	default:
		return false
	}
	p.lit("}")
	return p.ok && len(p.b) == 0
}

// parser reads canonical JSON front to back; the first mismatch clears ok
// and every read after it returns zero values.
type parser struct {
	b  []byte
	ok bool
}

// lit reads the literal s.
func (p *parser) lit(s string) {
	if !p.opt(s) {
		p.ok = false
	}
}

// opt reads the literal s if it comes next.
func (p *parser) opt(s string) bool {
	if !p.ok || len(p.b) < len(s) || string(p.b[:len(s)]) != s {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

// str reads a string without escapes or control bytes, in valid UTF-8.
func (p *parser) str() string {
	if !p.ok || len(p.b) == 0 || p.b[0] != '"' {
		p.ok = false
		return ""
	}
	end := bytes.IndexByte(p.b[1:], '"') + 1
	if end == 0 {
		p.ok = false
		return ""
	}
	s := p.b[1:end]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			p.ok = false
			return ""
		}
	}
	if !utf8.Valid(s) {
		p.ok = false
		return ""
	}
	p.b = p.b[end+1:]
	return string(s)
}

// int reads an integer in int64's range, as JSON writes one: an optional
// minus, then 0 or digits not starting with 0.
func (p *parser) int() int64 {
	if !p.ok {
		return 0
	}
	b, neg := p.b, false
	if len(b) > 0 && b[0] == '-' {
		b, neg = b[1:], true
	}
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	if n == 0 || n > 19 || b[0] == '0' && n > 1 || n < len(b) && (b[n] == '.' || b[n] == 'e' || b[n] == 'E') {
		p.ok = false
		return 0
	}
	var u uint64
	for _, c := range b[:n] {
		u = u*10 + uint64(c-'0')
	}
	if neg && u > 1<<63 || !neg && u > 1<<63-1 {
		p.ok = false
		return 0
	}
	p.b = b[n:]
	if neg {
		return -int64(u)
	}
	return int64(u)
}

// plainString reads up to sep a string with no escapes or control bytes.
func plainString(b []byte, sep string) (string, []byte, bool) {
	i := bytes.Index(b, []byte(sep))
	if i < 0 {
		return "", nil, false
	}
	for _, c := range b[:i] {
		if c < 0x20 || c == '\\' || c == '"' {
			return "", nil, false
		}
	}
	// encoding/json replaces invalid UTF-8; leave that to it.
	if !utf8.Valid(b[:i]) {
		return "", nil, false
	}
	return string(b[:i]), b[i+len(sep):], true
}

// The data of the events the supply processors emit for every record,
// written by hand: byte for byte what encoding/json writes for them (the
// tests compare the two), without its reflection, which was a tenth of a
// processor's CPU per record. Each returns b with v's JSON appended.

// AppendJSON appends c's JSON.
func (c CatalogItemChanged) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"item_id":`...)
	b = AppendJSONString(b, c.ItemID)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, c.Version, 10)
	b = append(b, `,"supplier_id":`...)
	b = AppendJSONString(b, c.SupplierID)
	b = append(b, `,"title":`...)
	b = AppendJSONString(b, c.Title)
	b = appendOmitEmpty(b, `,"description":`, c.Description)
	b = append(b, `,"category":`...)
	b = AppendJSONString(b, c.Category)
	b = appendOmitEmpty(b, `,"brand":`, c.Brand)
	b = append(b, `,"price_cents":`...)
	b = strconv.AppendInt(b, c.PriceCents, 10)
	b = append(b, `,"currency":`...)
	b = AppendJSONString(b, c.Currency)
	if len(c.Attributes) > 0 {
		b = append(b, `,"attributes":`...)
		b = AppendJSONMap(b, c.Attributes, AppendJSONString)
	}
	return append(b, '}'), nil
}

// AppendJSON appends c's JSON.
func (c InventoryItemChanged) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"item_id":`...)
	b = AppendJSONString(b, c.ItemID)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, c.Version, 10)
	b = append(b, `,"warehouses":`...)
	b = AppendJSONMap(b, c.Warehouses, appendInt)
	b = append(b, `,"on_hand":`...)
	b = strconv.AppendInt(b, c.OnHand, 10)
	b = append(b, `,"delta":`...)
	b = strconv.AppendInt(b, c.Delta, 10)
	return append(b, '}'), nil
}

// AppendJSON appends l's JSON.
func (l Listing) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"item_id":`...)
	b = AppendJSONString(b, l.ItemID)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, l.Version, 10)
	b = append(b, `,"catalog_version":`...)
	b = strconv.AppendInt(b, l.CatalogVersion, 10)
	b = append(b, `,"inventory_version":`...)
	b = strconv.AppendInt(b, l.InventoryVersion, 10)
	b = appendOmitEmpty(b, `,"supplier_id":`, l.SupplierID)
	b = appendOmitEmpty(b, `,"title":`, l.Title)
	b = appendOmitEmpty(b, `,"description":`, l.Description)
	b = appendOmitEmpty(b, `,"category":`, l.Category)
	b = appendOmitEmpty(b, `,"brand":`, l.Brand)
	b = append(b, `,"price_cents":`...)
	b = strconv.AppendInt(b, l.PriceCents, 10)
	b = appendOmitEmpty(b, `,"currency":`, l.Currency)
	if len(l.Attributes) > 0 {
		b = append(b, `,"attributes":`...)
		b = AppendJSONMap(b, l.Attributes, AppendJSONString)
	}
	b = append(b, `,"on_hand":`...)
	b = strconv.AppendInt(b, l.OnHand, 10)
	b = append(b, `,"created_at":`...)
	b, err := AppendJSONTime(b, l.CreatedAt)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = AppendJSONTime(b, l.UpdatedAt); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendJSONString appends s as encoding/json quotes it, HTML characters
// escaped; a string that needs any escape at all takes encoding/json.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendJSONTime appends t as encoding/json writes a time.Time: quoted RFC
// 3339 with the nanoseconds it has, refusing a year RFC 3339 cannot hold.
func AppendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("topics: encode time: %w", err)
	}
	return append(b, '"'), nil
}

// AppendJSONMap appends m as encoding/json writes a map with string keys:
// keys sorted, null for a nil map. value appends one value.
func AppendJSONMap[V any](b []byte, m map[string]V, value func([]byte, V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	if len(m) == 1 { // the common case needs no sorting
		for k, v := range m {
			b = value(append(AppendJSONString(b, k), ':'), v)
		}
		return append(b, '}')
	}
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		b = value(b, m[k])
	}
	return append(b, '}')
}

// appendOmitEmpty appends a field of an omitempty string, name being
// `,"name":`, unless s is empty.
func appendOmitEmpty(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return AppendJSONString(append(b, name...), s)
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }
