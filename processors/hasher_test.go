package processors_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/processors"
)

// gokaPartition is how goka maps a key to a partition with a hasher:
// abs(int32(sum)) % n (see goka's View.hash and sarama's hash partitioner).
func gokaPartition(key string, n int32) int32 {
	h := processors.KafkaHasher()
	h.Write([]byte(key))
	p := int32(h.Sum32())
	if p < 0 {
		p = -p
	}
	return p % n
}

// Keys must land where franz-go's default (Kafka's) partitioner puts them,
// for every partition count the catalog may use.
func TestKafkaHasherMatchesKafkaPartitioner(t *testing.T) {
	kafka := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for _, n := range []int32{1, 3, 6, 12, 50} {
		for i := 0; i < 20000; i++ {
			key := fmt.Sprintf("item-%d-%x", i, i*7919)
			want := int32(kafka.Partition(&kgo.Record{Key: []byte(key)}, int(n)))
			if got := gokaPartition(key, n); got != want {
				t.Fatalf("key %q with %d partitions: goka %d, kafka %d", key, n, got, want)
			}
		}
	}
}

// Known values from Kafka's own UtilsTest.testMurmur2, masked to positive.
func TestMurmur2KnownValues(t *testing.T) {
	for key, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		h := processors.KafkaHasher()
		h.Write([]byte(key))
		if got := h.Sum32(); got != uint32(want)&0x7fffffff {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, uint32(want)&0x7fffffff)
		}
	}
}
