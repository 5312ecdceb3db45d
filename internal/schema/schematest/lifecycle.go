// Package schematest is the part of every store role's contract suite that
// checks the lifecycle: migration is versioned and idempotent, a newer
// schema is refused, health is a real round trip, close ends it; and the
// step that migrates several stores on one database at once.
package schematest

import (
	"context"
	"errors"
	"testing"

	"github.com/shopstream/shopstream/internal/schema"
)

// Lifecycle runs the lifecycle contract on a freshly opened, unmigrated
// store. rec is the adapter's own recorder, used to fake a newer schema;
// latest is the number of migrations the adapter carries. It closes s.
func Lifecycle(t *testing.T, s schema.Store, rec schema.Recorder, latest int) {
	ctx := context.Background()
	if err := s.Health(ctx); err != nil {
		t.Fatalf("health of an open store: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("after migrate: version %d, %v; want %d", v, err, latest)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate on a migrated store must be a no-op: %v", err)
	}
	if v, _ := s.SchemaVersion(ctx); v != latest {
		t.Fatalf("second migrate moved the version to %d", v)
	}
	newer := schema.Migration{Version: latest + 1, Name: "from a newer build"}
	if err := rec.Record(ctx, newer); err != nil {
		t.Fatalf("record a newer version: %v", err)
	}
	var tooNew *schema.TooNewError
	if err := s.Migrate(ctx); !errors.As(err, &tooNew) || tooNew.Found != latest+1 || tooNew.Known != latest {
		t.Fatalf("migrate on a newer schema: got %v, want *schema.TooNewError{Found: %d, Known: %d}", err, latest+1, latest)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Health(ctx); err == nil {
		t.Fatal("health after close answered nil")
	}
}

// MigrateTogether migrates stores, all open on one database, at the same
// time, as processes started together do: every Migrate must succeed. What
// each version was recorded as is the caller's to check.
func MigrateTogether(t *testing.T, ctx context.Context, stores ...schema.Store) {
	t.Helper()
	errs := make(chan error, len(stores))
	for _, s := range stores {
		go func() { errs <- s.Migrate(ctx) }()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Errorf("concurrent migrate: %v", err)
		}
	}
}
