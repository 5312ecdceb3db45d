package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AttrPrefix starts a CSV column that holds one attribute: attr.colour.
const AttrPrefix = "attr."

// CSV columns, as the JSON field names.
var (
	itemColumns  = []string{"supplier_id", "item_id", "title", "description", "category", "brand", "price_cents", "currency"}
	stockColumns = []string{"supplier_id", "item_id", "warehouse_id", "on_hand"}
)

// csvHeader maps a CSV file's columns to record fields.
type csvHeader struct {
	kind    Kind
	columns []string
}

// parseHeader checks a header row: every column known, none twice, and
// all of one kind (want, unless auto). A bad header stops the file before
// anything is produced: every row would fail the same way.
func parseHeader(fields []string, want Kind) (csvHeader, error) {
	h := csvHeader{columns: fields}
	seen := map[string]bool{}
	var itemOnly, stockOnly []string
	for i, col := range fields {
		switch {
		case seen[col]:
			return h, fmt.Errorf("column %d %q appears twice", i+1, col)
		case strings.HasPrefix(col, AttrPrefix):
			if name := col[len(AttrPrefix):]; !isAttrName(name) {
				return h, fmt.Errorf("column %d %q: attribute name %q must be lower-case letters, digits and '_', starting with a letter", i+1, col, name)
			}
			itemOnly = append(itemOnly, col)
		case col == "supplier_id" || col == "item_id":
		case contains(itemColumns, col):
			itemOnly = append(itemOnly, col)
		case contains(stockColumns, col):
			stockOnly = append(stockOnly, col)
		default:
			return h, fmt.Errorf("column %d %q is not a supplier record column (items: %s, %sNAME; stock: %s)",
				i+1, col, strings.Join(itemColumns, ", "), AttrPrefix, strings.Join(stockColumns, ", "))
		}
		seen[col] = true
	}
	if !seen["item_id"] {
		return h, errors.New("there is no item_id column")
	}
	switch {
	case len(itemOnly) > 0 && len(stockOnly) > 0:
		return h, fmt.Errorf("the header mixes item columns (%s) and stock-level columns (%s)", strings.Join(itemOnly, ", "), strings.Join(stockOnly, ", "))
	case want == KindItems && len(stockOnly) > 0:
		return h, fmt.Errorf("--kind items, but the header has stock-level columns (%s)", strings.Join(stockOnly, ", "))
	case want == KindStock && len(itemOnly) > 0:
		return h, fmt.Errorf("--kind stock, but the header has item columns (%s)", strings.Join(itemOnly, ", "))
	case want != KindAuto:
		h.kind = want
	case len(stockOnly) > 0:
		h.kind = KindStock
	case len(itemOnly) > 0:
		h.kind = KindItems
	default:
		return h, errors.New("the header has neither item columns (title, category, price_cents, ...) nor stock-level columns (warehouse_id, on_hand); pass the kind")
	}
	return h, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// decodeRow turns one CSV record into a supplier record. An empty cell is
// an absent value; an empty attribute cell, no attribute.
func (h *csvHeader) decodeRow(raw string) (record, []FieldError) {
	var errs []FieldError
	if !utf8.ValidString(raw) {
		errs = append(errs, FieldError{Code: CodeInvalidText, Message: fmt.Sprintf("is not valid UTF-8 (byte %d)", invalidUTF8At(raw))})
	}
	fields, err := parseCSVRecord(raw, nil)
	if err == nil && len(fields) != len(h.columns) {
		err = fmt.Errorf("has %d fields, the header has %d", len(fields), len(h.columns))
	}
	if err != nil {
		return record{kind: h.kind, broken: true}, append(errs, FieldError{Code: CodeInvalidCSV, Message: err.Error()})
	}
	var w wireRecord
	for i, col := range h.columns {
		v := fields[i]
		switch {
		case strings.HasPrefix(col, AttrPrefix):
			if v != "" {
				if w.Attributes == nil {
					w.Attributes = map[string]string{}
				}
				w.Attributes[col[len(AttrPrefix):]] = v
			}
		case col == "price_cents" || col == "on_hand":
			if v = strings.TrimSpace(v); v == "" {
				break // absent: validation says what is required
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, FieldError{Field: col, Code: CodeInvalidCSV, Message: fmt.Sprintf("%q is not an integer", truncate(v))})
			}
			w.setInt(col, n)
		default:
			w.setString(col, v)
		}
	}
	return w.record(h.kind), errs
}

// CSV parse errors, worded as encoding/csv's.
var (
	errBareQuote = errors.New(`bare " in non-quoted field`)
	errQuote     = errors.New(`extraneous or missing " in quoted field`)
	errOpenQuote = errors.New(`quoted field is not closed`)
)

// parseCSVRecord splits one CSV record (RFC 4180, as encoding/csv reads it
// with LazyQuotes off) into fields, appending to dst. A record may hold line
// breaks inside quoted fields (the line reader has already turned \r\n
// into \n, as encoding/csv does).
// It is written by hand because encoding/csv does not give each record's
// original bytes, which a dead letter must carry.
func parseCSVRecord(b string, dst []string) ([]string, error) {
	for {
		if len(b) > 0 && b[0] == '"' {
			b = b[1:]
			// An unescaped field is a slice of b; only "" needs a copy.
			var field string
			var quoted []byte
			for {
				i := strings.IndexByte(b, '"')
				if i < 0 {
					return dst, errOpenQuote
				}
				if i+1 < len(b) && b[i+1] == '"' {
					quoted = append(append(quoted, b[:i]...), '"')
					b = b[i+2:]
					continue
				}
				if quoted != nil {
					field = string(append(quoted, b[:i]...))
				} else {
					field = b[:i]
				}
				b = b[i+1:]
				break
			}
			dst = append(dst, field)
			if len(b) == 0 {
				return dst, nil
			}
			if b[0] != ',' {
				return dst, errQuote
			}
			b = b[1:]
			continue
		}
		i := strings.IndexByte(b, ',')
		end := i
		if i < 0 {
			end = len(b)
		}
		if strings.IndexByte(b[:end], '"') >= 0 {
			return dst, errBareQuote
		}
		dst = append(dst, b[:end])
		if i < 0 {
			return dst, nil
		}
		b = b[i+1:]
	}
}

// quoteScan tracks whether a CSV record is inside a quoted field at the
// end of a line, so a record can span lines.
type quoteScan struct {
	inQuotes   bool
	fieldStart bool
}

// feed scans one line; it reports whether the record is complete after it.
func (s *quoteScan) feed(b []byte) bool {
	if !s.inQuotes {
		s.fieldStart = true
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case s.inQuotes && c == '"':
			if i+1 < len(b) && b[i+1] == '"' {
				i++
			} else {
				s.inQuotes = false
			}
		case s.inQuotes:
		case c == '"' && s.fieldStart:
			s.inQuotes, s.fieldStart = true, false
		case c == ',':
			s.fieldStart = true
		default:
			s.fieldStart = false
		}
	}
	return !s.inQuotes
}

// csvRecords assembles CSV records from lines. A record whose quoted field
// never closes (by the end of the file or MaxLineBytes) is reported as its
// first line alone, and the lines after it are read again as records, so
// one stray quote cannot swallow the rest of a file.
type csvRecords struct {
	lines   *lineReader
	pending []line // lines read ahead, to read again
}

// rawRecord is one record as read from a file, before decoding.
type rawRecord struct {
	line int
	// data is the record as the reader has it; text, the same in its
	// chunk once dispatched.
	data []byte
	text string
	// size is the full length when data was cut.
	size int
	// err is a framing error found while reading (an unclosed quote).
	err *FieldError
}

func (c *csvRecords) nextLine() (line, error) {
	if n := len(c.pending); n > 0 {
		ln := c.pending[0]
		c.pending = c.pending[1:]
		return ln, nil
	}
	ln, err := c.lines.next()
	if err == nil {
		// The reader reuses its buffer; a record may need several lines.
		ln.data = bytes.Clone(ln.data)
	}
	return ln, err
}

// next returns the next record; empty lines between records are skipped.
func (c *csvRecords) next() (rawRecord, error) {
	var first line
	for {
		ln, err := c.nextLine()
		if err != nil {
			return rawRecord{}, err
		}
		// Only an empty line is no record, as in encoding/csv.
		if len(ln.data) > 0 {
			first = ln
			break
		}
	}
	var s quoteScan
	if first.size > 0 || s.feed(first.data) {
		return rawRecord{line: first.num, data: first.data, size: first.size}, nil
	}
	data := first.data
	var more []line
	for {
		ln, err := c.nextLine()
		if err != nil || ln.size > 0 || len(data)+1+len(ln.data) > MaxLineBytes {
			if err == nil {
				more = append(more, ln)
			}
			// Read everything after the first line again.
			c.pending = append(more, c.pending...)
			return rawRecord{line: first.num, data: first.data, err: &FieldError{Code: CodeInvalidCSV, Message: "a quoted field opened on this line is not closed"}}, nil
		}
		more = append(more, ln)
		data = append(append(data, '\n'), ln.data...)
		if s.feed(ln.data) {
			return rawRecord{line: first.num, data: data}, nil
		}
	}
}
