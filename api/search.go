package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/sinks/search"
	"github.com/shopstream/shopstream/topics"
)

var searchParams = []string{"q", "category", "brand", "min_price", "max_price", "in_stock", "sort", "page", "size", "user_id"}

type hitResponse struct {
	ItemID     string            `json:"item_id"`
	Title      string            `json:"title"`
	Category   string            `json:"category"`
	Brand      string            `json:"brand,omitempty"`
	PriceCents int64             `json:"price_cents"`
	Currency   string            `json:"currency"`
	OnHand     int64             `json:"on_hand"`
	InStock    bool              `json:"in_stock"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Score      float64           `json:"score,omitempty"`
}

type searchResponse struct {
	QueryID string         `json:"query_id"`
	Total   int64          `json:"total"`
	Page    int            `json:"page"`
	Size    int            `json:"size"`
	Hits    []hitResponse  `json:"hits"`
	Facets  facetsResponse `json:"facets"`
}

type facetsResponse struct {
	Category []search.FacetValue  `json:"category"`
	Brand    []search.FacetValue  `json:"brand"`
	Price    []search.PriceBucket `json:"price"`
}

func badParam(name, format string, args ...any) *rest.Error {
	return rest.Errorf(http.StatusBadRequest, rest.CodeInvalidParameter, "parameter "+name+": "+format, args...).
		WithDetails(map[string]string{"parameter": name})
}

// parseQuery turns the query string into a search.Query, refusing unknown
// parameters and bad values with the parameter's name.
func parseQuery(v url.Values) (search.Query, *rest.Error) {
	q := search.Query{Page: 1, Size: search.DefaultSize, Sort: search.SortRelevance}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(searchParams, name) {
			return q, badParam(name, "unknown; use %s", strings.Join(searchParams, ", "))
		}
		if len(v[name]) > 1 {
			return q, badParam(name, "given %d times", len(v[name]))
		}
	}
	q.Text, q.Category, q.Brand = v.Get("q"), v.Get("category"), v.Get("brand")
	for _, p := range []struct {
		name string
		dst  **int64
	}{{"min_price", &q.MinPriceCents}, {"max_price", &q.MaxPriceCents}} {
		if s := v.Get(p.name); s != "" {
			c, err := parseCents(s)
			if err != nil {
				return q, badParam(p.name, "%v", err)
			}
			*p.dst = &c
		}
	}
	if s := v.Get("in_stock"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, badParam("in_stock", "%q is not true or false", s)
		}
		q.InStock = &b
	}
	if s := v.Get("sort"); s != "" {
		q.Sort = s
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"page", &q.Page}, {"size", &q.Size}} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return q, badParam(p.name, "%q is not a whole number", s)
			}
			*p.dst = n
		}
	}
	return q, nil
}

func (s *Server) searchItems(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.Query())
	if perr != nil {
		rest.WriteError(w, s.log, perr)
		return
	}
	res, err := s.search.Search(r.Context(), q)
	if err != nil {
		s.writeSearchError(w, err)
		return
	}
	out := searchResponse{Total: res.Total, Page: q.Page, Size: q.Size, Hits: make([]hitResponse, len(res.Hits)),
		Facets: facetsResponse{Category: res.Facets.Category, Brand: res.Facets.Brand, Price: res.Facets.Price}}
	ids := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		it := h.Item
		out.Hits[i] = hitResponse{ItemID: it.ItemID, Title: it.Title, Category: it.Category, Brand: it.Brand, PriceCents: it.PriceCents,
			Currency: it.Currency, OnHand: it.OnHand, InStock: it.OnHand > 0, Attributes: it.Attributes, Score: h.Score}
		ids[i] = it.ItemID
	}
	out.QueryID = s.emitQuery(r, topics.SearchQueried{UserID: userOf(r), Query: q.Text, Filters: filtersOf(r.URL.Query()), ResultIDs: ids})
	rest.JSON(w, http.StatusOK, out)
}

func (s *Server) writeSearchError(w http.ResponseWriter, err error) {
	var qe *search.QueryError
	if errors.As(err, &qe) {
		rest.WriteError(w, s.log, badParam(paramOf(qe.Field), "%s", qe.Reason))
		return
	}
	s.log.Error("search failed", "err", err)
	rest.WriteError(w, s.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "search is unavailable; retry"))
}

// paramOf maps a search.Query field to its query parameter.
func paramOf(field string) string {
	switch field {
	case "text", "prefix":
		return "q"
	case "min_price_cents":
		return "min_price"
	case "max_price_cents":
		return "max_price"
	}
	return field
}

func (s *Server) suggest(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	n := 10
	if ns := v.Get("n"); ns != "" {
		var err error
		if n, err = strconv.Atoi(ns); err != nil {
			rest.WriteError(w, s.log, badParam("n", "%q is not a whole number", ns))
			return
		}
	}
	out, err := s.search.Suggest(r.Context(), v.Get("q"), n)
	if err != nil {
		s.writeSearchError(w, err)
		return
	}
	if out == nil {
		out = []string{}
	}
	rest.JSON(w, http.StatusOK, map[string]any{"q": v.Get("q"), "suggestions": out})
}

type clickRequest struct {
	QueryID string   `json:"query_id"`
	Query   string   `json:"query"`
	ItemIDs []string `json:"item_ids"`
	UserID  string   `json:"user_id"`
}

// clicks records which results of a search the user opened.
func (s *Server) clicks(w http.ResponseWriter, r *http.Request) {
	var c clickRequest
	if err := rest.Decode(w, r, 16<<10, &c); err != nil {
		rest.WriteError(w, s.log, err)
		return
	}
	if len(c.ItemIDs) == 0 || len(c.ItemIDs) > search.MaxSize {
		rest.WriteError(w, s.log, rest.Errorf(http.StatusUnprocessableEntity, rest.CodeValidation, "item_ids must hold 1 to %d ids", search.MaxSize))
		return
	}
	if c.UserID == "" {
		c.UserID = userOf(r)
	}
	filters := map[string]string{}
	if c.QueryID != "" {
		filters["query_id"] = c.QueryID
	}
	id := s.emitQuery(r, topics.SearchQueried{UserID: c.UserID, Query: c.Query, Filters: filters, ClickedIDs: c.ItemIDs})
	rest.JSON(w, http.StatusAccepted, map[string]string{"event_id": id})
}

// emitQuery produces a search.queried event without holding up the
// answer: search events feed recommendations and analytics, and a failure
// to produce one is logged rather than failing the search.
func (s *Server) emitQuery(r *http.Request, q topics.SearchQueried) string {
	key := q.UserID
	if key == "" {
		key = q.Query
	}
	ev, err := topics.New(topics.TypeSearchQueried, key, q)
	if err != nil {
		s.log.Error("search event not built", "err", err)
		return ""
	}
	s.producer.Produce(context.WithoutCancel(r.Context()), topics.SearchQueries, ev, func(err error) {
		if err != nil {
			s.log.Warn("search event not produced", "event_id", ev.ID, "err", err)
		}
	})
	return ev.ID
}

// userOf is the caller's user id, from the X-User-ID header or user_id.
func userOf(r *http.Request) string {
	if u := r.Header.Get("X-User-ID"); u != "" {
		return u
	}
	return r.URL.Query().Get("user_id")
}

func filtersOf(v url.Values) map[string]string {
	f := map[string]string{}
	for _, k := range []string{"category", "brand", "min_price", "max_price", "in_stock", "sort"} {
		if s := v.Get(k); s != "" {
			f[k] = s
		}
	}
	return f
}
