package catalog_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/catalog"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

// unknownType is an envelope of a type this build does not know.
var unknownType = []byte(`{"id":"x-1","type":"supplier.item.deleted","version":1,"occurred_at":"2026-11-23T10:00:00Z","key":"k","data":{}}`)

func upsertEvent(t testing.TB, item, supplier string, price int64) topics.Event {
	up := upsert(supplier, price, nil)
	up.ItemID = item
	return pt.Event(t, topics.TypeSupplierItemUpserted, item, up, topics.At(t0))
}

func TestGraphOnTester(t *testing.T) {
	tt := pt.Tester(t, catalog.Group, catalog.Graph)
	changes := tt.NewQueueTracker(topics.CatalogChanges)
	dlq := tt.NewQueueTracker(topics.DeadLetterTopic(topics.SupplierItems))

	up := upsertEvent(t, "i-1", "s-1", 100)
	stock := pt.Event(t, topics.TypeSupplierStockLevel, "i-1", topics.SupplierStockLevel{SupplierID: "s-1", ItemID: "i-1", WarehouseID: "w", OnHand: 1})
	tt.Consume(topics.SupplierItems, "i-1", up)
	tt.Consume(topics.SupplierItems, "i-1", up) // a producer's retry
	tt.Consume(topics.SupplierItems, "i-1", []byte("\x00garbage"))
	tt.Consume(topics.SupplierItems, "i-1", nil)
	tt.Consume(topics.SupplierItems, "i-1", unknownType)
	tt.Consume(topics.SupplierItems, "i-1", stock)
	tt.Consume(topics.SupplierItems, "i-1", upsertEvent(t, "i-1", "s-2", 90))

	out := pt.Drain(changes)
	if len(out) != 1 {
		t.Fatalf("emitted %d changes, want 1: %+v", len(out), out)
	}
	if ev := out[0]; ev.ID != processors.OutputID("catalog", up.ID) || !ev.OccurredAt.Equal(t0) || ev.Key != "i-1" ||
		ev.Data.(topics.CatalogItemChanged).Version != 1 {
		t.Errorf("change %+v: want version 1 with the derived id at the upsert's event time", ev)
	}
	dead := pt.Drain(dlq)
	wantReasons := []string{"malformed event", "empty record", "unknown event type", `event type "supplier.stock.level" does not belong on supplier.items`, "item i-1 belongs to supplier s-1"}
	if len(dead) != len(wantReasons) {
		t.Fatalf("%d dead letters, want %d: %+v", len(dead), len(wantReasons), dead)
	}
	for i, ev := range dead {
		dl := ev.Data.(topics.DeadLetter)
		if !strings.Contains(dl.Reason, wantReasons[i]) || dl.Source != "catalog" || dl.Topic != topics.SupplierItems || dl.Offset != int64(i+2) {
			t.Errorf("dead letter %d: %+v, want reason %q at offset %d", i, dl, wantReasons[i], i+2)
		}
	}
	item := tt.TableValue(catalog.Table, "i-1").(catalog.Item)
	if item.Version != 1 || item.SupplierID != "s-1" || !item.Applied.Has(up.ID) || len(item.Applied.IDs) != 1 {
		t.Errorf("table value %+v", item)
	}
}

// Over the Kafka protocol: bad records beside good ones land in the
// dead-letter topic with their reason and bytes, and every good one is
// applied.
func TestDeadLettersBesideValidRecords(t *testing.T) {
	k := pt.StartKafka(t)
	group := goka.Group(testkafka.Unique("catalog"))
	k.StartGroupAtEnd(t, group, topics.SupplierItems)
	changes := k.Tail(t, topics.CatalogChanges)
	dlq := k.Tail(t, topics.DeadLetterTopic(topics.SupplierItems))

	var ids []string
	var recs []*kgo.Record
	bad := map[string]string{} // key -> reason
	for i := range 3 {
		item := testkafka.Unique("item")
		up := upsertEvent(t, item, "s-1", int64(100+i))
		ids = append(ids, up.ID)
		recs = append(recs, pt.Record(t, topics.SupplierItems, up))
		badKey := testkafka.Unique("bad")
		switch i {
		case 0:
			recs = append(recs, &kgo.Record{Topic: topics.SupplierItems, Key: []byte(badKey), Value: []byte("{not json")})
			bad[badKey] = "malformed event"
		case 1:
			recs = append(recs, &kgo.Record{Topic: topics.SupplierItems, Key: []byte(badKey), Value: unknownType})
			bad[badKey] = `unknown event type "supplier.item.deleted"`
		case 2:
			recs = append(recs, pt.Record(t, topics.SupplierItems, upsertEvent(t, badKey, "s-1", -5)))
			bad[badKey] = "invalid supplier.item.upserted: price_cents: -5"
		}
	}
	k.Produce(t, recs...)
	rt := k.Runtime()
	pt.Run(t, rt, catalog.Graph(group, rt))

	got := changes.Wait(t, len(ids), 30*time.Second, pt.Outputs(group, ids...))
	for _, ev := range got {
		if c := ev.Data.(topics.CatalogItemChanged); c.Version != 1 || c.ItemID != ev.Key {
			t.Errorf("change %+v", c)
		}
	}
	fromGroup := func(ev topics.Event) bool { return ev.Data.(topics.DeadLetter).Source == string(group) }
	for _, ev := range dlq.Wait(t, len(bad), 30*time.Second, fromGroup) {
		dl := ev.Data.(topics.DeadLetter)
		orig := findRecord(recs, ev.Key)
		if !strings.Contains(dl.Reason, bad[ev.Key]) || dl.Topic != topics.SupplierItems || orig == nil || !bytes.Equal(dl.Original, orig.Value) {
			t.Errorf("dead letter %s: %+v, want reason %q and the original bytes", ev.Key, dl, bad[ev.Key])
		}
		if ev.ID != processors.DeadLetterID(string(group), processors.Position{Topic: dl.Topic, Partition: dl.Partition, Offset: dl.Offset}) {
			t.Errorf("dead letter id %s is not derived from its position", ev.ID)
		}
	}
	if extra := changes.Quiet(200*time.Millisecond, pt.Outputs(group, ids...)); len(extra) != len(ids) {
		t.Errorf("%d changes, want %d", len(extra), len(ids))
	}
}

func findRecord(recs []*kgo.Record, key string) *kgo.Record {
	for _, r := range recs {
		if string(r.Key) == key {
			return r
		}
	}
	return nil
}
