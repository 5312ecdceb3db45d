package search

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	bleveq "github.com/blevesearch/bleve/v2/search/query"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/internal/schema/schematest"
)

// query is one search the suite asks both engines, in engine-neutral terms.
type query struct {
	kind  string // match: analyzed text; exact: a keyword or boolean; range: inclusive integer bounds [2]int64
	field string
	value any
}

// backend is one adapter under the contract suite, with the raw indexing,
// get and search calls that prove its v1 mapping serves item search.
type backend struct {
	// fresh returns the config and data dir of a namespace no test used,
	// removed when t ends.
	fresh func(t *testing.T) (config.SearchStore, string)
	// foreign creates, in the namespace, an index shopstream did not make.
	foreign func(t *testing.T, cfg config.SearchStore, dir string)
	put     func(t *testing.T, a adapter, item map[string]any)
	// get returns the item's fields flat (attributes.color), numbers as float64.
	get    func(t *testing.T, a adapter, id string) map[string]any
	search func(t *testing.T, a adapter, q query) []string
}

func TestContract(t *testing.T) {
	t.Run("embedded-bleve", func(t *testing.T) { runContract(t, bleveBackend()) })
	t.Run("real-elasticsearch", func(t *testing.T) {
		runContract(t, elasticBackend(realserver.Addr(t, realserver.Elasticsearch)))
	})
}

var items = []map[string]any{
	{"item_id": "i1", "title": "Wireless Mouse M325", "description": "Compact wireless mouse; the battery lasts two years",
		"category": "Electronics", "brand": "Logi", "price_cents": 1999, "currency": "USD", "in_stock": true, "on_hand": 12,
		"updated_at": "2025-03-10T09:30:00Z", "attributes": map[string]any{"color": "black", "connectivity": "2.4 GHz"}},
	{"item_id": "i2", "title": "USB-C Charging Cable, 2 m", "description": "Braided cable for phones and laptops",
		"category": "Electronics", "brand": "Anker", "price_cents": 1299, "currency": "USD", "in_stock": false, "on_hand": 0,
		"updated_at": "2025-03-11T10:00:00Z", "attributes": map[string]any{"color": "white", "released": "2024-05-01"}},
	{"item_id": "i3", "title": "The Go Programming Language", "description": "Donovan and Kernighan",
		"category": "Books", "brand": "Addison-Wesley", "price_cents": 3450, "currency": "EUR", "in_stock": true, "on_hand": 3,
		"updated_at": "2025-03-12T11:00:00.250Z"},
}

// searches and the item ids each must find, on every engine.
var searches = []struct {
	q    query
	want []string
}{
	{query{"match", "title", "wireless"}, []string{"i1"}},
	{query{"match", "title", "MOUSE cable"}, []string{"i1", "i2"}},
	{query{"match", "description", "laptops"}, []string{"i2"}},
	{query{"match", "title", "programming"}, []string{"i3"}},
	{query{"exact", "title.keyword", "wireless mouse m325"}, []string{"i1"}},
	{query{"exact", "title.keyword", "Wireless Mouse M325"}, []string{"i1"}},
	{query{"exact", "title.keyword", "wireless"}, nil},
	{query{"exact", "category", "Electronics"}, []string{"i1", "i2"}},
	{query{"exact", "category", "electronics"}, nil},
	{query{"exact", "brand", "Addison-Wesley"}, []string{"i3"}},
	{query{"exact", "attributes.color", "black"}, []string{"i1"}},
	// A date-looking attribute is a keyword like any other.
	{query{"exact", "attributes.released", "2024-05-01"}, []string{"i2"}},
	{query{"exact", "in_stock", true}, []string{"i1", "i3"}},
	{query{"range", "price_cents", [2]int64{1299, 1999}}, []string{"i1", "i2"}},
	// Unmapped fields are kept but not searchable.
	{query{"match", "note", "kept"}, nil},
}

func runContract(t *testing.T, b backend) {
	t.Run("lifecycle", func(t *testing.T) {
		cfg, dir := b.fresh(t)
		a := openT(t, cfg, dir)
		schematest.Lifecycle(t, a, a.recorder(), len(a.migrations()))
	})

	cfg, dir := b.fresh(t)
	check := func(t *testing.T, a adapter) {
		t.Helper()
		for _, item := range items {
			want := flatten(item)
			if got := b.get(t, a, item["item_id"].(string)); !reflect.DeepEqual(got, want) {
				t.Errorf("get %s:\n got %v\nwant %v", item["item_id"], got, want)
			}
		}
		for _, s := range searches {
			if got := b.search(t, a, s.q); !slices.Equal(got, s.want) {
				t.Errorf("%s %s %v: got %v, want %v", s.q.kind, s.q.field, s.q.value, got, s.want)
			}
		}
	}

	t.Run("v1-indexes-gets-and-finds-items", func(t *testing.T) {
		a := openT(t, cfg, dir)
		if err := a.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, item := range items {
			b.put(t, a, item)
		}
		check(t, a)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("second-open-and-migrate-is-a-no-op", func(t *testing.T) {
		a := openT(t, cfg, dir)
		if err := a.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if v, err := a.SchemaVersion(context.Background()); err != nil || v != len(a.migrations()) {
			t.Fatalf("version %d, %v; want %d", v, err, len(a.migrations()))
		}
		check(t, a)
	})

	t.Run("an-index-shopstream-did-not-create-is-refused", func(t *testing.T) {
		cfg, dir := b.fresh(t)
		b.foreign(t, cfg, dir)
		a := openT(t, cfg, dir)
		if err := a.Migrate(context.Background()); err == nil || !strings.Contains(err.Error(), "shopstream did not create") {
			t.Fatalf("migrate: %v", err)
		}
	})

	runSearchContract(t, b)
}

// flatten puts what an engine gives back for an item in one form:
// attributes as attributes.<key>, numbers as float64, times in UTC with
// nanoseconds (Bleve drops trailing zeros), unmapped fields dropped.
func flatten(item map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range item {
		name, _, flat := strings.Cut(k, ".")
		i := slices.IndexFunc(itemFields, func(f field) bool { return f.name == name })
		switch {
		case i < 0:
		case flat: // Bleve gives attributes flat already
			out[k] = v
		case itemFields[i].kind == exactMap:
			for sk, sv := range v.(map[string]any) {
				out[k+"."+sk] = sv
			}
		case itemFields[i].kind == timestamp:
			ts, _ := time.Parse(time.RFC3339Nano, v.(string))
			out[k] = ts.UTC().Format(time.RFC3339Nano)
		default:
			if n, ok := v.(int); ok {
				v = float64(n)
			}
			out[k] = v
		}
	}
	return out
}

func openT(t *testing.T, cfg config.SearchStore, dir string) adapter {
	t.Helper()
	a, err := open(context.Background(), cfg, dir, Replicas(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func bleveBackend() backend {
	idx := func(a adapter) bleve.Index { return a.(*bleveIndex).idx }
	run := func(t *testing.T, a adapter, q bleveq.Query, fields ...string) blevesearch.DocumentMatchCollection {
		req := bleve.NewSearchRequestOptions(q, 100, 0, false)
		req.Fields = fields
		res, err := idx(a).Search(req)
		if err != nil {
			t.Fatal(err)
		}
		return res.Hits
	}
	return backend{
		fresh: func(t *testing.T) (config.SearchStore, string) {
			return config.SearchStore{Driver: "bleve", Index: "items"}, t.TempDir()
		},
		foreign: func(t *testing.T, cfg config.SearchStore, dir string) {
			i, err := bleve.New(filepath.Join(dir, "search", cfg.Index), bleve.NewIndexMapping())
			if err != nil {
				t.Fatal(err)
			}
			i.Close()
		},
		put: func(t *testing.T, a adapter, item map[string]any) {
			doc := map[string]any{"note": "kept"}
			for k, v := range item {
				doc[k] = v
			}
			if err := idx(a).Index(item["item_id"].(string), doc); err != nil {
				t.Fatal(err)
			}
		},
		get: func(t *testing.T, a adapter, id string) map[string]any {
			hits := run(t, a, bleve.NewDocIDQuery([]string{id}), "*")
			if len(hits) != 1 {
				t.Fatalf("get %s: %d hits", id, len(hits))
			}
			return hits[0].Fields
		},
		search: func(t *testing.T, a adapter, q query) []string {
			var bq bleveq.FieldableQuery
			switch v := q.value.(type) {
			case bool:
				bq = bleve.NewBoolFieldQuery(v)
			case [2]int64:
				lo, hi, incl := float64(v[0]), float64(v[1]), true
				bq = bleve.NewNumericRangeInclusiveQuery(&lo, &hi, &incl, &incl)
			case string:
				// A match query analyzes with the field's analyzer, so on a
				// keyword field it is the exact term, and on title.keyword
				// it lower-cases like Elasticsearch's normalizer.
				mq := bleve.NewMatchQuery(v)
				mq.Analyzer = bleveQueryAnalyzer(q.field)
				bq = mq
			}
			bq.SetField(q.field)
			var ids []string
			for _, h := range run(t, a, bq) {
				ids = append(ids, h.ID)
			}
			slices.Sort(ids)
			return ids
		},
	}
}

func elasticBackend(url string) backend {
	do := func(t *testing.T, a adapter, what string, req esapi.Request) []byte {
		t.Helper()
		body, err := a.(*elastic).do(context.Background(), what, req)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	index := func(a adapter) string { return a.(*elastic).index }
	return backend{
		fresh: func(t *testing.T) (config.SearchStore, string) {
			return config.SearchStore{Driver: "elasticsearch", URLs: []string{url}, Index: realserver.ScratchIndex(t, url)}, t.TempDir()
		},
		foreign: func(t *testing.T, cfg config.SearchStore, dir string) {
			a := openT(t, cfg, dir)
			do(t, a, "create foreign index", esapi.IndicesCreateRequest{Index: cfg.Index,
				Body: strings.NewReader(`{"settings": {"number_of_replicas": 0}}`)})
			a.Close()
		},
		put: func(t *testing.T, a adapter, item map[string]any) {
			doc := map[string]any{"note": "kept"}
			for k, v := range item {
				doc[k] = v
			}
			body, _ := json.Marshal(doc)
			do(t, a, "index", esapi.IndexRequest{Index: index(a), DocumentID: item["item_id"].(string),
				Body: bytes.NewReader(body), Refresh: "true"})
		},
		get: func(t *testing.T, a adapter, id string) map[string]any {
			var answer struct {
				Source map[string]any `json:"_source"`
			}
			if err := json.Unmarshal(do(t, a, "get", esapi.GetRequest{Index: index(a), DocumentID: id}), &answer); err != nil {
				t.Fatal(err)
			}
			delete(answer.Source, "note") // _source keeps it; Bleve stores mapped fields only
			return flatten(answer.Source)
		},
		search: func(t *testing.T, a adapter, q query) []string {
			var clause map[string]any
			switch v := q.value.(type) {
			case [2]int64:
				clause = map[string]any{"range": map[string]any{q.field: map[string]any{"gte": v[0], "lte": v[1]}}}
			default:
				op := map[string]string{"match": "match", "exact": "term"}[q.kind]
				clause = map[string]any{op: map[string]any{q.field: v}}
			}
			body, _ := json.Marshal(map[string]any{"query": clause, "size": 100, "_source": false})
			var answer struct {
				Hits struct {
					Hits []struct {
						ID string `json:"_id"`
					} `json:"hits"`
				} `json:"hits"`
			}
			if err := json.Unmarshal(do(t, a, "search", esapi.SearchRequest{Index: []string{index(a)}, Body: bytes.NewReader(body)}), &answer); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, h := range answer.Hits.Hits {
				ids = append(ids, h.ID)
			}
			slices.Sort(ids)
			return ids
		},
	}
}

func TestOpenElasticsearchDeadAddressFailsFast(t *testing.T) {
	start := time.Now()
	_, err := Open(context.Background(), config.SearchStore{Driver: "elasticsearch", URLs: []string{"http://127.0.0.1:1"}, Index: "items"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "search: elasticsearch at http://127.0.0.1:1 did not answer within 5s") {
		t.Fatalf("got %v, want an error naming http://127.0.0.1:1 and the 5s bound", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("took %s", d)
	}
	t.Logf("%s after %s", err, time.Since(start).Round(time.Millisecond))
}

// A server that accepts connections and never answers must not hang Open,
// and an HTTP server that is not Elasticsearch is named as such.
func TestOpenElasticsearchSilentOrForeignServer(t *testing.T) {
	url := "http://" + realserver.Silent(t)
	start := time.Now()
	_, err := Open(context.Background(), config.SearchStore{Driver: "elasticsearch", URLs: []string{url}, Index: "items"}, t.TempDir(), Timeout(300*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), url+" did not answer within 300ms") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}

	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"version": {"number": "2.11.0", "distribution": "opensearch"}}`))
	}))
	defer other.Close()
	_, err = Open(context.Background(), config.SearchStore{Driver: "elasticsearch", URLs: []string{other.URL}, Index: "items"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), other.URL) || !strings.Contains(err.Error(), "not Elasticsearch") {
		t.Fatalf("got %v", err)
	}
}

func TestOpenBleveRefusesUnusablePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), config.SearchStore{Driver: "bleve", Index: "items"}, file)
	if err == nil || !strings.Contains(err.Error(), "search: bleve index at "+filepath.Join(file, "search", "items")) {
		t.Fatalf("got %v", err)
	}

	// An index another process (here: another Open) holds is refused, not waited for.
	dir := t.TempDir()
	s, err := Open(context.Background(), config.SearchStore{Driver: "bleve", Index: "items"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if _, err := Open(context.Background(), config.SearchStore{Driver: "bleve", Index: "items"}, dir); err == nil || !strings.Contains(err.Error(), "another shopstream") {
		t.Fatalf("second open of an index in use: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.SearchStore
		want string
	}{
		{config.SearchStore{Driver: "solr", Index: "items"}, `unknown driver "solr"`},
		{config.SearchStore{Driver: "elasticsearch", Index: "items"}, "at least one URL"},
		{config.SearchStore{Driver: "bleve"}, "no index name"},
	} {
		if _, err := Open(context.Background(), tc.cfg, t.TempDir()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// Both adapters must reach the same schema version with the same build.
func TestAdaptersCarryTheSameMigrations(t *testing.T) {
	if b, e := len((&bleveIndex{}).migrations()), len((&elastic{}).migrations()); b != e {
		t.Fatalf("bleve has %d migrations, elasticsearch %d", b, e)
	}
}

// Every field is in both mappings; a stored field is indexed by neither
// (querying it is an error on Elasticsearch, and finds nothing on Bleve).
func TestMappingsCoverEveryField(t *testing.T) {
	es := esItemsMapping(nil)["properties"].(map[string]any)
	bl := bleveItemsMapping().DefaultMapping.Properties
	for _, f := range itemFields {
		if es[f.name] == nil || bl[f.name] == nil {
			t.Errorf("field %s: elasticsearch %v, bleve %v", f.name, es[f.name], bl[f.name])
			continue
		}
		if !f.stored {
			continue
		}
		if m := es[f.name].(map[string]any); m["index"] != false || m["doc_values"] != false {
			t.Errorf("stored field %s is indexed by elasticsearch: %v", f.name, m)
		}
		if fm := bl[f.name].Fields[0]; fm.Index || fm.DocValues || !fm.Store {
			t.Errorf("stored field %s is indexed by bleve: %+v", f.name, fm)
		}
	}
}
