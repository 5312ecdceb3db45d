package eventlog_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/topics"
)

// The lag gauge shows, per group and partition, how far the committed
// offset is behind the partition's end.
func TestMonitorLagReportsCommittedLag(t *testing.T) {
	ctx := context.Background()
	brokers, p, m := setup(t)
	item := testkafka.Unique("lag")
	var evs []topics.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, stockEvent(t, item, int64(i)))
	}
	if err := p.Publish(ctx, topics.SupplierStock, evs...); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topics.SupplierStock)
	if err != nil {
		t.Fatal(err)
	}
	// All keys are one item, so one partition holds the ten records.
	var part int32 = -1
	var end int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset >= 10 && part < 0 {
			part, end = o.Partition, o.Offset
		}
	})
	if part < 0 {
		t.Fatal("no partition holds the records")
	}
	group := testkafka.Unique("lagging")
	offsets := kadm.Offsets{}
	offsets.AddOffset(topics.SupplierStock, part, end-7, -1)
	if _, err := adm.CommitOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go eventlog.MonitorLag(mctx, adm, m.ConsumerLag, 50*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	labels := map[string]string{"group": group, "topic": topics.SupplierStock, "partition": strconv.Itoa(int(part))}
	eventually(t, "lag of 7", func() bool { return metricValue(t, m, "shopstream_consumer_lag", labels) == 7 })
}
