package listing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors/inventory"
	"github.com/shopstream/shopstream/processors/listing"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

// BenchmarkFreshness reports how long a supplier stock level takes from
// its produce to supplier.stock until its listing is on the listings topic,
// through the inventory and the listing processors (two hops), one level
// at a time. The target is a p99 of at most one second.
func BenchmarkFreshness(b *testing.B) {
	k := pt.StartKafka(b)
	inv, lst := goka.Group(testkafka.Unique("inventory")), goka.Group(testkafka.Unique("listing"))
	k.StartGroupAtEnd(b, inv, topics.SupplierStock)
	k.StartGroupAtEnd(b, lst, topics.CatalogChanges, topics.InventoryChanges)
	listings := k.Tail(b, topics.Listings)
	rt := k.Runtime()
	pt.Run(b, rt, inventory.Graph(inv, rt))
	pt.Run(b, rt, listing.Graph(lst, rt))

	const samples = 200
	item := testkafka.Unique("item")
	mine := pt.Keys(item)
	cl := k.Client(b, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.ProducerLinger(0))
	sent := 0
	// level sends a level the item did not have, so each is a change.
	level := func() {
		sent++
		ev := pt.Event(b, topics.TypeSupplierStockLevel, item, topics.SupplierStockLevel{SupplierID: "s-1", ItemID: item, WarehouseID: "w-1", OnHand: int64(sent)})
		if err := cl.ProduceSync(context.Background(), pt.Record(b, topics.SupplierStock, ev)).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up: groups joined, tables ready, connections open.
	level()
	listings.Wait(b, sent, time.Minute, mine)

	var lat []time.Duration
	for b.Loop() {
		for range samples {
			start := time.Now()
			level()
			listings.Wait(b, sent, 10*time.Second, mine)
			lat = append(lat, time.Since(start))
		}
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(ms(1), "max-ms")
}
