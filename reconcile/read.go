package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/topics"
)

// Reader reads topics straight from their partitions, no consumer group
// (eventlog.ReadSpans): each Read goes on from where the last one stopped
// to the topics' end offsets at the time of the call, so a reconcile that
// compares again reads only what arrived since. It reads committed records
// only.
type Reader struct {
	kopts []kgo.Opt
	names []string
	adm   *kadm.Client
	// next is, per topic and partition, the offset after the last one
	// read; a partition starts at its log start.
	next    map[string]map[int32]int64
	trimmed []string
}

// NewReader reads names through clients built from kopts
// (eventlog.ClientOpts). Close it after use.
func NewReader(kopts []kgo.Opt, names ...string) (*Reader, error) {
	adm, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("reconcile: kafka client: %w", err)
	}
	return &Reader{kopts: kopts, names: names, adm: kadm.NewClient(adm), next: map[string]map[int32]int64{}}, nil
}

// Close closes the admin client.
func (r *Reader) Close() { r.adm.Close() }

// Trimmed lists the topics whose log did not start at offset 0 on some
// partition at the first Read: retention had deleted their oldest records.
func (r *Reader) Trimmed() []string { return r.trimmed }

// Read hands fn every event from where the last Read stopped to the end
// offsets at the call (the last stable offsets, so an open transaction is
// not waited for), in offset order per partition. Records that do not
// decode are passed over: they are not events, and their consumers
// dead-letter them. After an error the Reader is spent.
func (r *Reader) Read(ctx context.Context, fn func(topic string, ev topics.Event)) error {
	ends, err := r.adm.ListCommittedOffsets(ctx, r.names...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("reconcile: end offsets of %v: %w", r.names, err)
	}
	if err := r.start(ctx, ends); err != nil {
		return err
	}
	var spans []eventlog.Span
	ends.Each(func(o kadm.ListedOffset) {
		spans = append(spans, eventlog.Span{Topic: o.Topic, Partition: o.Partition, Start: r.next[o.Topic][o.Partition], End: o.Offset})
	})
	fail := func(topic string, p int32, err error) error {
		return fmt.Errorf("reconcile: read %s partition %d: %w", topic, p, err)
	}
	err = eventlog.ReadSpans(ctx, r.kopts, spans, 10_000, fail, func(poll eventlog.SpanPoll) error {
		for _, rec := range poll.Records {
			if ev, err := topics.Decode(rec.Value); err == nil {
				fn(rec.Topic, ev)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range spans {
		r.next[s.Topic][s.Partition] = max(s.Start, s.End)
	}
	return nil
}

// start notes the log start of the partitions of ends not read yet as
// where they start, and at the first Read the topics where that is past
// offset 0.
func (r *Reader) start(ctx context.Context, ends kadm.ListedOffsets) error {
	var unread []kadm.ListedOffset
	ends.Each(func(o kadm.ListedOffset) {
		if _, ok := r.next[o.Topic][o.Partition]; !ok {
			unread = append(unread, o)
		}
	})
	if len(unread) == 0 {
		return nil
	}
	starts, err := r.adm.ListStartOffsets(ctx, r.names...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("reconcile: start offsets of %v: %w", r.names, err)
	}
	first := len(r.next) == 0
	for _, o := range unread {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		if r.next[o.Topic] == nil {
			r.next[o.Topic] = map[int32]int64{}
		}
		r.next[o.Topic][o.Partition] = s.Offset
		if s.Offset > 0 && first && !slices.Contains(r.trimmed, o.Topic) {
			r.trimmed = append(r.trimmed, o.Topic)
		}
	}
	return nil
}
