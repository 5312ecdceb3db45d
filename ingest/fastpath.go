package ingest

import (
	"strconv"
	"strings"
)

// decodeFast parses the usual shape of a record by hand: one JSON object
// whose keys are exact field names, each at most once, with string or
// integer values, an attributes object of strings, and no \u escapes. It
// returns false for anything else (null, other types, case-folded or
// repeated keys, malformed JSON...), and decodeJSON then takes the
// encoding/json path, which gives the same record (FuzzFastPathMatches
// holds the two equal). It exists because file ingest spends most of its
// time decoding; this is several times faster. raw must be valid UTF-8.
func decodeFast(raw string, w *wireRecord) bool {
	// Unescaped values are slices of raw (which is itself a slice of a whole
	// chunk of the file): no allocation per field.
	s := jsonScan{b: raw}
	s.space()
	ok := s.members(func(key string) bool {
		if bit, known := fieldBit[key]; !known || w.set&bit != 0 {
			return false
		}
		switch key {
		case "price_cents", "on_hand":
			n, ok := s.int()
			return ok && w.setInt(key, n)
		case "attributes":
			w.Attributes, w.set = map[string]string{}, w.set|fAttributes
			return s.members(func(k string) bool {
				v, ok := s.str()
				// A repeated key: the last one wins, as in encoding/json.
				w.Attributes[k] = v
				return ok
			})
		}
		v, ok := s.str()
		return ok && w.setString(key, v)
	})
	return ok && s.end()
}

// members reads a JSON object, calling value with the scanner at each
// member's value.
func (s *jsonScan) members(value func(key string) bool) bool {
	if !s.byte('{') {
		return false
	}
	s.space()
	if s.byte('}') {
		return true
	}
	for {
		key, ok := s.str()
		if !ok {
			return false
		}
		s.space()
		if !s.byte(':') {
			return false
		}
		s.space()
		if !value(key) {
			return false
		}
		s.space()
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
		s.space()
	}
}

type jsonScan struct {
	b string
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScan) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space follows.
func (s *jsonScan) end() bool {
	s.space()
	return s.i == len(s.b)
}

// str reads a string with at most the one-character escapes.
func (s *jsonScan) str() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, true
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return "", false
		}
		s.i++
	}
	return "", false
}

func (s *jsonScan) escaped(start int) (string, bool) {
	var b strings.Builder
	b.WriteString(s.b[start:s.i])
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return b.String(), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b.WriteByte(c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return "", false
		}
		switch e := s.b[s.i+1]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		default:
			return "", false // \u and anything else: encoding/json's job
		}
		s.i += 2
	}
	return "", false
}

// int reads an integer literal: -?(0|[1-9][0-9]*) within int64.
func (s *jsonScan) int() (int64, bool) {
	start := s.i
	s.byte('-')
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - digits
	if n == 0 || (n > 1 && s.b[digits] == '0') {
		return 0, false
	}
	if s.i < len(s.b) {
		if c := s.b[s.i]; c == '.' || c == 'e' || c == 'E' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s.b[start:s.i], 10, 64)
	return v, err == nil
}
