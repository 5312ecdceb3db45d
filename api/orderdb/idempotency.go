package orderdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Replay looks up the order an idempotency key of userID created. found
// is false when the key is new; a key recorded for another request (its
// hash differs from requestHash) is ErrIdempotencyConflict. The edge asks
// before it prices a request again: a retried checkout of a cart that
// its first try emptied, or of a trial the first try started, must get
// its order back, not a refusal.
func (s *sqlStore) Replay(ctx context.Context, userID, key, requestHash string) (order Order, found bool, err error) {
	var hash, orderID string
	err = s.DB().QueryRowContext(ctx, "SELECT request_hash, order_id FROM idempotency_keys WHERE user_id = ? AND idem_key = ?", userID, key).
		Scan(&hash, &orderID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Order{}, false, nil
	case err != nil:
		return Order{}, false, fmt.Errorf("orderdb: look up idempotency key of user %s: %w", userID, err)
	case hash != requestHash:
		return Order{}, true, ErrIdempotencyConflict
	}
	order, err = s.Order(ctx, orderID)
	return order, err == nil, err
}
