package topics

import (
	"bytes"
	"encoding/json"
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
	if !ok || len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return env, false
	}
	env.Data = data
	return env, true
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
