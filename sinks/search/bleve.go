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
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/topics"
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
	idx  bleve.Index
	path string
	// table is what filters, sorts and facets read (bleve_table.go).
	table *table
	rows  *segmentRows
	// writeMu makes Index's read of the held versions and its write one
	// step, for two writers in one process.
	writeMu   sync.Mutex
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
	t := newTable()
	b := &bleveIndex{idx: idx, path: path, table: t, rows: &segmentRows{t: t, segs: map[segment.Segment][]int32{}}}
	if err := b.load(); err != nil {
		idx.Close()
		return nil, err
	}
	return b, nil
}

// tableFields are the fields a table row is built from, read from their
// doc values. An index made with bleveItemsMappingV1 has doc values for
// version and created_at too, and its older documents have only the
// lengths in bleveRowField.
var tableFields = []string{"version", categoryField, brandField, priceField, "created_at", "in_stock", "listed", bleveRowField}

// load fills the table from the index's doc values, in one pass, in the
// order of the index: matches then walk the rows forward. It decodes each
// value by its field's kind: Bleve's own decoding guesses from the bytes,
// and takes a brand such as "Nike" for an encoded number and drops it.
func (b *bleveIndex) load() error {
	ix, err := b.idx.Advanced()
	if err != nil {
		return fmt.Errorf("search: %s: read the listings: %w", b, err)
	}
	r, err := ix.Reader()
	if err != nil {
		return fmt.Errorf("search: %s: read the listings: %w", b, err)
	}
	defer r.Close()
	docs, err := tableDocs(r)
	if err != nil {
		return fmt.Errorf("search: %s: read the listings: %w", b, err)
	}
	b.table.put(docs)
	return nil
}

// tableDocs reads the doc values of tableFields of every document.
func tableDocs(r index.IndexReader) ([]idDoc, error) {
	dv, err := r.DocValueReader(tableFields)
	if err != nil {
		return nil, err
	}
	all, err := r.DocIDReaderAll()
	if err != nil {
		return nil, err
	}
	defer all.Close()
	kinds := map[string]kind{}
	for _, f := range itemFields {
		kinds[f.name] = f.kind
	}
	var docs []idDoc
	for {
		num, err := all.Next()
		if err != nil || num == nil {
			return docs, err
		}
		id, err := r.ExternalID(num)
		if err != nil {
			return nil, err
		}
		doc := map[string]any{}
		err = dv.VisitDocValues(num, func(field string, term []byte) {
			switch kinds[field] {
			case boolean:
				doc[field] = string(term) == "T"
			case integer, timestamp:
				// A number is indexed as terms of its bits shifted by 0,
				// 4, ... 60; the unshifted one is the value.
				if shift, err := numeric.PrefixCoded(term).Shift(); err != nil || shift != 0 {
					return
				}
				n, err := numeric.PrefixCoded(term).Int64()
				if err != nil {
					return
				}
				if kinds[field] == timestamp {
					doc[field] = time.Unix(0, n).UTC().Format(time.RFC3339Nano) // as document() writes it
				} else {
					doc[field] = int64(numeric.Int64ToFloat64(n))
				}
			default:
				doc[field] = string(term)
			}
		})
		if err != nil {
			return nil, err
		}
		docs = append(docs, idDoc{id, doc})
	}
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
			for _, m := range []*mapping.IndexMappingImpl{bleveItemsMapping(), bleveItemsMappingV1()} {
				want, err := json.Marshal(m)
				if err != nil {
					return err
				}
				if string(have) == string(want) {
					return nil
				}
			}
			return fmt.Errorf("search: %s has a mapping shopstream did not create; move it away to start a new index", b)
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

// Index writes the listings newer than the held ones in one batch, which
// Bleve returns from once it is persisted. Bleve keeps no versions: the
// table holds each item's, and a listing no newer than it, or than one
// before it in the same call, is stale.
func (b *bleveIndex) Index(ctx context.Context, listings []topics.Listing) (IndexStats, error) {
	var st IndexStats
	var valid []topics.Listing
	var ids []string
	for i, l := range listings {
		if why := reject(l); why != "" {
			st.Rejected = append(st.Rejected, Rejection{Position: i, ItemID: l.ItemID, Reason: why})
			continue
		}
		valid, ids = append(valid, l), append(ids, l.ItemID)
	}
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	held := b.table.versions(ids)
	latest := map[string]topics.Listing{}
	for _, l := range valid {
		if l.Version <= held[l.ItemID] {
			st.Stale++
			continue
		}
		st.Indexed++
		held[l.ItemID] = l.Version
		latest[l.ItemID] = l
	}
	if len(latest) == 0 {
		return st, nil
	}
	batch := b.idx.NewBatch()
	docs := make([]idDoc, 0, len(latest))
	for id, l := range latest {
		doc := document(l)
		doc[bleveRowField] = rowValue(doc, l)
		if err := batch.Index(id, doc); err != nil {
			return IndexStats{}, fmt.Errorf("search: %s: index %s: %w", b, id, err)
		}
		docs = append(docs, idDoc{id, doc})
	}
	if err := ctx.Err(); err != nil {
		return IndexStats{}, err
	}
	if err := b.idx.Batch(batch); err != nil {
		return IndexStats{}, fmt.Errorf("search: %s: write %d listings: %w", b, len(latest), err)
	}
	b.table.put(docs)
	return st, nil
}

func (b *bleveIndex) Get(ctx context.Context, itemID string) (topics.Listing, bool, error) {
	docs, err := b.documents(ctx, []string{itemID})
	l, ok := docs[itemID]
	return l, ok, err
}

func (b *bleveIndex) Search(ctx context.Context, q Query) (Result, error) {
	return search(ctx, b.run, q)
}

func (b *bleveIndex) Suggest(ctx context.Context, prefix string, n int) ([]string, error) {
	return suggest(ctx, b.run, prefix, n)
}

// run answers p from the table; Bleve matches its words.
func (b *bleveIndex) run(ctx context.Context, p plan) (Result, error) {
	pg, err := b.table.query(p, func(m *matches) error {
		if err := b.matchText(ctx, p, m); err != nil {
			return fmt.Errorf("search: %s: search: %w", b, err)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	docs, err := b.documents(ctx, pg.ids)
	if err != nil {
		return Result{}, err
	}
	res := Result{Total: pg.total, Hits: []Hit{}, Facets: pg.facets}
	for i, id := range pg.ids {
		l, ok := docs[id]
		if !ok {
			continue // written over since the table was read
		}
		h := Hit{Item: l}
		if p.scored() {
			h.Score = pg.scores[i]
		}
		res.Hits = append(res.Hits, h)
	}
	return res, nil
}

// documents returns the indexed listings of ids, by item id, from their
// stored fields.
func (b *bleveIndex) documents(ctx context.Context, ids []string) (map[string]topics.Listing, error) {
	docs := make(map[string]topics.Listing, len(ids))
	if len(ids) == 0 {
		return docs, nil
	}
	req := bleve.NewSearchRequestOptions(bleve.NewDocIDQuery(ids), len(ids), 0, false)
	req.Fields = []string{"*"}
	req.Score = "none"
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("search: %s: read %d listings: %w", b, len(ids), err)
	}
	for _, h := range res.Hits {
		if docs[h.ID], err = listingFromFields(h.Fields); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// refresh is a no-op: a Bleve batch is searchable once Batch returns.
func (b *bleveIndex) refresh(context.Context) error { return nil }
