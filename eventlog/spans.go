package eventlog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Span is the offsets [Start, End) of one partition.
type Span struct {
	Topic      string
	Partition  int32
	Start, End int64
}

// SpanPoll is one poll of ReadSpans.
type SpanPoll struct {
	// Records are the data records of the poll within the spans, in
	// offset order per partition.
	Records []*kgo.Record
	// Passed counts the offsets the poll moved the spans over: the
	// records', transaction markers', and those compaction left empty.
	Passed int64
}

// ReadSpans reads the spans with a client built from kopts (ClientOpts),
// assigned the partitions directly (no group, no commits), committed
// records only, up to maxRecords a poll, and hands each poll to fn until
// every span is read to its end; an error from fn stops it. A fetch error
// goes to onError: nil goes on (franz-go retries the fetch), an error
// stops the read with it.
func ReadSpans(ctx context.Context, kopts []kgo.Opt, spans []Span, maxRecords int,
	onError func(topic string, partition int32, err error) error, fn func(SpanPoll) error) error {
	type cursor struct{ next, end int64 }
	cursors := map[string]map[int32]*cursor{}
	assign := map[string]map[int32]kgo.Offset{}
	left := 0
	for _, s := range spans {
		if s.End <= s.Start {
			continue
		}
		if cursors[s.Topic] == nil {
			cursors[s.Topic], assign[s.Topic] = map[int32]*cursor{}, map[int32]kgo.Offset{}
		}
		cursors[s.Topic][s.Partition] = &cursor{next: s.Start, end: s.End}
		assign[s.Topic][s.Partition] = kgo.NewOffset().At(s.Start)
		left++
	}
	if left == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(slices.Clip(kopts),
		kgo.ConsumePartitions(assign),
		// A start that retention has since deleted reads from the oldest
		// record left.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers take offsets too: seeing them is how a span
		// that ends on one is known to be done.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("eventlog: kafka client: %w", err)
	}
	defer cl.Close()
	for left > 0 {
		fetches := cl.PollRecords(ctx, maxRecords)
		if err := ctx.Err(); err != nil {
			return err
		}
		if fetches.IsClientClosed() {
			return errors.New("eventlog: kafka client closed")
		}
		for _, fe := range fetches.Errors() {
			if err := onError(fe.Topic, fe.Partition, fe.Err); err != nil {
				return err
			}
		}
		var poll SpanPoll
		done := map[string][]int32{}
		fetches.EachRecord(func(r *kgo.Record) {
			cur := cursors[r.Topic][r.Partition]
			if cur == nil || cur.next >= cur.end || r.Offset < cur.next {
				return
			}
			if r.Offset >= cur.end { // the span's last offsets are gone (compaction)
				poll.Passed += cur.end - cur.next
				cur.next = cur.end
			} else {
				poll.Passed += r.Offset + 1 - cur.next
				cur.next = r.Offset + 1
				if !r.Attrs.IsControl() {
					poll.Records = append(poll.Records, r)
				}
			}
			if cur.next >= cur.end {
				done[r.Topic] = append(done[r.Topic], r.Partition)
				left--
			}
		})
		if len(done) > 0 {
			cl.RemoveConsumePartitions(done)
		}
		if err := fn(poll); err != nil {
			return err
		}
	}
	return nil
}
