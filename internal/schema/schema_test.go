package schema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shopstream/shopstream/internal/schema"
)

type memRecorder struct{ version int }

func (m *memRecorder) Version(context.Context) (int, error) { return m.version, nil }
func (m *memRecorder) Record(_ context.Context, mg schema.Migration) error {
	m.version = mg.Version
	return nil
}

func TestMigrateAppliesOnlyWhatIsMissing(t *testing.T) {
	var applied []int
	ms := []schema.Migration{}
	for v := 1; v <= 3; v++ {
		ms = append(ms, schema.Migration{Version: v, Name: "m", Apply: func(context.Context) error { applied = append(applied, v); return nil }})
	}
	r := &memRecorder{version: 1}
	if err := schema.Migrate(context.Background(), "db", r, ms); err != nil {
		t.Fatal(err)
	}
	if len(applied) != 2 || applied[0] != 2 || applied[1] != 3 || r.version != 3 {
		t.Fatalf("applied %v, at %d", applied, r.version)
	}
	if err := schema.Migrate(context.Background(), "db", r, ms); err != nil || len(applied) != 2 {
		t.Fatalf("second run: %v, applied %v", err, applied)
	}
}

func TestMigrateRefusesNewerSchemaAndGaps(t *testing.T) {
	ms := []schema.Migration{{Version: 1, Name: "a", Apply: func(context.Context) error { return nil }}}
	var tooNew *schema.TooNewError
	if err := schema.Migrate(context.Background(), "db", &memRecorder{version: 2}, ms); !errors.As(err, &tooNew) || tooNew.Found != 2 || tooNew.Known != 1 {
		t.Fatalf("got %v", err)
	}
	gap := []schema.Migration{{Version: 2, Name: "b", Apply: func(context.Context) error { return nil }}}
	if err := schema.Migrate(context.Background(), "db", &memRecorder{}, gap); err == nil {
		t.Fatal("gap accepted")
	}
}

func TestFailedMigrationIsNotRecorded(t *testing.T) {
	r := &memRecorder{}
	ms := []schema.Migration{
		{Version: 1, Name: "ok", Apply: func(context.Context) error { return nil }},
		{Version: 2, Name: "broken", Apply: func(context.Context) error { return errors.New("boom") }},
	}
	if err := schema.Migrate(context.Background(), "db", r, ms); err == nil || r.version != 1 {
		t.Fatalf("err %v, version %d", err, r.version)
	}
}
