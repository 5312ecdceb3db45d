package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/shopstream/shopstream/internal/schema"
)

// bleveVersionKey is the internal (not a document) key holding the schema
// version, the counterpart of Elasticsearch's _meta.
var bleveVersionKey = []byte("shopstream_schema_version")

// bleveRuntime makes a second process opening the same index fail after a
// second instead of waiting forever for the lock. It is a new map each
// time: Bleve writes the index's path into the one it is given.
func bleveRuntime() map[string]any { return map[string]any{"bolt_timeout": "1s"} }

// bleveIndex is the embedded adapter.
type bleveIndex struct {
	idx       bleve.Index
	path      string
	closeOnce sync.Once
	closeErr  error
}

// openBleve opens the index at dataDir/search/<name>, creating it when
// missing. Bleve fixes an index's mapping when it is created, so a new
// index gets this build's mapping here and migration 1 checks it; a later
// migration that changes the mapping rebuilds the index from the item
// topics (a search index is derived data).
func openBleve(dataDir, name string) (*bleveIndex, error) {
	path := filepath.Join(dataDir, "search", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("search: bleve index at %s: create directory: %w", path, err)
	}
	idx, err := bleve.OpenUsing(path, bleveRuntime())
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		idx, err = bleve.NewUsing(path, bleveItemsMapping(), scorch.Name, scorch.Name, bleveRuntime())
	}
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("search: bleve index at %s is in use: is another shopstream using this data dir? %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("search: bleve index at %s: open: %w", path, err)
	}
	return &bleveIndex{idx: idx, path: path}, nil
}

func (b *bleveIndex) String() string { return "bleve index at " + b.path }

func (b *bleveIndex) migrations() []schema.Migration {
	return []schema.Migration{{
		Version: 1,
		Name:    "items mapping",
		Apply: func(context.Context) error {
			// Open created the index with this build's mapping; an index
			// with another one was made by something else.
			have, err := json.Marshal(b.idx.Mapping())
			if err != nil {
				return err
			}
			want, err := json.Marshal(bleveItemsMapping())
			if err != nil {
				return err
			}
			if string(have) != string(want) {
				return fmt.Errorf("search: %s has a mapping shopstream did not create; move it away to start a new index", b)
			}
			return nil
		},
	}}
}

func (b *bleveIndex) Migrate(ctx context.Context) error {
	return schema.Migrate(ctx, b.String(), b, b.migrations())
}

func (b *bleveIndex) recorder() schema.Recorder { return b }

func (b *bleveIndex) SchemaVersion(ctx context.Context) (int, error) { return b.Version(ctx) }

// Version implements schema.Recorder.
func (b *bleveIndex) Version(context.Context) (int, error) {
	v, err := b.idx.GetInternal(bleveVersionKey)
	if err != nil {
		return 0, fmt.Errorf("search: %s: read %s: %w", b, bleveVersionKey, err)
	}
	if v == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("search: %s: %s holds %q, not a version number", b, bleveVersionKey, v)
	}
	return n, nil
}

// Record implements schema.Recorder. Bleve returns once the batch holding
// it is persisted.
func (b *bleveIndex) Record(_ context.Context, m schema.Migration) error {
	if err := b.idx.SetInternal(bleveVersionKey, []byte(strconv.Itoa(m.Version))); err != nil {
		return fmt.Errorf("search: %s: write %s: %w", b, bleveVersionKey, err)
	}
	return nil
}

// Health counts the documents: a read through the index.
func (b *bleveIndex) Health(context.Context) error {
	if _, err := b.idx.DocCount(); err != nil {
		return fmt.Errorf("search: %s: %w", b, err)
	}
	return nil
}

// Close closes the index; a second Close is a no-op.
func (b *bleveIndex) Close() error {
	b.closeOnce.Do(func() {
		if err := b.idx.Close(); err != nil {
			b.closeErr = fmt.Errorf("search: close %s: %w", b, err)
		}
	})
	return b.closeErr
}
