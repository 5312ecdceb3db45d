package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Bounds are what the broker listed for one partition when a plan was
// made.
type Bounds struct {
	// LogStart is the oldest offset the partition still holds.
	LogStart int64
	// End is its last stable offset: the high watermark, short of any
	// transaction still open.
	End int64
	// FromTime and ToTime are the offsets ListOffsets by time gave for a
	// start or an end AtTime (-1 when no record is that late).
	FromTime, ToTime int64
}

// Span is what a replay reads of one partition: the offsets [Start, End).
type Span struct {
	Topic      string
	Partition  int32
	Start, End int64
	// LogStart and LogEnd are the partition's bounds when the plan was
	// made.
	LogStart, LogEnd int64
}

// Offsets is how many offsets the span covers: its record count, or an
// upper bound of it on a compacted topic.
func (s Span) Offsets() int64 { return max(s.End-s.Start, 0) }

// SpanOf resolves from and to against one partition's bounds: each is
// clamped into [LogStart, End], and a start after the end leaves the span
// empty at the start.
func SpanOf(from, to Position, b Bounds) (start, end int64) {
	start, end = offsetOf(from, b, b.FromTime), offsetOf(to, b, b.ToTime)
	return start, max(start, end)
}

func offsetOf(p Position, b Bounds, byTime int64) int64 {
	var o int64
	switch p.Kind {
	case AtStart:
		o = b.LogStart
	case AtEnd:
		o = b.End
	case AtOffset:
		o = p.Offset
	case AtTime:
		o = byTime
		if o < 0 { // no record at or after the time
			o = b.End
		}
	}
	return min(max(o, b.LogStart), b.End)
}

// Plan is a resolved replay: the spans of every partition of its topics.
type Plan struct {
	From, To Position
	// At is when the bounds were listed.
	At    time.Time
	Spans []Span
}

// Offsets is how many offsets the plan reads, all spans together.
func (p Plan) Offsets() int64 {
	var n int64
	for _, s := range p.Spans {
		n += s.Offsets()
	}
	return n
}

// Topics lists the plan's topics in order.
func (p Plan) Topics() []string {
	var ts []string
	for _, s := range p.Spans {
		if len(ts) == 0 || ts[len(ts)-1] != s.Topic {
			ts = append(ts, s.Topic)
		}
	}
	return ts
}

// Write prints the plan as a table: what a dry run says would be read.
func (p Plan) Write(w io.Writer) error {
	fmt.Fprintf(w, "replay of %s from %s to %s (ends as of %s)\n", strings.Join(p.Topics(), ", "), p.From, p.To, p.At.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  topic\tpartition\tstart\tend\trecords\tlog start\tlog end")
	for _, s := range p.Spans {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Topic, s.Partition, s.Start, s.End, s.Offsets(), s.LogStart, s.LogEnd)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "total: %d records in %d partitions (counted in offsets: a compacted topic may hold fewer)\n", p.Offsets(), len(p.Spans))
	return err
}

// Resolve lists the bounds of every partition of topics and resolves from
// and to against them. The ends are the last stable offsets now, so a
// replay to End terminates however busy the topics are; times are
// resolved with ListOffsets by time, on the records' Kafka timestamps
// (when each was produced, not the event's occurred_at).
func Resolve(ctx context.Context, adm *kadm.Client, topics []string, from, to Position) (Plan, error) {
	if len(topics) == 0 {
		return Plan{}, fmt.Errorf("replay: no topics to replay")
	}
	plan := Plan{From: from, To: to, At: time.Now()}
	starts, err := listed(adm.ListStartOffsets(ctx, topics...))
	if err != nil {
		return plan, fmt.Errorf("replay: list start offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	ends, err := listed(adm.ListCommittedOffsets(ctx, topics...))
	if err != nil {
		return plan, fmt.Errorf("replay: list end offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	byTime := func(p Position) (kadm.ListedOffsets, error) {
		if p.Kind != AtTime {
			return nil, nil
		}
		l, err := listed(adm.ListOffsetsAfterMilli(ctx, p.Time.UnixMilli(), topics...))
		if err != nil {
			return nil, fmt.Errorf("replay: list offsets of %s at %s: %w", strings.Join(topics, ", "), p, err)
		}
		return l, nil
	}
	fromTime, err := byTime(from)
	if err != nil {
		return plan, err
	}
	toTime, err := byTime(to)
	if err != nil {
		return plan, err
	}
	for _, topic := range topics {
		parts := ends[topic]
		if len(parts) == 0 {
			return plan, fmt.Errorf("replay: topic %s does not exist", topic)
		}
		for p, end := range parts {
			start, ok := starts.Lookup(topic, p)
			if !ok {
				return plan, fmt.Errorf("replay: no start offset listed for %s/%d", topic, p)
			}
			b := Bounds{LogStart: start.Offset, End: end.Offset, FromTime: -1, ToTime: -1}
			if o, ok := fromTime.Lookup(topic, p); ok {
				b.FromTime = o.Offset
			}
			if o, ok := toTime.Lookup(topic, p); ok {
				b.ToTime = o.Offset
			}
			s := Span{Topic: topic, Partition: p, LogStart: b.LogStart, LogEnd: b.End}
			s.Start, s.End = SpanOf(from, to, b)
			plan.Spans = append(plan.Spans, s)
		}
	}
	slices.SortFunc(plan.Spans, func(a, b Span) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return plan, nil
}

// listed fails on the error of a listing or of any partition in it: a
// missing topic is listed as partition -1 with its error.
func listed(l kadm.ListedOffsets, err error) (kadm.ListedOffsets, error) {
	if err != nil {
		return nil, err
	}
	var errs []string
	l.Each(func(o kadm.ListedOffset) {
		switch {
		case o.Err == nil:
		case o.Partition < 0:
			errs = append(errs, fmt.Sprintf("topic %s: %v", o.Topic, o.Err))
		default:
			errs = append(errs, fmt.Sprintf("%s/%d: %v", o.Topic, o.Partition, o.Err))
		}
	})
	if len(errs) > 0 {
		slices.Sort(errs)
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return l, nil
}
