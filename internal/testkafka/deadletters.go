package testkafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/topics"
)

// DeadLetters reads the dead-letter topic from its start, with a client
// from opts, until it has n dead letters keep accepts (each event id
// once: a redelivered batch dead-letters again under the same id) or 20 s
// have passed, and returns the ones found. keep sees the record's key and
// the dead letter.
func DeadLetters(t testing.TB, opts []kgo.Opt, topic string, n int, keep func(key []byte, d topics.DeadLetter) bool) []topics.DeadLetter {
	t.Helper()
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []topics.DeadLetter
	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			ev, err := topics.Decode(r.Value)
			if err != nil {
				t.Errorf("dead letter at %s/%d/%d does not decode: %v", r.Topic, r.Partition, r.Offset, err)
				return
			}
			if d, ok := ev.Data.(topics.DeadLetter); ok && !seen[ev.ID] && keep(r.Key, d) {
				seen[ev.ID] = true
				out = append(out, d)
			}
		})
	}
	return out
}
