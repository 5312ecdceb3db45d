package orderdb

import (
	"context"

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
		{
			Version: 2,
			Name:    "committed stock, orders with lines and timelines, idempotency keys, outbox",
			Apply:   orderTables(d, q),
		},
		{
			Version: 3,
			Name:    "indexes for pruning processed events and idempotency keys by age",
			Apply: addIndexes(d, q,
				tableIndex{"processed_events", index{"processed_events_by_time", "processed_at"}},
				tableIndex{"idempotency_keys", index{"idempotency_keys_by_time", "created_at"}}),
		},
	}
}

// tableIndex is an index to add to an existing table.
type tableIndex struct {
	table string
	index
}

// addIndexes adds each index its table lacks. MySQL has no CREATE INDEX IF
// NOT EXISTS, and a crash can leave one added and the step unrecorded:
// look first.
func addIndexes(d *dialect, q sqlstore.Querier, ixs ...tableIndex) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, ix := range ixs {
			var n int
			if err := q.QueryRowContext(ctx, d.indexExists, ix.table, ix.name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			if _, err := q.ExecContext(ctx, "CREATE INDEX "+ix.name+" ON "+ix.table+" ("+ix.columns+")"); err != nil {
				return err
			}
		}
		return nil
	}
}

// orderTables is migration 2. Column sizes match what validate accepts.
func orderTables(d *dialect, q sqlstore.Querier) func(context.Context) error {
	var stmts []string
	stmts = append(stmts, d.createTable("orders", []string{
		d.key("order_id", 64),
		d.varchar("user_id", 64),
		d.varchar("status", 16),
		"total_cents BIGINT NOT NULL",
		d.varchar("currency", 3),
		"prime_trial BOOLEAN NOT NULL",
		// "" until a payment succeeds.
		d.varchar("payment_id", 128),
		"created_at " + d.timestamp + " NOT NULL",
		"updated_at " + d.timestamp + " NOT NULL",
		"expires_at " + d.timestamp + " NOT NULL",
		// The number of transitions, so also the timeline's last seq.
		"version BIGINT NOT NULL",
		"CONSTRAINT orders_total_not_negative CHECK (total_cents >= 0)",
	},
		index{"orders_by_user", "user_id, created_at, order_id"}, // newest-first pages
		index{"orders_by_status_expiry", "status, expires_at"},   // the expiry sweeper
	)...)
	stmts = append(stmts, d.createTable("order_lines", []string{
		d.varchar("order_id", 64),
		d.varchar("item_id", 64),
		"quantity BIGINT NOT NULL",
		// The unit price the shopper agreed to.
		"price_cents BIGINT NOT NULL",
		"PRIMARY KEY (order_id, item_id)",
		"CONSTRAINT order_lines_quantity_positive CHECK (quantity > 0)",
		"CONSTRAINT order_lines_price_not_negative CHECK (price_cents >= 0)",
	})...)
	stmts = append(stmts, d.createTable("order_timeline", []string{
		d.varchar("order_id", 64),
		// 1 for created, then the order's version after each transition.
		"seq BIGINT NOT NULL",
		d.varchar("status", 16),
		d.varchar("reason", 255),
		"at " + d.timestamp + " NOT NULL",
		"PRIMARY KEY (order_id, seq)",
	})...)
	stmts = append(stmts, d.createTable("idempotency_keys", []string{
		d.varchar("user_id", 64),
		d.varchar("idem_key", 128),
		// Identifies the request body: the key replays only the same one.
		d.varchar("request_hash", 128),
		d.varchar("order_id", 64),
		"created_at " + d.timestamp + " NOT NULL",
		"PRIMARY KEY (user_id, idem_key)",
	})...)
	stmts = append(stmts, d.createTable("outbox", []string{
		// Write order: the relay publishes by seq, so per order in order.
		d.serial("seq"),
		d.varchar("topic", 255),
		d.varchar("record_key", 255),
		d.varchar("event_id", 64),
		"value " + d.blob + " NOT NULL",
		"created_at " + d.timestamp + " NOT NULL",
	})...)
	tables := sqlstore.Apply(q, stmts...)
	return func(ctx context.Context) error {
		// ADD COLUMN has no IF NOT EXISTS everywhere: look first, since a
		// crash on MySQL can leave the column added and the step unrecorded.
		var n int
		if err := q.QueryRowContext(ctx, d.columnExists, "stock", "committed").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			// Units held by orders that hold stock; sellable is on_hand -
			// committed, which a supplier may push below zero, committed never.
			if _, err := q.ExecContext(ctx, "ALTER TABLE stock ADD COLUMN committed BIGINT NOT NULL DEFAULT 0 CHECK (committed >= 0)"); err != nil {
				return err
			}
		}
		return tables(ctx)
	}
}
