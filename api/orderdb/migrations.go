package orderdb

import (
	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/internal/sqlstore"
)

// migrations are the schema versions in order, the same logical schema on
// every dialect d, applied through q. Append only: a released migration
// never changes.
func migrations(d *dialect, q sqlstore.Querier) []schema.Migration {
	return []schema.Migration{
		{
			Version: 1,
			Name:    "sellable stock and processed supplier events",
			Apply: sqlstore.Apply(q,
				// version is the supplier-side version last applied; the
				// CHECK makes oversell impossible whatever the caller does.
				`CREATE TABLE IF NOT EXISTS stock (
					`+d.key("item_id", 64)+`,
					on_hand BIGINT NOT NULL,
					version BIGINT NOT NULL,
					updated_at `+d.timestamp+` NOT NULL,
					CONSTRAINT stock_on_hand_not_negative CHECK (on_hand >= 0)
				)`+d.tableOptions,
				// One row per supplier event applied to stock, written in the
				// same transaction, so a redelivered event changes nothing.
				`CREATE TABLE IF NOT EXISTS processed_events (
					`+d.key("event_id", 64)+`,
					processed_at `+d.timestamp+` NOT NULL
				)`+d.tableOptions,
			),
		},
	}
}
