package ordertaking

import (
	"context"
	"log/slog"
	"time"
)

// Sweep cancels expired orders every interval until ctx ends: an order
// whose payment never answered gives its stock back. Several edge
// instances may sweep the same database; each order expires once.
func (s *Service) Sweep(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	const batch = 500
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			expired, err := s.store.ExpireDue(ctx, time.Now(), batch)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				log.Warn("expiry sweep failed; retrying at the next tick", "err", err)
				break
			}
			if len(expired) > 0 {
				log.Info("expired unpaid orders", "count", len(expired))
				s.kick()
			}
			if len(expired) < batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
