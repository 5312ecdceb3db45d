package ordertaking

import (
	"context"
	"log/slog"
	"time"

	"github.com/shopstream/shopstream/api/orderdb"
)

// Keep is how long the sweeper keeps the database's exactly-once records:
// applied event ids and idempotency keys (zero keeps them for ever).
type Keep struct {
	ProcessedEvents time.Duration
	IdempotencyKeys time.Duration
}

// pruneEvery spaces the sweeper's prunes: the tables grow by the minute,
// not by the second the expiry sweep runs at.
const pruneEvery = time.Minute

// Sweep cancels expired orders every interval until ctx ends: an order
// whose payment never answered gives its stock back. Several edge
// instances may sweep the same database; each order expires once. Once a
// minute it also prunes what keep no longer keeps.
func (s *Service) Sweep(ctx context.Context, interval time.Duration, keep Keep, log *slog.Logger) error {
	const batch = 500
	t := time.NewTicker(interval)
	defer t.Stop()
	var pruned time.Time
	for {
		s.expire(ctx, batch, log)
		if now := time.Now(); now.Sub(pruned) >= pruneEvery {
			pruned = now
			s.prune(ctx, now, keep, batch, log)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// expire cancels the orders due now, batch by batch.
func (s *Service) expire(ctx context.Context, batch int, log *slog.Logger) {
	for {
		expired, err := s.store.ExpireDue(ctx, time.Now(), batch)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("expiry sweep failed; retrying at the next tick", "err", err)
			}
			return
		}
		if len(expired) > 0 {
			log.Info("expired unpaid orders", "count", len(expired))
			s.kick()
		}
		if len(expired) < batch {
			return
		}
	}
}

// prune removes the event ids and keys older than keep allows.
func (s *Service) prune(ctx context.Context, now time.Time, keep Keep, batch int, log *slog.Logger) {
	r := orderdb.Retention{Batch: batch}
	if keep.ProcessedEvents > 0 {
		r.ProcessedBefore = now.Add(-keep.ProcessedEvents)
	}
	if keep.IdempotencyKeys > 0 {
		r.KeysBefore = now.Add(-keep.IdempotencyKeys)
	}
	p, err := s.store.Prune(ctx, r)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn("pruning old event ids and idempotency keys failed; retrying in a minute", "err", err)
	case p.ProcessedEvents+p.IdempotencyKeys > 0:
		log.Info("pruned old event ids and idempotency keys", "processed_events", p.ProcessedEvents, "idempotency_keys", p.IdempotencyKeys)
	}
}
