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
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
)

// metaVersion is the key of the items index's _meta that holds its schema
// version: the index is the schema, so the version travels with it.
const metaVersion = "shopstream_schema_version"

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
		settings := map[string]any{}
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
