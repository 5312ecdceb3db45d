package processors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

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

// JSONAppender is a table value or an event's data that writes its own
// JSON, as encoding/json writes it, without reflection: the processors
// encode one of each per record.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// JSON is the goka codec of a table whose values are T, stored as JSON,
// written by T's AppendJSON if it has one. Decode returns a T, not a *T.
type JSON[T any] struct{}

// Encode implements goka.Codec for a T or a *T.
func (JSON[T]) Encode(v any) ([]byte, error) {
	switch v := v.(type) {
	case T:
		return encodeJSON(v)
	case *T:
		return encodeJSON(*v)
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

func encodeJSON(v any) ([]byte, error) {
	a, ok := v.(JSONAppender)
	if !ok {
		return json.Marshal(v)
	}
	buf := scratch.Get().(*[]byte)
	defer scratch.Put(buf)
	b, err := a.AppendJSON((*buf)[:0])
	*buf = b
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// scratch holds buffers to write JSON into before it is copied out at its
// size: values are written for every record, and a guessed capacity
// wasted more memory than they take.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// eventCodec is topics.Codec whose Encode writes data that is a
// JSONAppender (topics' hottest event types are) by hand.
type eventCodec struct{}

// Encode implements goka.Codec.
func (eventCodec) Encode(v any) ([]byte, error) {
	e, ok := v.(topics.Event)
	if !ok {
		return topics.Codec{}.Encode(v)
	}
	a, ok := e.Data.(JSONAppender)
	if !ok {
		return topics.Encode(e)
	}
	data, env := scratch.Get().(*[]byte), scratch.Get().(*[]byte)
	defer scratch.Put(data)
	defer scratch.Put(env)
	var err error
	if *data, err = a.AppendJSON((*data)[:0]); err != nil {
		return nil, fmt.Errorf("processors: encode %s data: %w", e.Type, err)
	}
	if *env, err = topics.AppendEnvelope((*env)[:0], e, *data); err != nil {
		return nil, err
	}
	return bytes.Clone(*env), nil
}

// Decode implements goka.Codec.
func (eventCodec) Decode(b []byte) (any, error) { return topics.Decode(b) }
