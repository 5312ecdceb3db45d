package processors_test

import (
	"fmt"
	"testing"

	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/processors/inventory"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/topics"
)

// BenchmarkVsRaw reports each processor's rate against a raw franz-go
// consumer reading and decoding the same records, in the same run: catalog
// upserts and inventory stock levels of distinct items, each one a change.
// Against the embedded broker by default; set SHOPSTREAM_TEST_KAFKA for a
// real Kafka.
func BenchmarkVsRaw(b *testing.B) {
	b.Run("catalog", func(b *testing.B) {
		pt.BenchVsRaw[topics.SupplierItemUpserted](b, catalog.Graph, topics.SupplierItems, topics.CatalogChanges,
			func(prefix string, i int) topics.Event {
				item := fmt.Sprintf("%s-%d", prefix, i)
				return pt.Event(b, topics.TypeSupplierItemUpserted, item, topics.SupplierItemUpserted{SupplierID: "s-1", ItemID: item,
					Title: "Item " + item, Category: "electronics", Brand: "Acme", PriceCents: int64(100 + i), Currency: "USD",
					Attributes: map[string]string{"colour": "black"}})
			})
	})
	b.Run("inventory", func(b *testing.B) {
		pt.BenchVsRaw[topics.SupplierStockLevel](b, inventory.Graph, topics.SupplierStock, topics.InventoryChanges,
			func(prefix string, i int) topics.Event {
				item := fmt.Sprintf("%s-%d", prefix, i)
				return pt.Event(b, topics.TypeSupplierStockLevel, item, topics.SupplierStockLevel{SupplierID: "s-1", ItemID: item, WarehouseID: "w-1", OnHand: int64(1 + i%100)})
			})
	})
}
