package orderdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Retention says what Prune removes: processed event ids recorded before
// ProcessedBefore, idempotency keys taken before KeysBefore, at most
// Batch rows per statement.
type Retention struct {
	ProcessedBefore time.Time
	KeysBefore      time.Time
	Batch           int
}

// Pruned counts what Prune removed.
type Pruned struct {
	ProcessedEvents int64
	IdempotencyKeys int64
}

// Prune removes the exactly-once records and idempotency keys older than
// r says. A processed event id must outlive every redelivery of its event
// (the inbound topics' retention); a key, every retry a client makes with
// it. Each batch is its own statement, so a backlog never holds locks
// for long.
func (s *sqlStore) Prune(ctx context.Context, r Retention) (Pruned, error) {
	if r.Batch <= 0 {
		return Pruned{}, invalidf("orderdb: prune: batch %d is not positive", r.Batch)
	}
	var p Pruned
	var err error
	if p.ProcessedEvents, err = s.pruneBefore(ctx, "processed_events", "processed_at", r.ProcessedBefore, r.Batch); err != nil {
		return p, err
	}
	p.IdempotencyKeys, err = s.pruneBefore(ctx, "idempotency_keys", "created_at", r.KeysBefore, r.Batch)
	return p, err
}

// pruneBefore deletes the rows of table whose column is before t, oldest
// first, about batch at a time: each round finds the batch-th oldest time
// and deletes up to it (ties included), the last round up to t.
func (s *sqlStore) pruneBefore(ctx context.Context, table, column string, t time.Time, batch int) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	t = t.UTC()
	var total int64
	for {
		var edge time.Time
		err := s.DB().QueryRowContext(ctx, "SELECT "+column+" FROM "+table+" WHERE "+column+" < ? ORDER BY "+column+" LIMIT 1 OFFSET ?", t, batch-1).Scan(&edge)
		last := errors.Is(err, sql.ErrNoRows)
		if err != nil && !last {
			return total, fmt.Errorf("orderdb: prune %s: find the oldest %d: %w", table, batch, err)
		}
		query, arg := "DELETE FROM "+table+" WHERE "+column+" <= ?", any(edge)
		if last {
			query, arg = "DELETE FROM "+table+" WHERE "+column+" < ?", t
		}
		res, err := s.DB().ExecContext(ctx, query, arg)
		if err != nil {
			return total, fmt.Errorf("orderdb: prune %s before %s: %w", table, t.Format(time.RFC3339), err)
		}
		n, _ := res.RowsAffected()
		total += n
		if last || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}
