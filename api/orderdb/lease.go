package orderdb

import (
	"context"
	"errors"
	"time"
)

// Lease is leadership among the processes sharing one order-taking
// database, held until Release: one outbox relay publishes at a time, so
// several edge instances do not publish every record several times.
type Lease interface {
	// Held fails once the lease is lost: the holder must stop and take
	// it again.
	Held(ctx context.Context) error
	Release()
}

// ErrLeaseTaken is a lease another process held for the whole wait.
var ErrLeaseTaken = errors.New("orderdb: the lease is held by another process")

// RelayLease takes the outbox relay's lease, waiting up to wait. On
// MySQL it is a named lock of the database's server; a SQLite file has
// one process (its data directory is locked), which always holds it.
func (s *sqlStore) RelayLease(ctx context.Context, wait time.Duration) (Lease, error) {
	if s.d != mysqlDialect {
		return soleLease{}, nil
	}
	l, err := mysqlLock(ctx, s.DB(), "relay", wait)
	if err != nil {
		return nil, err
	}
	return l, nil
}

type soleLease struct{}

func (soleLease) Held(context.Context) error { return nil }
func (soleLease) Release()                   {}
