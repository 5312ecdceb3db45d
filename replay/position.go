// Package replay rebuilds a sink or a processor's state from Kafka history
// (DESIGN, flow 8). A replay reads a fixed range of records, [start, end)
// per partition, resolved once from an offset, a time (ListOffsets by
// time) or the log's ends, and feeds one target through the apply path the
// live pipeline uses: the search and analytics sinks' handlers, the
// history store's idempotent Put of orders folded by the order processor's
// rules, or, for a processor, a reset of its group, its local tables and
// its table's changelog so that the restarted processor rebuilds from its
// input.
//
// It reads with direct partition assignment, without a consumer group:
// nothing is committed anywhere, so it cannot move the live groups, and no
// group of its own is left behind. Every target is idempotent (by event
// id, by external versions, by the history store's updated_at rule), so a
// replay over a live store changes nothing that was right, and a failed
// replay is run again from the same start.
package replay

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is what a Position is measured in.
type Kind int

// The kinds of positions.
const (
	// AtStart is the oldest record still in each partition.
	AtStart Kind = iota
	// AtEnd is each partition's end (its last stable offset) when the
	// plan is made: a replay to it terminates however busy the topic is.
	AtEnd
	// AtOffset is the same offset in every partition, clamped to what the
	// partition holds.
	AtOffset
	// AtTime is, in each partition, the first record whose Kafka timestamp
	// is at or after Time (ListOffsets by time).
	AtTime
)

// Position is where a replay starts or ends.
type Position struct {
	Kind   Kind
	Offset int64
	Time   time.Time
}

// Start is the oldest record of every partition.
func Start() Position { return Position{Kind: AtStart} }

// End is every partition's end when the plan is made.
func End() Position { return Position{Kind: AtEnd} }

// Offset is offset n in every partition.
func Offset(n int64) Position { return Position{Kind: AtOffset, Offset: n} }

// Time is the first record at or after t in every partition.
func Time(t time.Time) Position { return Position{Kind: AtTime, Time: t} }

// ParsePosition reads a position as the command takes it: "start", "end",
// a non-negative offset, or an RFC 3339 time.
func ParsePosition(s string) (Position, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "start", "beginning", "earliest":
		return Start(), nil
	case "end", "latest":
		return End(), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return Position{}, fmt.Errorf("replay: offset %d is negative", n)
		}
		return Offset(n), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return Time(t), nil
	}
	return Position{}, fmt.Errorf("replay: position %q is neither start, end, an offset nor an RFC 3339 time (2024-05-06T00:00:00Z)", s)
}

func (p Position) String() string {
	switch p.Kind {
	case AtStart:
		return "start"
	case AtEnd:
		return "end"
	case AtOffset:
		return "offset " + strconv.FormatInt(p.Offset, 10)
	default:
		return p.Time.UTC().Format(time.RFC3339Nano)
	}
}
