package ingest

import (
	"fmt"
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

// IsID matches ^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$, by hand: it runs for
// every id of every record (TestPatternsMatchTheirRegexps keeps it equal).
func IsID(s string) bool {
	if len(s) == 0 || len(s) > 64 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

// isAttrName matches ^[a-z][a-z0-9_]{0,63}$.
func isAttrName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

type checker struct{ errs []FieldError }

func (c *checker) add(field, code, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) id(field, v string) {
	switch {
	case v == "":
		c.add(field, CodeRequired, "is required")
	case !IsID(v):
		c.add(field, CodeInvalidFormat, "%q must be 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", truncate(v))
	}
}

// text checks UTF-8, control characters and length; required text must
// have a non-space character.
func (c *checker) text(field, v string, maxRunes int, required bool) {
	if code, msg := checkText(v, maxRunes, required); code != "" {
		c.add(field, code, "%s", msg)
	}
}

// checkText is text's rule, in one pass, ASCII first: it runs over every
// text field of every record.
func checkText(v string, maxRunes int, required bool) (code, msg string) {
	var n int
	var invalid, control, blank = false, false, true
	for i := 0; i < len(v); n++ {
		r, size := rune(v[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(v[i:])
			invalid = invalid || r == utf8.RuneError && size == 1
		}
		control = control || unicode.IsControl(r) && r != '\n' && r != '\t'
		blank = blank && unicode.IsSpace(r)
		i += size
	}
	switch {
	case invalid:
		return CodeInvalidText, "is not valid UTF-8"
	case control:
		return CodeInvalidText, "contains control characters"
	case required && blank:
		return CodeRequired, "is required"
	case n > maxRunes:
		return CodeTooLong, fmt.Sprintf("is %d characters, at most %d", n, maxRunes)
	}
	return "", ""
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
		if !isAttrName(k) {
			c.add("attributes", CodeInvalidFormat, "key %q must be lower-case letters, digits and '_', starting with a letter", truncate(k))
			continue
		}
		// The field name is only built for an error.
		if code, msg := checkText(v, MaxAttrValueRunes, false); code != "" {
			c.add("attributes."+k, code, "%s", msg)
		}
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

// truncate keeps echoed input short in messages.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}
