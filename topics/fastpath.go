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
	p := parser{b: b, ok: true}
	p.lit(`{"id":`)
	env.ID = p.str()
	p.lit(`,"type":`)
	env.Type = p.typeName()
	p.lit(`,"version":`)
	env.Version = p.intN()
	p.lit(`,"occurred_at":`)
	env.OccurredAt = p.time()
	p.lit(`,"key":`)
	env.Key = p.str()
	p.lit(`,"data":`)
	data, ok := bytes.CutSuffix(p.b, []byte("}"))
	if !p.ok || !ok || len(data) == 0 || data[0] != '{' {
		return Envelope{}, false
	}
	env.Data = data
	return env, true
}

// parsers read by hand the data of the event types whose Go type parseData
// knows: the supplier feeds every processor reads, the listings the search
// sink reads, and the order and membership events the analytics sink reads, where encoding/json's two
// passes over data (validate, then reflect) were most of the CPU per
// record. A test keeps the list in step with parseData and the registry.
var parsers = map[string]func([]byte) (any, bool){
	TypeSupplierItemUpserted:       parseAs[SupplierItemUpserted],
	TypeSupplierStockLevel:         parseAs[SupplierStockLevel],
	TypeListingChanged:             parseAs[Listing],
	TypeOrderCreated:               parseAs[OrderCreated],
	TypeOrderPlaced:                parseAs[OrderTransition],
	TypeOrderCanceled:              parseAs[OrderTransition],
	TypeOrderRefunded:              parseAs[OrderTransition],
	TypeOrderShipped:               parseAs[OrderTransition],
	TypeOrderDelivered:             parseAs[OrderTransition],
	TypeMembershipTrialStarted:     parseAs[MembershipTrialStarted],
	TypeMembershipConverted:        parseAs[MembershipChanged],
	TypeMembershipCanceled:         parseAs[MembershipChanged],
	TypeMembershipTrialRequested:   parseAs[MembershipTrialRequested],
	TypeMembershipConvertRequested: parseAs[MembershipChanged],
	TypeMembershipCancelRequested:  parseAs[MembershipChanged],
}

// parseAs reads data as a T, boxed as Decode returns it.
func parseAs[T any](data []byte) (any, bool) {
	var v T
	if !parseData(data, &v) {
		return nil, false
	}
	return v, true
}

// parseData reads into v data in the exact layout json.Marshal writes for
// v's type, for the types it knows, giving what json.Unmarshal gives; false
// for any other type or layout, which Decode leaves to json.Unmarshal.
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
		v.Description = p.optStr(`,"description":`)
		p.lit(`,"category":`)
		v.Category = p.str()
		v.Brand = p.optStr(`,"brand":`)
		p.lit(`,"price_cents":`)
		v.PriceCents = p.int()
		p.lit(`,"currency":`)
		v.Currency = p.str()
		v.Attributes = p.optStrMap(`,"attributes":`)
	case *Listing:
		p.lit(`{"item_id":`)
		v.ItemID = p.str()
		p.lit(`,"version":`)
		v.Version = p.int()
		p.lit(`,"catalog_version":`)
		v.CatalogVersion = p.int()
		p.lit(`,"inventory_version":`)
		v.InventoryVersion = p.int()
		v.SupplierID = p.optStr(`,"supplier_id":`)
		v.Title = p.optStr(`,"title":`)
		v.Description = p.optStr(`,"description":`)
		v.Category = p.optStr(`,"category":`)
		v.Brand = p.optStr(`,"brand":`)
		p.lit(`,"price_cents":`)
		v.PriceCents = p.int()
		v.Currency = p.optStr(`,"currency":`)
		v.Attributes = p.optStrMap(`,"attributes":`)
		p.lit(`,"on_hand":`)
		v.OnHand = p.int()
		p.lit(`,"created_at":`)
		v.CreatedAt = p.time()
		p.lit(`,"updated_at":`)
		v.UpdatedAt = p.time()
	case *OrderCreated:
		p.lit(`{"order_id":`)
		v.OrderID = p.str()
		p.lit(`,"user_id":`)
		v.UserID = p.str()
		if !p.opt(`,"lines":null`) {
			p.lit(`,"lines":[`)
			v.Lines = []OrderLine{} // [] is an empty slice, not nil
			p.each("]", func() {
				var l OrderLine
				p.lit(`{"item_id":`)
				l.ItemID = p.str()
				p.lit(`,"quantity":`)
				l.Quantity = p.int()
				p.lit(`,"price_cents":`)
				l.PriceCents = p.int()
				p.lit("}")
				v.Lines = append(v.Lines, l)
			})
		}
		p.lit(`,"total_cents":`)
		v.TotalCents = p.int()
		p.lit(`,"currency":`)
		v.Currency = p.str()
		p.lit(`,"expires_at":`)
		v.ExpiresAt = p.time()
		v.PrimeTrial = p.opt(`,"prime_trial":true`)
	case *OrderTransition:
		p.lit(`{"order_id":`)
		v.OrderID = p.str()
		p.lit(`,"user_id":`)
		v.UserID = p.str()
		v.Reason = p.optStr(`,"reason":`)
		v.Restocked = p.opt(`,"restocked":true`)
		if p.opt(`,"amount_cents":`) {
			v.AmountCents = p.int()
		}
		v.Currency = p.optStr(`,"currency":`)
	case *MembershipTrialStarted:
		p.lit(`{"user_id":`)
		v.UserID = p.str()
		p.lit(`,"trial_ends_at":`)
		v.TrialEndsAt = p.time()
		p.lit(`,"spend_cents":`)
		v.SpendCents = p.int()
		p.lit(`,"currency":`)
		v.Currency = p.str()
		v.OrderID = p.optStr(`,"order_id":`)
		p.lit(`,"trial_period_days":`)
		v.TrialPeriodDays = p.intN()
	case *MembershipTrialRequested:
		p.lit(`{"user_id":`)
		v.UserID = p.str()
		p.lit(`,"spend_cents":`)
		v.SpendCents = p.int()
		p.lit(`,"currency":`)
		v.Currency = p.str()
		v.OrderID = p.optStr(`,"order_id":`)
	case *MembershipChanged:
		p.lit(`{"user_id":`)
		v.UserID = p.str()
		v.Reason = p.optStr(`,"reason":`)
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

// each reads comma-separated items with item up to the literal end, the
// opening bracket already read.
func (p *parser) each(end string, item func()) {
	for first := true; p.ok && !p.opt(end); first = false {
		if !first {
			p.lit(",")
		}
		item()
	}
}

// optStr reads the field name and its string if it comes next (an
// omitempty string), else returns "".
func (p *parser) optStr(name string) string {
	if !p.opt(name) {
		return ""
	}
	return p.str()
}

// optStrMap reads the field name and its object of strings if it comes
// next (an omitempty map), else returns nil.
func (p *parser) optStrMap(name string) map[string]string {
	if !p.opt(name + "{") {
		return nil
	}
	m := map[string]string{}
	p.each("}", func() {
		k := p.str()
		p.lit(":")
		m[k] = p.str()
	})
	return m
}

// quoted reads a string without escapes and returns its raw bytes.
func (p *parser) quoted() []byte {
	if !p.ok || len(p.b) == 0 || p.b[0] != '"' {
		p.ok = false
		return nil
	}
	for i := 1; i < len(p.b); i++ {
		switch p.b[i] {
		case '"':
			s := p.b[1:i]
			p.b = p.b[i+1:]
			return s
		case '\\':
			p.ok = false
			return nil
		}
	}
	p.ok = false
	return nil
}

// str reads a string without escapes or control bytes, in valid UTF-8
// (encoding/json replaces invalid UTF-8; that is left to it).
func (p *parser) str() string {
	s := p.quoted()
	ascii := true
	for _, c := range s {
		if c < 0x20 {
			p.ok = false
			return ""
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	if !p.ok || !ascii && !utf8.Valid(s) {
		p.ok = false
		return ""
	}
	return string(s)
}

// typeName reads an event type: a registered one without a copy, any
// other as str does.
func (p *parser) typeName() string {
	if !p.ok {
		return ""
	}
	save := p.b
	if s := p.quoted(); p.ok {
		if info, ok := registry[string(s)]; ok {
			return info.name
		}
	}
	p.b, p.ok = save, true // read it again as any string
	return p.str()
}

// time reads a time as json.Unmarshal does, if it is written exactly as
// json.Marshal writes it (RFC 3339 with the nanoseconds it has); other
// forms, which encoding/json may read differently, fail. A UTC time, the
// form every producer here writes, is read by hand (utcTime).
func (p *parser) time() time.Time {
	s := p.quoted()
	if t, ok := utcTime(s); ok && p.ok {
		return t
	}
	var t time.Time
	if !p.ok || t.UnmarshalText(s) != nil {
		p.ok = false
		return time.Time{}
	}
	var buf [len(time.RFC3339Nano)]byte
	if again, err := t.AppendText(buf[:0]); err != nil || string(again) != string(s) {
		p.ok = false
		return time.Time{}
	}
	return t
}

// utcTime reads s if it is a UTC time as time.Time.MarshalText writes one,
// 2006-01-02T15:04:05.999999999Z (no fraction when it is zero, no
// trailing zeros), with every field in range; ok is false for anything
// else.
func utcTime(s []byte) (t time.Time, ok bool) {
	if len(s) < 20 || len(s) == 21 || len(s) > 30 || s[len(s)-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(s[0:4]), num(s[5:7]), num(s[8:10])
	hour, minute, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	nsec := 0
	if frac := s[19 : len(s)-1]; len(frac) > 0 {
		if frac[0] != '.' || frac[len(frac)-1] == '0' {
			return time.Time{}, false
		}
		if nsec = num(frac[1:]); nsec < 0 {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // past the month's last day
		return time.Time{}, false
	}
	return t, true
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

// intN reads an integer in int's range.
func (p *parser) intN() int {
	n := p.int()
	if int64(int(n)) != n {
		p.ok = false
		return 0
	}
	return int(n)
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
