// Package schema applies versioned migrations to a store, whatever the
// store: SQL databases, Cassandra keyspaces, search indexes or embedded
// key-value files. Each store records the version it is at; Migrate applies
// what is missing in order, does nothing on a store that is current, and
// refuses a store whose schema is newer than this build knows, so an old
// binary never writes into a layout it does not understand.
package schema

import (
	"context"
	"fmt"
)

// Migration moves a store from Version-1 to Version.
type Migration struct {
	Version int
	Name    string
	Apply   func(ctx context.Context) error
}

// Recorder reads and writes a store's schema version.
type Recorder interface {
	// Version returns the recorded version, 0 for a store never migrated.
	Version(ctx context.Context) (int, error)
	// Record notes that migration m has been applied.
	Record(ctx context.Context, m Migration) error
}

// TooNewError is returned for a store whose schema is newer than the
// migrations this build carries.
type TooNewError struct {
	Store string
	Found int
	Known int
}

func (e *TooNewError) Error() string {
	return fmt.Sprintf("schema: %s is at schema version %d, newer than the %d this shopstream build knows; upgrade shopstream before running it against this store",
		e.Store, e.Found, e.Known)
}

// Migrate applies the migrations above the store's version, in order.
// Migrations must be numbered 1..n without gaps.
func Migrate(ctx context.Context, store string, r Recorder, ms []Migration) error {
	for i, m := range ms {
		if m.Version != i+1 {
			return fmt.Errorf("schema: %s migration %q is numbered %d, expected %d", store, m.Name, m.Version, i+1)
		}
	}
	current, err := r.Version(ctx)
	if err != nil {
		return fmt.Errorf("schema: read %s schema version: %w", store, err)
	}
	if current > len(ms) {
		return &TooNewError{Store: store, Found: current, Known: len(ms)}
	}
	for _, m := range ms[current:] {
		if err := m.Apply(ctx); err != nil {
			return fmt.Errorf("schema: %s migration %d (%s): %w", store, m.Version, m.Name, err)
		}
		if err := r.Record(ctx, m); err != nil {
			return fmt.Errorf("schema: record %s migration %d: %w", store, m.Version, err)
		}
	}
	return nil
}

// Store is the lifecycle every store role's adapter has: connect (its
// constructor), migrate, report its version and health, close.
type Store interface {
	// Migrate brings the schema to this build's version; a no-op when
	// current, an error (*TooNewError) when the store is newer.
	Migrate(ctx context.Context) error
	// SchemaVersion is the version the store records.
	SchemaVersion(ctx context.Context) (int, error)
	// Health answers nil when a real round trip to the store succeeds.
	Health(ctx context.Context) error
	Close() error
}
