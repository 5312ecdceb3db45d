package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/shopstream/shopstream/topics"
)

// Kind is what a supplier record is: an item upsert or a stock level.
type Kind string

// The record kinds. KindAuto tells each record's kind from its fields.
const (
	KindAuto  Kind = ""
	KindItems Kind = "items"
	KindStock Kind = "stock"
)

// ParseKind reads a --kind value: items, stock, or auto (or empty).
func ParseKind(s string) (Kind, error) {
	switch s {
	case "", "auto":
		return KindAuto, nil
	case "items", "item":
		return KindItems, nil
	case "stock":
		return KindStock, nil
	}
	return "", fmt.Errorf("ingest: kind %q is not items, stock or auto", s)
}

// Topic is the input topic records of kind k go to. A record whose kind is
// unknown is reported against supplier.items.
func (k Kind) Topic() string {
	if k == KindStock {
		return topics.SupplierStock
	}
	return topics.SupplierItems
}

// Decode error codes, beside the validation codes of ValidateItem.
const (
	CodeInvalidJSON  = "invalid_json"
	CodeInvalidCSV   = "invalid_csv"
	CodeUnknownField = "unknown_field"
	// CodeUnknownKind: a record that is neither clearly an item nor clearly
	// a stock level.
	CodeUnknownKind = "unknown_kind"
)

// badID says why v is not an id (see ValidateItem).
func badID(name, v string) string {
	return fmt.Sprintf("%s %q must be 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", name, truncate(v))
}

// record is one decoded supplier record of either kind.
type record struct {
	kind  Kind
	item  topics.SupplierItemUpserted
	stock topics.SupplierStockLevel
	// broken: nothing could be decoded, so there is nothing to validate.
	broken bool
}

func (r *record) itemID() string {
	if r.kind == KindStock {
		return r.stock.ItemID
	}
	return r.item.ItemID
}

// check fills in the supplier when the record names none, then applies the
// one set of validation rules.
func (r *record) check(supplier string) []FieldError {
	if r.kind == KindStock {
		if r.stock.SupplierID == "" {
			r.stock.SupplierID = supplier
		}
		return ValidateStock(supplier, r.stock)
	}
	if r.item.SupplierID == "" {
		r.item.SupplierID = supplier
	}
	return ValidateItem(supplier, r.item)
}

// event builds the envelope, keyed by item_id.
func (r *record) event() (topics.Event, error) {
	if r.kind == KindStock {
		return topics.New(topics.TypeSupplierStockLevel, r.stock.ItemID, r.stock)
	}
	return topics.New(topics.TypeSupplierItemUpserted, r.item.ItemID, r.item)
}

// fieldSet marks the fields a record carries; the kind-specific ones
// decide its kind.
type fieldSet uint16

// The fields of a supplier record, in the order of their names below.
const (
	fSupplierID fieldSet = 1 << iota
	fItemID
	fTitle
	fDescription
	fCategory
	fBrand
	fPriceCents
	fCurrency
	fAttributes
	fWarehouseID
	fOnHand

	itemFields  = fTitle | fDescription | fCategory | fBrand | fPriceCents | fCurrency | fAttributes
	stockFields = fWarehouseID | fOnHand
)

var fieldNames = []string{"supplier_id", "item_id", "title", "description", "category", "brand",
	"price_cents", "currency", "attributes", "warehouse_id", "on_hand"}

// fieldBit is the bit of each field name.
var fieldBit = func() map[string]fieldSet {
	m := make(map[string]fieldSet, len(fieldNames))
	for i, n := range fieldNames {
		m[n] = 1 << i
	}
	return m
}()

// names lists the fields in set, for messages.
func (set fieldSet) names() []string {
	var out []string
	for i, n := range fieldNames {
		if set&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// wireRecord is a record of either kind as decoded, with the fields it
// carried (a field present with an empty value is still present).
type wireRecord struct {
	SupplierID, ItemID, Title, Description, Category, Brand, Currency, WarehouseID string
	PriceCents, OnHand                                                             int64
	Attributes                                                                     map[string]string
	set                                                                            fieldSet
}

// setString sets the string field named key; false if there is none.
func (w *wireRecord) setString(key, v string) bool {
	var dst *string
	switch key {
	case "supplier_id":
		dst = &w.SupplierID
	case "item_id":
		dst = &w.ItemID
	case "title":
		dst = &w.Title
	case "description":
		dst = &w.Description
	case "category":
		dst = &w.Category
	case "brand":
		dst = &w.Brand
	case "currency":
		dst = &w.Currency
	case "warehouse_id":
		dst = &w.WarehouseID
	default:
		return false
	}
	*dst = v
	w.set |= fieldBit[key]
	return true
}

// setInt sets the integer field named key; false if there is none.
func (w *wireRecord) setInt(key string, n int64) bool {
	switch key {
	case "price_cents":
		w.PriceCents = n
	case "on_hand":
		w.OnHand = n
	default:
		return false
	}
	w.set |= fieldBit[key]
	return true
}

func (w *wireRecord) record(k Kind) record {
	if k == KindStock {
		return record{kind: k, stock: topics.SupplierStockLevel{
			SupplierID: w.SupplierID, ItemID: w.ItemID, WarehouseID: w.WarehouseID, OnHand: w.OnHand}}
	}
	return record{kind: KindItems, item: topics.SupplierItemUpserted{
		SupplierID: w.SupplierID, ItemID: w.ItemID, Title: w.Title, Description: w.Description,
		Category: w.Category, Brand: w.Brand, PriceCents: w.PriceCents, Currency: w.Currency, Attributes: w.Attributes}}
}

// jsonRecord is wireRecord for encoding/json: pointers tell a field that
// is present from one that is absent (null reads as absent).
type jsonRecord struct {
	SupplierID  *string           `json:"supplier_id"`
	ItemID      *string           `json:"item_id"`
	Title       *string           `json:"title"`
	Description *string           `json:"description"`
	Category    *string           `json:"category"`
	Brand       *string           `json:"brand"`
	PriceCents  *int64            `json:"price_cents"`
	Currency    *string           `json:"currency"`
	Attributes  map[string]string `json:"attributes"`
	WarehouseID *string           `json:"warehouse_id"`
	OnHand      *int64            `json:"on_hand"`
}

func (j *jsonRecord) wire() wireRecord {
	var w wireRecord
	for _, f := range []struct {
		key string
		v   *string
	}{{"supplier_id", j.SupplierID}, {"item_id", j.ItemID}, {"title", j.Title}, {"description", j.Description},
		{"category", j.Category}, {"brand", j.Brand}, {"currency", j.Currency}, {"warehouse_id", j.WarehouseID}} {
		if f.v != nil {
			w.setString(f.key, *f.v)
		}
	}
	if j.PriceCents != nil {
		w.setInt("price_cents", *j.PriceCents)
	}
	if j.OnHand != nil {
		w.setInt("on_hand", *j.OnHand)
	}
	if j.Attributes != nil {
		w.Attributes, w.set = j.Attributes, w.set|fAttributes
	}
	return w
}

// decodeJSON decodes one record of kind want (KindAuto: told from its
// fields), strictly: unknown fields, wrong types, trailing data and invalid
// UTF-8 are errors. It decodes as much as it can even then, so the caller
// learns the item id and the kind for its report.
func decodeJSON(raw string, want Kind) (record, []FieldError) {
	var errs []FieldError
	var w wireRecord
	if !utf8.ValidString(raw) {
		// encoding/json would silently replace the bad bytes.
		errs = append(errs, FieldError{Code: CodeInvalidText, Message: fmt.Sprintf("is not valid UTF-8 (byte %d)", invalidUTF8At(raw))})
	} else if decodeFast(raw, &w) {
		return kindOf(&w, want, nil)
	}
	var j jsonRecord
	if err := strictDecode([]byte(raw), &j); err != nil {
		fe, fatal := jsonError(err)
		errs = append(errs, fe)
		if fatal {
			return record{kind: kindOr(want), broken: true}, errs
		}
	}
	w = j.wire()
	return kindOf(&w, want, errs)
}

// strictDecode decodes one JSON value into j with encoding/json, refusing
// unknown fields and trailing data.
func strictDecode(raw []byte, j *jsonRecord) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(j); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// kindOf builds the record of the kind its fields tell.
func kindOf(w *wireRecord, want Kind, errs []FieldError) (record, []FieldError) {
	k, kerr := tellKind(w, want)
	if kerr != nil {
		errs = append(errs, *kerr)
	}
	return w.record(k), errs
}

// kindOr is the kind to report a record under when its own is unknown.
func kindOr(want Kind) Kind {
	if want == KindAuto {
		return KindItems
	}
	return want
}

// tellKind decides the record's kind and refuses fields of the other kind.
func tellKind(w *wireRecord, want Kind) (Kind, *FieldError) {
	item, stock := w.set&itemFields, w.set&stockFields
	switch {
	case want == KindItems && stock != 0:
		return want, &FieldError{Field: stock.names()[0], Code: CodeUnknownField, Message: "is a stock-level field, not an item field"}
	case want == KindStock && item != 0:
		return want, &FieldError{Field: item.names()[0], Code: CodeUnknownField, Message: "is an item field, not a stock-level field"}
	case want != KindAuto:
		return want, nil
	case item != 0 && stock != 0:
		return KindItems, &FieldError{Code: CodeUnknownKind, Message: fmt.Sprintf(
			"mixes item fields (%s) and stock-level fields (%s)", strings.Join(item.names(), ", "), strings.Join(stock.names(), ", "))}
	case stock != 0:
		return KindStock, nil
	case item != 0:
		return KindItems, nil
	}
	return KindItems, &FieldError{Code: CodeUnknownKind, Message: "has neither item fields (title, category, price_cents, ...) nor stock-level fields (warehouse_id, on_hand)"}
}

// jsonError turns a decoding error into a field error; fatal means nothing
// was decoded.
func jsonError(err error) (fe FieldError, fatal bool) {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return FieldError{Code: CodeInvalidJSON, Message: fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))}, true
	case errors.As(err, &typ) && typ.Field == "":
		return FieldError{Code: CodeInvalidJSON, Message: "must be a JSON object, not " + typ.Value}, true
	case errors.As(err, &typ) && typ.Field == "attributes" && typ.Type.Kind() == reflect.String:
		// encoding/json names the map, not the key.
		return FieldError{Field: typ.Field, Code: CodeInvalidJSON, Message: "values must be strings, not " + typ.Value}, false
	case errors.As(err, &typ):
		return FieldError{Field: typ.Field, Code: CodeInvalidJSON, Message: fmt.Sprintf("must be %s, not %s", typeName(typ.Type), typ.Value)}, false
	case errors.Is(err, io.EOF):
		return FieldError{Code: CodeInvalidJSON, Message: "is empty"}, true
	case errors.Is(err, io.ErrUnexpectedEOF):
		return FieldError{Code: CodeInvalidJSON, Message: "ends in the middle of a JSON value"}, true
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return FieldError{Field: name, Code: CodeUnknownField, Message: "is not a field of a supplier record"}, false
	}
	return FieldError{Code: CodeInvalidJSON, Message: strings.TrimPrefix(err.Error(), "json: ")}, true
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int64:
		return "an integer"
	case reflect.Map:
		return "an object of strings"
	}
	return t.String()
}

func invalidUTF8At(b string) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRuneInString(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// mergeErrors adds validation errors to decode errors, leaving out fields
// that already failed to decode (a price that is not a number is not also
// out of range).
func mergeErrors(decode, valid []FieldError) []FieldError {
	out := decode
	for _, v := range valid {
		dup := false
		for _, d := range decode {
			if d.Field != "" && (d.Field == v.Field || strings.HasPrefix(v.Field, d.Field+".")) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

// reason is the one-line dead-letter reason for errs.
func reason(k Kind, errs []FieldError) string {
	var b strings.Builder
	if k == KindStock {
		b.WriteString("invalid stock level: ")
	} else {
		b.WriteString("invalid item: ")
	}
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		if e.Field != "" {
			b.WriteString(e.Field)
			b.WriteByte(' ')
		}
		b.WriteString(e.Message)
		b.WriteString(" (")
		b.WriteString(e.Code)
		b.WriteByte(')')
	}
	return b.String()
}
