package processors

import (
	"encoding/json"
	"fmt"

	"github.com/shopstream/shopstream/topics"
)

// Decoded is what the Lenient codec makes of an input record: the event,
// or why its bytes are not one, and the bytes as read.
type Decoded struct {
	Event topics.Event
	// Err is the *topics.DecodeError of bytes that are not a usable event.
	Err error
	// Raw is the record value, kept for a dead letter.
	Raw []byte
}

// Lenient is the goka codec of every processor input. Its Decode never
// fails: goka stops the whole processor on a decode error, so a bad record
// must reach the callback, which dead-letters it, instead.
type Lenient struct{}

// Decode implements goka.Codec; the error is always nil.
func (Lenient) Decode(b []byte) (any, error) {
	ev, err := topics.Decode(b)
	return Decoded{Event: ev, Err: err, Raw: b}, nil
}

// Encode writes a topics.Event as its envelope and []byte as is, so a test
// can feed a processor any bytes.
func (Lenient) Encode(v any) ([]byte, error) {
	switch v := v.(type) {
	case topics.Event:
		return topics.Encode(v)
	case []byte:
		return v, nil
	}
	return nil, fmt.Errorf("processors: lenient codec encodes topics.Event or []byte, got %T", v)
}

// JSON is the goka codec of a table whose values are T, stored as JSON.
// Decode returns a T, not a *T.
type JSON[T any] struct{}

// Encode implements goka.Codec for a T or a *T.
func (JSON[T]) Encode(v any) ([]byte, error) {
	switch v := v.(type) {
	case T:
		return json.Marshal(v)
	case *T:
		return json.Marshal(v)
	}
	var want T
	return nil, fmt.Errorf("processors: table codec for %T cannot encode %T", want, v)
}

// Decode implements goka.Codec.
func (JSON[T]) Decode(b []byte) (any, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("processors: decode %T table value: %w", v, err)
	}
	return v, nil
}
