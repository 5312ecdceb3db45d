package search

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/topics"
)

// An index an earlier build made, with bleveItemsMappingV1 and the lengths
// alone in bleveRowField, opens without migrating and answers every search
// as a new index does: the table finds version and created_at in its doc
// values. Writes into it keep working, across a reopen.
func TestIndexesOfTheV1MappingServeTheSame(t *testing.T) {
	ctx := context.Background()
	cfg := config.SearchStore{Driver: "bleve", Index: "items"}
	listings := catalog()

	dir := t.TempDir()
	old, err := bleve.NewUsing(filepath.Join(dir, "search", cfg.Index), bleveItemsMappingV1(), scorch.Name, scorch.Name, bleveRuntime())
	if err != nil {
		t.Fatal(err)
	}
	batch := old.NewBatch()
	for _, l := range listings {
		doc := document(l)
		doc[bleveRowField] = strings.Join(strings.Fields(rowValue(doc, l))[:2], " ")
		if err := batch.Index(l.ItemID, doc); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Batch(batch); err != nil {
		t.Fatal(err)
	}
	if err := old.SetInternal(bleveVersionKey, []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	fresh := openT(t, cfg, t.TempDir())
	if err := fresh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	indexT(t, fresh, listings, IndexStats{Indexed: len(listings)})

	same := func(t *testing.T, v1 adapter) {
		t.Helper()
		for _, c := range searchCases {
			if got, want := searchT(t, v1, c.q), searchT(t, fresh, c.q); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: v1 index %v %+v, new index %v %+v", c.name, hitIDs(got), got.Facets, hitIDs(want), want.Facets)
			}
		}
	}
	v1 := openT(t, cfg, dir)
	if err := v1.Migrate(ctx); err != nil {
		t.Fatalf("migrate an index of the v1 mapping: %v", err)
	}
	same(t, v1)

	// A newer version replaces a listing in both, an older one is stale.
	next := listings[0]
	next.Version, next.Title = 2, next.Title+" II"
	for _, s := range []adapter{v1, fresh} {
		indexT(t, s, listings[:1], IndexStats{Stale: 1})
		indexT(t, s, []topics.Listing{next}, IndexStats{Indexed: 1})
	}
	same(t, v1)
	if err := v1.Close(); err != nil {
		t.Fatal(err)
	}
	same(t, openT(t, cfg, dir))
}

// A reopened index answers as it did before: the table it reloads from
// doc values has every value, brands that look like Bleve's encoded
// numbers ("Nike", "Logi") included.
func TestAReopenedIndexAnswersTheSame(t *testing.T) {
	cfg, dir := config.SearchStore{Driver: "bleve", Index: "items"}, t.TempDir()
	a := openT(t, cfg, dir)
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	indexT(t, a, catalog(), IndexStats{Indexed: len(catalog())})
	want := map[string]Result{}
	for _, c := range searchCases {
		want[c.name] = searchT(t, a, c.q)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = openT(t, cfg, dir)
	for _, c := range searchCases {
		if got := searchT(t, a, c.q); !reflect.DeepEqual(got, want[c.name]) {
			t.Errorf("%s: reopened %v %+v, before %v %+v", c.name, hitIDs(got), got.Facets, hitIDs(want[c.name]), want[c.name].Facets)
		}
	}
}
