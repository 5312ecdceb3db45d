package ingest

import (
	"fmt"
	"regexp"
	"unicode"
	"unicode/utf8"

	"github.com/shopstream/shopstream/topics"
)

// Limits on supplier records.
const (
	MaxBatchItems     = 1000
	MaxTitleRunes     = 200
	MaxDescRunes      = 5000
	MaxNameRunes      = 64
	MaxAttributes     = 50
	MaxAttrValueRunes = 256
	MaxPriceCents     = 1_000_000_000_00 // one billion in major units
	MaxOnHand         = 1_000_000_000
)

// Field error codes, stable for clients.
const (
	CodeRequired        = "required"
	CodeInvalidFormat   = "invalid_format"
	CodeOutOfRange      = "out_of_range"
	CodeTooLong         = "too_long"
	CodeUnknownCurrency = "unknown_currency"
	CodeInvalidText     = "invalid_text"
	CodeMismatch        = "mismatch"
)

// FieldError is one reason a record is refused.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e FieldError) String() string { return e.Field + ": " + e.Message }

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	attrPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

type checker struct{ errs []FieldError }

func (c *checker) add(field, code, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) id(field, v string) {
	switch {
	case v == "":
		c.add(field, CodeRequired, "is required")
	case !idPattern.MatchString(v):
		c.add(field, CodeInvalidFormat, "%q must be 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", truncate(v))
	}
}

// text checks UTF-8, control characters and length; required text must
// have a non-space character.
func (c *checker) text(field, v string, maxRunes int, required bool) {
	switch {
	case !utf8.ValidString(v):
		c.add(field, CodeInvalidText, "is not valid UTF-8")
		return
	case hasControl(v):
		c.add(field, CodeInvalidText, "contains control characters")
		return
	case required && isBlank(v):
		c.add(field, CodeRequired, "is required")
		return
	}
	if n := utf8.RuneCountInString(v); n > maxRunes {
		c.add(field, CodeTooLong, "is %d characters, at most %d", n, maxRunes)
	}
}

// ValidateItem checks a supplier item upsert sent by supplierID (empty
// when the record carries its own supplier, as on the Kafka topic).
func ValidateItem(supplierID string, it topics.SupplierItemUpserted) []FieldError {
	var c checker
	c.id("supplier_id", it.SupplierID)
	if supplierID != "" && it.SupplierID != "" && it.SupplierID != supplierID {
		c.add("supplier_id", CodeMismatch, "is %q but the request is for supplier %q", truncate(it.SupplierID), supplierID)
	}
	c.id("item_id", it.ItemID)
	c.text("title", it.Title, MaxTitleRunes, true)
	c.text("description", it.Description, MaxDescRunes, false)
	c.text("category", it.Category, MaxNameRunes, true)
	c.text("brand", it.Brand, MaxNameRunes, false)
	if it.PriceCents <= 0 || it.PriceCents > MaxPriceCents {
		c.add("price_cents", CodeOutOfRange, "%d must be greater than 0 and at most %d", it.PriceCents, int64(MaxPriceCents))
	}
	if it.Currency == "" {
		c.add("currency", CodeRequired, "is required")
	} else if !topics.KnownCurrency(it.Currency) {
		c.add("currency", CodeUnknownCurrency, "%q is not an accepted ISO 4217 code", truncate(it.Currency))
	}
	if len(it.Attributes) > MaxAttributes {
		c.add("attributes", CodeTooLong, "has %d entries, at most %d", len(it.Attributes), MaxAttributes)
	}
	for k, v := range it.Attributes {
		if !attrPattern.MatchString(k) {
			c.add("attributes", CodeInvalidFormat, "key %q must be lower-case letters, digits and '_', starting with a letter", truncate(k))
			continue
		}
		c.text("attributes."+k, v, MaxAttrValueRunes, false)
	}
	return c.errs
}

// ValidateStock checks a supplier stock level.
func ValidateStock(supplierID string, s topics.SupplierStockLevel) []FieldError {
	var c checker
	c.id("supplier_id", s.SupplierID)
	if supplierID != "" && s.SupplierID != "" && s.SupplierID != supplierID {
		c.add("supplier_id", CodeMismatch, "is %q but the request is for supplier %q", truncate(s.SupplierID), supplierID)
	}
	c.id("item_id", s.ItemID)
	c.id("warehouse_id", s.WarehouseID)
	if s.OnHand < 0 || s.OnHand > MaxOnHand {
		c.add("on_hand", CodeOutOfRange, "%d must be between 0 and %d", s.OnHand, MaxOnHand)
	}
	return c.errs
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return true
		}
	}
	return false
}

func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// truncate keeps echoed input short in messages.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}
