package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/topics"
)

// Reader reads topics straight from their partitions, no consumer group:
// each Read goes on from where the last one stopped to the topics' end
// offsets at the time of the call, so a reconcile that compares again
// reads only what arrived since. It reads committed records only.
type Reader struct {
	kopts []kgo.Opt
	names []string
	adm   *kadm.Client
	// cl consumes; made by the first Read, at the log starts it lists.
	cl *kgo.Client
	// next is, per topic and partition, the offset after the last record
	// read.
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

// Close closes the clients.
func (r *Reader) Close() {
	if r.cl != nil {
		r.cl.Close()
	}
	r.adm.Close()
}

// Trimmed lists the topics whose log did not start at offset 0 on some
// partition at the first Read: retention had deleted their oldest records.
func (r *Reader) Trimmed() []string { return r.trimmed }

// Read hands fn every event from where the last Read stopped to the end
// offsets at the call (the last stable offsets, so an open transaction is
// not waited for), in offset order per partition. Records that do not
// decode are passed over: they are not events, and their consumers
// dead-letter them.
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
	left := func() bool {
		n := 0
		ends.Each(func(o kadm.ListedOffset) {
			if r.next[o.Topic][o.Partition] < o.Offset {
				n++
			}
		})
		return n > 0
	}
	for left() {
		fs := r.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, fe := range fs.Errors() {
			return fmt.Errorf("reconcile: read %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			r.next[rec.Topic][rec.Partition] = rec.Offset + 1
			// Control records (transaction markers) are kept so that the
			// last offset before the end is always seen.
			if rec.Attrs.IsControl() {
				return
			}
			if ev, err := topics.Decode(rec.Value); err == nil {
				fn(rec.Topic, ev)
			}
		})
	}
	return nil
}

// start begins consuming, at their log start, the partitions of ends not
// read yet, noting at the first Read the topics where that is past
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
	add := map[string]map[int32]kgo.Offset{}
	for _, o := range unread {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		if r.next[o.Topic] == nil {
			r.next[o.Topic] = map[int32]int64{}
		}
		if add[o.Topic] == nil {
			add[o.Topic] = map[int32]kgo.Offset{}
		}
		r.next[o.Topic][o.Partition] = s.Offset
		add[o.Topic][o.Partition] = kgo.NewOffset().At(s.Offset)
		if s.Offset > 0 && r.cl == nil && !slices.Contains(r.trimmed, o.Topic) {
			r.trimmed = append(r.trimmed, o.Topic)
		}
	}
	if r.cl != nil {
		r.cl.AddConsumePartitions(add)
		return nil
	}
	opts := append(slices.Clone(r.kopts), kgo.ConsumePartitions(add),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if r.cl, err = kgo.NewClient(opts...); err != nil {
		return fmt.Errorf("reconcile: kafka client: %w", err)
	}
	return nil
}
