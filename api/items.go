package api

import (
	"context"
	"net/http"
	"time"

	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors/inventory"
	"github.com/shopstream/shopstream/topics"
)

// itemResponse is an item with its live stock.
type itemResponse struct {
	ItemID      string            `json:"item_id"`
	SupplierID  string            `json:"supplier_id"`
	Version     int64             `json:"version"`
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	Category    string            `json:"category"`
	Brand       string            `json:"brand,omitempty"`
	PriceCents  int64             `json:"price_cents"`
	Currency    string            `json:"currency"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	Stock       stockResponse     `json:"stock"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

type stockResponse struct {
	OnHand     int64            `json:"on_hand"`
	InStock    bool             `json:"in_stock"`
	Warehouses map[string]int64 `json:"warehouses"`
	Version    int64            `json:"version"`
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("item_id")
	it, ok, err := s.catalog.Item(id)
	if err != nil {
		rest.WriteError(w, s.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the catalog is not readable yet: %v", err))
		return
	}
	if !ok {
		rest.WriteError(w, s.log, rest.Errorf(http.StatusNotFound, rest.CodeNotFound, "item %q not found", id).WithDetails(map[string]string{"item_id": id}))
		return
	}
	st, _, err := s.catalog.Stock(id)
	if err != nil {
		rest.WriteError(w, s.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "inventory is not readable yet: %v", err))
		return
	}
	rest.JSON(w, http.StatusOK, itemResponse{
		ItemID: it.ItemID, SupplierID: it.SupplierID, Version: it.Version, Title: it.Title, Description: it.Description,
		Category: it.Category, Brand: it.Brand, PriceCents: it.PriceCents, Currency: it.Currency, Attributes: it.Attributes,
		Stock: stockOf(st), CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	})
}

func stockOf(st inventory.Stock) stockResponse {
	wh := make(map[string]int64, len(st.Warehouses))
	for id, l := range st.Warehouses {
		wh[id] = l.OnHand
	}
	return stockResponse{OnHand: st.OnHand, InStock: st.OnHand > 0, Warehouses: wh, Version: st.Version}
}

func (s *Server) requireAdmin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.admin(r); err != nil {
			rest.WriteError(w, s.log, rest.Errorf(http.StatusForbidden, "forbidden", "%v", err))
			return
		}
		h(w, r)
	}
}

// createItem is the admin upsert of one item on behalf of its supplier.
func (s *Server) createItem(w http.ResponseWriter, r *http.Request) { s.upsert(w, r, "") }

// putItem is createItem with the id in the path.
func (s *Server) putItem(w http.ResponseWriter, r *http.Request) {
	s.upsert(w, r, r.PathValue("item_id"))
}

func (s *Server) upsert(w http.ResponseWriter, r *http.Request, pathID string) {
	var it topics.SupplierItemUpserted
	if err := rest.Decode(w, r, 64<<10, &it); err != nil {
		rest.WriteError(w, s.log, err)
		return
	}
	if pathID != "" {
		if it.ItemID != "" && it.ItemID != pathID {
			rest.WriteError(w, s.log, rest.Errorf(http.StatusBadRequest, rest.CodeValidation, "item_id %q in the body is not %q from the path", it.ItemID, pathID))
			return
		}
		it.ItemID = pathID
	}
	if errs := ingest.ValidateItem("", it); len(errs) > 0 {
		rest.WriteError(w, s.log, rest.Errorf(http.StatusUnprocessableEntity, rest.CodeValidation, "the item is invalid").WithDetails(errs))
		return
	}
	ev, err := topics.New(topics.TypeSupplierItemUpserted, it.ItemID, it)
	if err != nil {
		rest.WriteError(w, s.log, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.ackTimeout)
	defer cancel()
	if err := s.producer.Publish(ctx, topics.SupplierItems, ev); err != nil {
		s.log.Error("admin item upsert not acknowledged", "item_id", it.ItemID, "err", err)
		rest.WriteError(w, s.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the upsert was not acknowledged by Kafka; retry"))
		return
	}
	// 202: the catalog processor applies it; GET /v1/items/{id} shows it then.
	rest.JSON(w, http.StatusAccepted, map[string]string{"item_id": it.ItemID, "event_id": ev.ID, "status": "accepted"})
}
