package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
	"github.com/shopstream/shopstream/topics"
)

// metaVersion is the key of the items index's _meta that holds its schema
// version: the index is the schema, so the version travels with it.
const metaVersion = "shopstream_schema_version"

// refreshInterval is how soon a write becomes searchable.
const refreshInterval = "250ms"

// responseTimeout bounds how long a node may take to start answering, once
// connected. It matches Elasticsearch's own default master and ack timeouts:
// a node slower than that is stuck, not busy.
const responseTimeout = 30 * time.Second

// elastic is the production adapter.
type elastic struct {
	es       *elasticsearch.Client
	urls     string // for messages
	index    string
	replicas *int
}

func openElastic(ctx context.Context, cfg config.SearchStore, o options) (*elastic, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("search: elasticsearch driver needs at least one URL in stores.search.urls")
	}
	es, err := newElasticClient(cfg.URLs, o.timeout)
	if err != nil {
		return nil, err
	}
	e := &elastic{es: es, urls: strings.Join(cfg.URLs, ","), index: cfg.Index, replicas: o.replicas}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if _, err := e.do(ctx, "GET /", esapi.InfoRequest{}); err != nil {
		es.Close(context.Background())
		var netErr net.Error
		if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("search: elasticsearch at %s did not answer within %s: %w", e.urls, o.timeout, errors.Unwrap(err))
		}
		return nil, err
	}
	return e, nil
}

// newElasticClient is a client with bounded dial and response times.
// Compatibility mode stays off: it would make a 7.x server refuse the
// requests, and an 8.x server needs no header to accept them.
func newElasticClient(urls []string, timeout time.Duration) (*elasticsearch.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = timeout
	tr.ResponseHeaderTimeout = responseTimeout
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses:               urls,
		Transport:               tr,
		EnableCompatibilityMode: false,
	})
	if err != nil {
		return nil, fmt.Errorf("search: elasticsearch at %s: %w", strings.Join(urls, ","), err)
	}
	return es, nil
}

// statusError is an answer with an error status.
type statusError struct {
	Status int
	Type   string // Elasticsearch's error type, e.g. index_not_found_exception
	Reason string
}

func (e *statusError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("status %d: %s", e.Status, e.Reason)
	}
	return fmt.Sprintf("status %d %s: %s", e.Status, e.Type, e.Reason)
}

// do sends req and returns the answer's body. A failure names the server
// and what was asked; an error status is a *statusError inside it.
func (e *elastic) do(ctx context.Context, what string, req esapi.Request) ([]byte, error) {
	res, err := req.Do(ctx, e.es)
	if err != nil {
		return nil, fmt.Errorf("search: elasticsearch at %s: %s: %w", e.urls, what, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("search: elasticsearch at %s: %s: read answer: %w", e.urls, what, err)
	}
	if res.IsError() {
		se := &statusError{Status: res.StatusCode, Reason: strings.TrimSpace(string(body))}
		var answer struct {
			Error struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &answer) == nil && answer.Error.Type != "" {
			se.Type, se.Reason = answer.Error.Type, answer.Error.Reason
		}
		return nil, fmt.Errorf("search: elasticsearch at %s: %s: %w", e.urls, what, se)
	}
	return body, nil
}

func (e *elastic) String() string { return "elasticsearch index " + e.index + " at " + e.urls }

func meta(m schema.Migration) map[string]any {
	return map[string]any{metaVersion: m.Version, "shopstream_schema_name": m.Name}
}

func (e *elastic) migrations() []schema.Migration {
	v1 := schema.Migration{Version: 1, Name: "items mapping"}
	v1.Apply = func(ctx context.Context) error {
		settings := map[string]any{
			// One shard: exact facet counts and scores from the whole
			// index, and a catalog fits one shard many times over.
			"number_of_shards": 1,
			// A stock change must be searchable within 1 s end to end.
			"refresh_interval": refreshInterval,
		}
		if e.replicas != nil {
			settings["number_of_replicas"] = *e.replicas
		}
		// The index is created with its version in _meta, in one step: no
		// crash can leave an index without one.
		body, err := json.Marshal(map[string]any{"settings": settings, "mappings": esItemsMapping(meta(v1))})
		if err != nil {
			return err
		}
		_, err = e.do(ctx, "create index "+e.index, esapi.IndicesCreateRequest{Index: e.index, Body: bytes.NewReader(body)})
		return err
	}
	return []schema.Migration{v1}
}

func (e *elastic) Migrate(ctx context.Context) error {
	return schema.Migrate(ctx, e.String(), e, e.migrations())
}

func (e *elastic) recorder() schema.Recorder { return e }

func (e *elastic) SchemaVersion(ctx context.Context) (int, error) { return e.Version(ctx) }

// Version implements schema.Recorder: 0 while the index does not exist.
func (e *elastic) Version(ctx context.Context) (int, error) {
	body, err := e.do(ctx, "read mapping of "+e.index, esapi.IndicesGetMappingRequest{Index: []string{e.index}})
	var se *statusError
	if errors.As(err, &se) && se.Type == "index_not_found_exception" {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	// Keyed by the concrete index, which differs when e.index is an alias.
	var answer map[string]struct {
		Mappings struct {
			Meta map[string]any `json:"_meta"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return 0, fmt.Errorf("search: %s: read mapping: %w", e, err)
	}
	if len(answer) != 1 {
		return 0, fmt.Errorf("search: %s names %d indices; want one", e, len(answer))
	}
	var m map[string]any
	for _, idx := range answer {
		m = idx.Mappings.Meta
	}
	v, ok := m[metaVersion].(float64)
	if !ok {
		return 0, fmt.Errorf("search: %s exists without _meta.%s, so shopstream did not create it; delete it or choose another stores.search.index", e, metaVersion)
	}
	return int(v), nil
}

// Record implements schema.Recorder. It replaces the whole _meta, which
// shopstream owns.
func (e *elastic) Record(ctx context.Context, m schema.Migration) error {
	body, err := json.Marshal(map[string]any{"_meta": meta(m)})
	if err != nil {
		return err
	}
	_, err = e.do(ctx, "record schema version in _meta of "+e.index, esapi.IndicesPutMappingRequest{Index: []string{e.index}, Body: bytes.NewReader(body)})
	return err
}

// Health asks the node for its name and version (GET /).
func (e *elastic) Health(ctx context.Context) error {
	_, err := e.do(ctx, "GET /", esapi.InfoRequest{})
	return err
}

// Close releases the client's connections; a second Close is a no-op.
func (e *elastic) Close() error {
	if err := e.es.Close(context.Background()); err != nil && !errors.Is(err, elasticsearch.ErrAlreadyClosed) {
		return fmt.Errorf("search: close client of %s: %w", e, err)
	}
	return nil
}

// Index sends the listings in bulk requests with their versions as
// external versions: Elasticsearch writes a document only over an older
// one and answers 409 for the others, which are stale. A large batch goes
// as bulkParallel requests at once: one bulk request into the index's one
// shard runs on one write thread, and several keep the server busy while
// the client encodes and reads answers (a replay of listings into
// Elasticsearch here: 18k records/s with one request a batch, 40k with
// two, 51-53k with four or six).
func (e *elastic) Index(ctx context.Context, listings []topics.Listing) (IndexStats, error) {
	var st IndexStats
	var sent []int // the position in listings of each listing sent
	for i, l := range listings {
		if why := reject(l); why != "" {
			st.Rejected = append(st.Rejected, Rejection{Position: i, ItemID: l.ItemID, Reason: why})
			continue
		}
		sent = append(sent, i)
	}
	parts := 1
	if len(sent) >= bulkParallel*minParallelBulk {
		parts = bulkParallel
	}
	results := make([]IndexStats, parts)
	g, gctx := errgroup.WithContext(ctx)
	for p := range parts {
		part := sent[p*len(sent)/parts : (p+1)*len(sent)/parts]
		g.Go(func() (err error) {
			results[p], err = e.bulk(gctx, listings, part)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return IndexStats{}, err
	}
	for _, r := range results {
		st.Indexed += r.Indexed
		st.Stale += r.Stale
		st.Rejected = append(st.Rejected, r.Rejected...)
	}
	slices.SortFunc(st.Rejected, func(a, b Rejection) int { return a.Position - b.Position })
	return st, nil
}

// bulkParallel is how many bulk requests one Index sends at once, when it
// has at least minParallelBulk listings for each.
const (
	bulkParallel    = 4
	minParallelBulk = 500
)

// bulk indexes the listings at the positions sent in one bulk request.
func (e *elastic) bulk(ctx context.Context, listings []topics.Listing, sent []int) (IndexStats, error) {
	var st IndexStats
	if len(sent) == 0 {
		return st, nil
	}
	var body []byte
	for _, i := range sent {
		l := listings[i]
		body = topics.AppendJSONString(append(body, `{"index":{"_id":`...), l.ItemID)
		body = strconv.AppendInt(append(body, `,"version":`...), l.Version, 10)
		body = append(appendDocument(append(body, `,"version_type":"external"}}`+"\n"...), l), '\n')
	}
	what := fmt.Sprintf("bulk index %d listings into %s", len(sent), e.index)
	// Only what is read back: the answer otherwise repeats the index, id,
	// version and shard counts of every document.
	answer, err := e.do(ctx, what, esapi.BulkRequest{Index: e.index, Body: bytes.NewReader(body),
		FilterPath: []string{"items.*.status", "items.*.error.type", "items.*.error.reason"}})
	if err != nil {
		return IndexStats{}, err
	}
	var res struct {
		Items []struct {
			Index struct {
				Status int `json:"status"`
				Error  struct {
					Type   string `json:"type"`
					Reason string `json:"reason"`
				} `json:"error"`
			} `json:"index"`
		} `json:"items"`
	}
	if err := json.Unmarshal(answer, &res); err != nil {
		return IndexStats{}, fmt.Errorf("search: elasticsearch at %s: %s: read answer: %w", e.urls, what, err)
	}
	if len(res.Items) != len(sent) {
		return IndexStats{}, fmt.Errorf("search: elasticsearch at %s: %s: %d answers for %d listings", e.urls, what, len(res.Items), len(sent))
	}
	var retry []error
	for j, item := range res.Items {
		r, l := item.Index, listings[sent[j]]
		switch {
		case r.Status < 300:
			st.Indexed++
		case r.Status == http.StatusConflict:
			st.Stale++
		case r.Status == http.StatusTooManyRequests || r.Status >= 500:
			retry = append(retry, fmt.Errorf("%s: status %d %s: %s", l.ItemID, r.Status, r.Error.Type, r.Error.Reason))
		default:
			st.Rejected = append(st.Rejected, Rejection{Position: sent[j], ItemID: l.ItemID,
				Reason: fmt.Sprintf("elasticsearch refused it: status %d %s: %s", r.Status, r.Error.Type, r.Error.Reason)})
		}
	}
	if len(retry) > 0 {
		return IndexStats{}, fmt.Errorf("search: elasticsearch at %s: %s: %d failed for now: %w", e.urls, what, len(retry), errors.Join(retry...))
	}
	return st, nil
}

func (e *elastic) Get(ctx context.Context, itemID string) (topics.Listing, bool, error) {
	body, err := e.do(ctx, "get "+itemID+" from "+e.index, esapi.GetRequest{Index: e.index, DocumentID: itemID})
	var se *statusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound && se.Type == "" {
		return topics.Listing{}, false, nil // a missing index has a type
	}
	if err != nil {
		return topics.Listing{}, false, err
	}
	var answer struct {
		Source topics.Listing `json:"_source"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return topics.Listing{}, false, fmt.Errorf("search: %s: get %s: read answer: %w", e, itemID, err)
	}
	return answer.Source, true, nil
}

func (e *elastic) Search(ctx context.Context, q Query) (Result, error) {
	return search(ctx, e.run, q)
}

func (e *elastic) Suggest(ctx context.Context, prefix string, n int) ([]string, error) {
	return suggest(ctx, e.run, prefix, n)
}

func (e *elastic) run(ctx context.Context, p plan) (Result, error) {
	req, err := json.Marshal(esRequest(p))
	if err != nil {
		return Result{}, err
	}
	body, err := e.do(ctx, "search "+e.index, esapi.SearchRequest{Index: []string{e.index}, Body: bytes.NewReader(req)})
	if err != nil {
		return Result{}, err
	}
	type bucket struct {
		Key      string `json:"key"`
		DocCount int64  `json:"doc_count"`
	}
	var answer struct {
		Hits struct {
			Total struct {
				Value int64 `json:"value"`
			} `json:"total"`
			Hits []struct {
				Score  *float64       `json:"_score"`
				Source topics.Listing `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
		Aggregations map[string]struct {
			Buckets []bucket `json:"buckets"`
		} `json:"aggregations"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return Result{}, fmt.Errorf("search: %s: search: read answer: %w", e, err)
	}
	out := Result{Total: answer.Hits.Total.Value, Hits: make([]Hit, len(answer.Hits.Hits))}
	for i, h := range answer.Hits.Hits {
		out.Hits[i] = Hit{Item: h.Source}
		if p.scored() && h.Score != nil {
			out.Hits[i].Score = *h.Score
		}
	}
	if !p.facets {
		return out, nil
	}
	terms := func(name string) []FacetValue {
		vals := []FacetValue{}
		for _, b := range answer.Aggregations[name].Buckets {
			vals = append(vals, FacetValue{Value: b.Key, Count: b.DocCount})
		}
		return vals
	}
	out.Facets.Category, out.Facets.Brand = terms(categoryField), terms(brandField)
	prices := map[string]int64{}
	for _, b := range answer.Aggregations[priceField].Buckets {
		prices[b.Key] = b.DocCount
	}
	out.Facets.Price = newPriceFacet(prices)
	return out, nil
}

// refresh makes every write so far searchable now.
func (e *elastic) refresh(ctx context.Context) error {
	_, err := e.do(ctx, "refresh "+e.index, esapi.IndicesRefreshRequest{Index: []string{e.index}})
	return err
}

// esRequest translates a plan into an Elasticsearch search body.
func esRequest(p plan) map[string]any {
	must := []any{}
	for _, w := range p.words {
		must = append(must, esWord(w, p.fields))
	}
	filters := make([]any, len(p.filters))
	for i, f := range p.filters {
		if f.value != nil {
			filters[i] = map[string]any{"term": map[string]any{f.field: f.value}}
			continue
		}
		bounds := map[string]any{}
		if f.gte != nil {
			bounds["gte"] = *f.gte
		}
		if f.lte != nil {
			bounds["lte"] = *f.lte
		}
		filters[i] = map[string]any{"range": map[string]any{f.field: bounds}}
	}
	sort := make([]any, len(p.sort))
	for i, k := range p.sort {
		order := map[string]any{"order": "asc"}
		if k.desc {
			order["order"] = "desc"
		}
		if k.field != scoreField {
			order["missing"] = "_last"
		}
		sort[i] = map[string]any{k.field: order}
	}
	body := map[string]any{
		"query":            map[string]any{"bool": map[string]any{"must": must, "filter": filters}},
		"from":             p.from,
		"size":             p.size,
		"sort":             sort,
		"track_total_hits": true,
	}
	if p.facets {
		aggs := map[string]any{}
		for _, name := range termFacets {
			aggs[name] = map[string]any{"terms": map[string]any{"field": name, "size": FacetSize}}
		}
		ranges := make([]any, len(PriceBuckets))
		for i, b := range PriceBuckets {
			r := map[string]any{"key": b.Key}
			if b.FromCents != nil {
				r["from"] = *b.FromCents
			}
			if b.ToCents != nil {
				r["to"] = *b.ToCents
			}
			ranges[i] = r
		}
		aggs[priceField] = map[string]any{"range": map[string]any{"field": priceField, "ranges": ranges}}
		body["aggs"] = aggs
	}
	return body
}

// esWord is a word's clauses in every field: the exact term scored by
// BM25, and a constant for a fuzzy or prefix match. Terms are already
// analyzed, so term-level queries fit.
func esWord(w word, fields []textField) map[string]any {
	var should []any
	for _, f := range fields {
		should = append(should, map[string]any{"term": map[string]any{f.name: map[string]any{"value": w.term, "boost": f.boost}}})
		if !w.loose() {
			continue
		}
		var loose []any
		if w.fuzziness > 0 {
			// Bleve's automaton counts a transposition as two edits.
			loose = append(loose, map[string]any{"fuzzy": map[string]any{f.name: map[string]any{
				"value": w.term, "fuzziness": w.fuzziness, "prefix_length": 0, "transpositions": false, "rewrite": "constant_score"}}})
		}
		if w.prefix {
			loose = append(loose, map[string]any{"prefix": map[string]any{f.name: map[string]any{"value": w.term, "rewrite": "constant_score"}}})
		}
		should = append(should, map[string]any{"constant_score": map[string]any{
			"filter": map[string]any{"bool": map[string]any{"should": loose}}, "boost": f.boost * looseWeight}})
	}
	return map[string]any{"bool": map[string]any{"should": should, "minimum_should_match": 1}}
}
