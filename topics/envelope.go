package topics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Envelope is the wire form of every record on a catalog topic.
type Envelope struct {
	// ID is unique per event (a UUIDv7, so ids sort by creation time).
	// Every consumer dedupes on it.
	ID   string `json:"id"`
	Type string `json:"type"`
	// Version is the schema version of Data for Type.
	Version int `json:"version"`
	// OccurredAt is the event time, used by analytics and replay; it is not
	// the time the record was written.
	OccurredAt time.Time `json:"occurred_at"`
	// Key is the partition key, also the Kafka record key.
	Key  string          `json:"key"`
	Data json.RawMessage `json:"data"`
}

// Event is a decoded envelope whose Data is the registered Go value for its
// type (for example a SupplierItemUpserted, not a pointer to one).
type Event struct {
	ID         string
	Type       string
	Version    int
	OccurredAt time.Time
	Key        string
	Data       any
}

// Option adjusts an event built by New.
type Option func(*Event)

// At sets the event time; the default is now.
func At(t time.Time) Option { return func(e *Event) { e.OccurredAt = t.UTC() } }

// WithID sets the event id, for events whose id must be derived from
// something already unique (an outbox row, a supplier's own event id).
func WithID(id string) Option { return func(e *Event) { e.ID = id } }

// New builds an event of a registered type at its current schema version
// with a fresh id. It fails if typ is unknown or data is not typ's Go type.
func New(typ, key string, data any, opts ...Option) (Event, error) {
	info, ok := registry[typ]
	if !ok {
		return Event{}, &DecodeError{Kind: ErrUnknownType, Type: typ}
	}
	if err := info.check(data); err != nil {
		return Event{}, fmt.Errorf("topics: new %s event: %w", typ, err)
	}
	e := Event{ID: NewID(), Type: typ, Version: info.version, OccurredAt: time.Now().UTC(), Key: key, Data: data}
	for _, o := range opts {
		o(&e)
	}
	return e, nil
}

// DeadLetterID derives a dead letter's id from the rejecting consumer and
// the record's position, so a record rejected again after a crash or a
// redelivery makes the same dead letter, which consumers dedupe.
func DeadLetterID(source, topic string, partition int32, offset int64) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "shopstream:dlq/%s/%s/%d/%d", source, topic, partition, offset)).String()
}

// NewID returns a fresh, time-ordered event id.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// The sentinel kinds a DecodeError wraps; test them with errors.Is.
var (
	ErrMalformed    = errors.New("malformed event")
	ErrUnknownType  = errors.New("unknown event type")
	ErrNewerVersion = errors.New("event schema version newer than this build understands")
)

// DecodeError says why bytes are not a usable event. It matches one of
// ErrMalformed, ErrUnknownType or ErrNewerVersion under errors.Is.
type DecodeError struct {
	Kind    error
	Type    string
	Version int
	Err     error
}

func (e *DecodeError) Error() string {
	msg := "topics: " + e.Kind.Error()
	if e.Type != "" {
		msg += " " + strconv.Quote(e.Type)
	}
	if e.Version != 0 {
		msg += " version " + strconv.Itoa(e.Version)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes both the kind and the cause.
func (e *DecodeError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Encode returns the JSON envelope of e.
func Encode(e Event) ([]byte, error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("topics: encode %s data: %w", e.Type, err)
	}
	return AppendEnvelope(make([]byte, 0, len(data)+160), e, data)
}

// AppendEnvelope appends the envelope of e around already-encoded data. It
// writes the envelope by hand because it sits on every produce.
func AppendEnvelope(b []byte, e Event, data []byte) ([]byte, error) {
	if e.ID == "" || e.Type == "" || e.Version < 1 {
		return nil, fmt.Errorf("topics: encode: event needs an id, a type and a version >= 1 (got %q, %q, %d)", e.ID, e.Type, e.Version)
	}
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = append(b, `,"occurred_at":"`...)
	b = e.OccurredAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","key":`...)
	b = appendString(b, e.Key)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}'), nil
}

// appendString appends s as a JSON string, falling back to encoding/json
// for anything that needs escaping.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// DecodeEnvelope parses and checks the envelope without decoding its data.
func DecodeEnvelope(b []byte) (Envelope, error) {
	if env, ok := decodeCanonical(b); ok {
		return env, env.check()
	}
	var env Envelope
	if len(bytes.TrimSpace(b)) == 0 {
		return env, &DecodeError{Kind: ErrMalformed, Err: errors.New("empty record")}
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return env, &DecodeError{Kind: ErrMalformed, Err: err}
	}
	return env, env.check()
}

// check refuses an envelope that lacks a field every consumer relies on.
func (env Envelope) check() error {
	switch {
	case env.ID == "":
		return &DecodeError{Kind: ErrMalformed, Type: env.Type, Err: errors.New("missing id")}
	case env.Type == "":
		return &DecodeError{Kind: ErrMalformed, Err: errors.New("missing type")}
	case env.Version < 1:
		return &DecodeError{Kind: ErrMalformed, Type: env.Type, Err: fmt.Errorf("version %d is not >= 1", env.Version)}
	case env.OccurredAt.IsZero():
		return &DecodeError{Kind: ErrMalformed, Type: env.Type, Err: errors.New("missing occurred_at")}
	case len(env.Data) == 0 || env.Data[0] != '{':
		return &DecodeError{Kind: ErrMalformed, Type: env.Type, Err: errors.New("data is not a JSON object")}
	}
	return nil
}

// Decode parses an envelope and its data into the registered Go type.
func Decode(b []byte) (Event, error) {
	// A record in the layout Encode writes skips DecodeEnvelope's check of
	// data: decodeData reads it by hand or with json.Unmarshal, which checks
	// it anyway. On any failure the general path decides, so that errors
	// stay what they were.
	if env, ok := canonicalEnvelope(b); ok && env.check() == nil {
		if ev, err := decodeData(env, parsers[env.Type]); err == nil {
			return ev, nil
		}
	}
	return decodeGeneral(b)
}

// decodeGeneral is Decode with encoding/json reading all data.
func decodeGeneral(b []byte) (Event, error) {
	env, err := DecodeEnvelope(b)
	if err != nil {
		return Event{}, err
	}
	return decodeData(env, nil)
}

// decodeData reads the data of a checked envelope with parse, if given and
// it reads it as the registered Go type, else with json.Unmarshal.
func decodeData(env Envelope, parse func([]byte) (any, bool)) (Event, error) {
	info, ok := registry[env.Type]
	if !ok {
		return Event{}, &DecodeError{Kind: ErrUnknownType, Type: env.Type, Version: env.Version}
	}
	if env.Version > info.version {
		return Event{}, &DecodeError{Kind: ErrNewerVersion, Type: env.Type, Version: env.Version,
			Err: fmt.Errorf("this build reads up to version %d", info.version)}
	}
	data, parsed := any(nil), false
	if parse != nil {
		data, parsed = parse(env.Data)
	}
	if !parsed || info.check(data) != nil {
		var err error
		if data, err = info.decode(env.Data); err != nil {
			return Event{}, &DecodeError{Kind: ErrMalformed, Type: env.Type, Version: env.Version, Err: err}
		}
	}
	return Event{ID: env.ID, Type: env.Type, Version: env.Version, OccurredAt: env.OccurredAt.UTC(), Key: env.Key, Data: data}, nil
}

// DataAs returns e's data as T, or an error naming both types.
func DataAs[T any](e Event) (T, error) {
	v, ok := e.Data.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("topics: %s event carries %T, not %T", e.Type, e.Data, zero)
	}
	return v, nil
}

// Codec is the goka codec for envelopes: it encodes an Event and decodes to
// an Event, returning the typed DecodeError on bad bytes.
type Codec struct{}

// Encode implements goka.Codec.
func (Codec) Encode(v any) ([]byte, error) {
	e, ok := v.(Event)
	if !ok {
		return nil, fmt.Errorf("topics: codec encodes topics.Event, got %T", v)
	}
	return Encode(e)
}

// Decode implements goka.Codec.
func (Codec) Decode(b []byte) (any, error) { return Decode(b) }
