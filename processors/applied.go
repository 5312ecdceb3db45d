package processors

import (
	"crypto/sha1"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/topics"
)

// Position is where a record was read.
type Position struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// In is what a processor's rules know of the input record in hand besides
// its data.
type In struct {
	// ID is the event id, the key of exactly-once application.
	ID string
	// Key is the Kafka record key, which is also the table key.
	Key string
	// At is the event time.
	At  time.Time
	Pos Position
}

// Outcome is what a rule decided to do with one input record.
type Outcome int

// The outcomes, in the order a processor checks for them.
const (
	// Skip: the event was applied before; nothing changes.
	Skip Outcome = iota
	// Reject: dead-letter the record with the reason; nothing changes.
	Reject
	// Store: keep the new state (the event id at least), emit nothing.
	Store
	// Change: keep the new state and emit the output.
	Change
	// Reemit: emit the output again, state untouched (see Again).
	Reemit
	// Refuse: keep the new state (the refusal recorded in it) and
	// dead-letter the record with the reason.
	Refuse
)

// Verdict is a rule's decision on one input record.
type Verdict struct {
	Outcome Outcome
	// Reason says why, for Reject.
	Reason string
	// Out is the output event's data, for Change and Reemit.
	Out any
	// Key is the output's key when it is not the input's: a notification
	// about an order is keyed by its user.
	Key string
	// Type is the output event's type, for an Output that carries several
	// (its Type is then empty).
	Type string
}

// Rejected refuses a record for the reason given.
func Rejected(format string, args ...any) Verdict {
	return Verdict{Outcome: Reject, Reason: fmt.Sprintf(format, args...)}
}

// Invalid refuses a record that failed ingest's validation, naming every
// field at fault.
func Invalid(typ string, errs []ingest.FieldError) Verdict {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.String()
	}
	return Rejected("invalid %s: %s", typ, strings.Join(msgs, "; "))
}

// WrongKey refuses a record whose Kafka key is not the item it describes:
// it sits on another partition than the item's table entry.
func WrongKey(key, itemID string) Verdict {
	return Rejected("record key %q is not the item_id %q: item records are keyed by item_id", key, itemID)
}

// Changed emits out as the change this record made.
func Changed(out any) Verdict { return Verdict{Outcome: Change, Out: out} }

// Stored keeps the new state without emitting anything.
func Stored() Verdict { return Verdict{Outcome: Store} }

// Again is the verdict on a record whose effect is already in the state.
// goka stores a table value before the output emitted with it is
// acknowledged, so after a crash the record whose output went out last
// (emitted) comes back with that output possibly lost: it emits out, the
// key's current output, again under the same id. Any other such record is
// skipped.
func Again(emitted Position, in In, out any) Verdict {
	if in.Pos == emitted {
		return Verdict{Outcome: Reemit, Out: out}
	}
	return Verdict{Outcome: Skip}
}

// MaxApplied is how many event ids per key Applied remembers. A duplicate
// arriving after that many newer events of the same key is applied again.
const MaxApplied = 256

// Applied is a key's record of the events applied to it: the last
// MaxApplied ids, oldest first, and where the last record that emitted an
// output was read.
type Applied struct {
	IDs     []string `json:"ids,omitempty"`
	Emitted Position `json:"emitted"`
}

// AppendJSON appends p's JSON, as encoding/json writes it.
func (p Position) AppendJSON(b []byte) []byte {
	b = append(b, `{"topic":`...)
	b = topics.AppendJSONString(b, p.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(p.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, p.Offset, 10)
	return append(b, '}')
}

// AppendJSON appends a's JSON, as encoding/json writes it. Every table
// value holds one, written on every change of its key.
func (a Applied) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if len(a.IDs) > 0 {
		b = append(b, `"ids":[`...)
		for i, id := range a.IDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = topics.AppendJSONString(b, id)
		}
		b = append(b, "],"...)
	}
	b = append(b, `"emitted":`...)
	return append(a.Emitted.AppendJSON(b), '}')
}

// Has reports whether the event id was applied.
func (a Applied) Has(id string) bool { return slices.Contains(a.IDs, id) }

// Add returns a with in's id added, dropping the oldest beyond MaxApplied,
// and with in as the last emitting record if emitted. a is not modified.
func (a Applied) Add(in In, emitted bool) Applied {
	keep := a.IDs[max(0, len(a.IDs)-MaxApplied+1):]
	// A fresh array, so the caller's state is never written through.
	a.IDs = append(slices.Clip(keep), in.ID)
	if emitted {
		a.Emitted = in.Pos
	}
	return a
}

// OutputID derives the id of the event a group emits for input event
// inputID, so a replayed input re-emits the same id and consumers that
// dedupe by id see it once.
func OutputID(group, inputID string) string {
	// uuid.NewSHA1(uuid.NameSpaceURL, name) hashed on the stack: it runs
	// for every record, and NewSHA1 allocates five times.
	var buf [256]byte
	b := append(append(append(append(buf[:0], uuid.NameSpaceURL[:]...), "shopstream:out/"...), group...), '/')
	sum := sha1.Sum(append(b, inputID...))
	var id uuid.UUID
	copy(id[:], sum[:])
	id[6] = id[6]&0x0f | 0x50 // version 5
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id.String()
}

// DeadLetterID derives a dead letter's id from the rejecting group and the
// record's position, so a record rejected again after a crash makes the
// same dead letter (topics.DeadLetterID, as every consumer uses).
func DeadLetterID(group string, pos Position) string {
	return topics.DeadLetterID(group, pos.Topic, pos.Partition, pos.Offset)
}
