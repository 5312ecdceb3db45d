package listing_test

import (
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/processors/inventory"
	"github.com/shopstream/shopstream/processors/listing"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

func TestGraphOnTester(t *testing.T) {
	tt := pt.Tester(t, listing.Group, listing.Graph)
	out := tt.NewQueueTracker(topics.Listings)
	dlq := tt.NewQueueTracker(topics.DeadLetterTopic(topics.CatalogChanges))

	inv := pt.Event(t, topics.TypeInventoryItemChanged, "i-1", stock(1, 5), topics.At(t0))
	cat := pt.Event(t, topics.TypeCatalogItemChanged, "i-1", item(1, 100), topics.At(t0.Add(time.Second)))
	tt.Consume(topics.InventoryChanges, "i-1", inv)
	tt.Consume(topics.CatalogChanges, "i-1", cat)
	tt.Consume(topics.CatalogChanges, "i-1", cat) // a replay
	tt.Consume(topics.CatalogChanges, "i-1", []byte("nope"))

	got := pt.Drain(out)
	if len(got) != 2 {
		t.Fatalf("%d listings, want 2: %+v", len(got), got)
	}
	first, second := got[0].Data.(topics.Listing), got[1].Data.(topics.Listing)
	if first.Title != "" || first.OnHand != 5 || second.Title != "TV" || second.OnHand != 5 || second.Version != 2 ||
		got[1].ID != processors.OutputID("listing", cat.ID) || !second.CreatedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("listings %+v then %+v", first, second)
	}
	if dead := pt.Drain(dlq); len(dead) != 1 || dead[0].Data.(topics.DeadLetter).Source != "listing" {
		t.Errorf("dead letters %+v", dead)
	}
	if st := tt.TableValue(listing.Table, "i-1").(listing.State); st.Version != 2 || st.Emitted.Topic != topics.CatalogChanges {
		t.Errorf("table value %+v", st)
	}
}

// supplier.items and supplier.stock -> catalog and inventory -> listing ->
// the listings topic, over the Kafka protocol.
func TestSupplyChain(t *testing.T) {
	k := pt.StartKafka(t)
	catalogGroup, inventoryGroup, listingGroup := goka.Group(testkafka.Unique("catalog")), goka.Group(testkafka.Unique("inventory")), goka.Group(testkafka.Unique("listing"))
	k.StartGroupAtEnd(t, catalogGroup, topics.SupplierItems)
	k.StartGroupAtEnd(t, inventoryGroup, topics.SupplierStock)
	k.StartGroupAtEnd(t, listingGroup, topics.CatalogChanges, topics.InventoryChanges)
	listings := k.Tail(t, topics.Listings)

	tv, shirt := testkafka.Unique("item"), testkafka.Unique("item")
	up := func(id string, price int64) topics.Event {
		return pt.Event(t, topics.TypeSupplierItemUpserted, id, topics.SupplierItemUpserted{
			SupplierID: "s-1", ItemID: id, Title: "TV " + id, Category: "electronics", PriceCents: price, Currency: "USD"})
	}
	lvl := func(id, w string, n int64) topics.Event {
		return pt.Event(t, topics.TypeSupplierStockLevel, id, topics.SupplierStockLevel{SupplierID: "s-1", ItemID: id, WarehouseID: w, OnHand: n})
	}
	items := []topics.Event{up(tv, 100), up(tv, 90)}
	stock := []topics.Event{lvl(tv, "w-1", 5), lvl(tv, "w-2", 2), lvl(shirt, "w-1", 3)}
	// Stock first: a listing may exist before its item.
	var recs []*kgo.Record
	for i, ev := range stock {
		recs = append(recs, pt.Record(t, topics.SupplierStock, ev))
		if i < len(items) {
			recs = append(recs, pt.Record(t, topics.SupplierItems, items[i]))
		}
	}
	k.Produce(t, recs...)
	rt := k.Runtime()
	pt.Run(t, rt, catalog.Graph(catalogGroup, rt))
	pt.Run(t, rt, inventory.Graph(inventoryGroup, rt))
	pt.Run(t, rt, listing.Graph(listingGroup, rt))
	// By key, not by derived id: on a shared Kafka another test's catalog
	// or inventory processor may read these inputs too, and this listing
	// processor applies whichever change of a version comes first. They
	// are deterministic, so the listings are the same.
	mine := pt.Keys(tv, shirt)

	latest := func(evs []topics.Event, key string) (topics.Listing, bool) {
		var l topics.Listing
		var ok bool
		for _, ev := range evs {
			if ev.Key == key {
				l, ok = ev.Data.(topics.Listing), true
			}
		}
		return l, ok
	}
	evs := listings.Until(t, 30*time.Second, mine, func(evs []topics.Event) bool {
		l, _ := latest(evs, tv)
		s, _ := latest(evs, shirt)
		return l.Version == 4 && s.Version == 1
	})
	l, _ := latest(evs, tv)
	if l.Title != "TV "+tv || l.PriceCents != 90 || l.OnHand != 7 || l.CatalogVersion != 2 || l.InventoryVersion != 2 || l.CreatedAt.IsZero() {
		t.Errorf("listing of %s: %+v", tv, l)
	}
	if s, _ := latest(evs, shirt); s.Title != "" || s.OnHand != 3 || s.CatalogVersion != 0 {
		t.Errorf("listing of stock without an item %s: %+v", shirt, s)
	}
	// Each key's listings only grow in version, one by one.
	last := map[string]int64{}
	for _, ev := range listings.Quiet(200*time.Millisecond, mine) {
		v := ev.Data.(topics.Listing).Version
		if v != last[ev.Key]+1 {
			t.Errorf("%s: listing version %d after %d", ev.Key, v, last[ev.Key])
		}
		last[ev.Key] = v
	}
}
