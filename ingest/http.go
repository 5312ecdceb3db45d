package ingest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/topics"
)

// DefaultMaxBodyBytes bounds a batch request's body: 1000 items of up to
// 16 KiB each, far more than a real item takes.
const DefaultMaxBodyBytes = 16 << 20

// Per-item statuses in a batch response.
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
	// StatusFailed: valid, but Kafka did not acknowledge it (503).
	StatusFailed = "failed"
)

// ItemStock is the on-hand count a supplier set for one item in one
// warehouse.
type ItemStock struct {
	ItemID      string
	WarehouseID string
	OnHand      int64
}

// InventoryReader reads the stock levels a supplier has set, as the
// inventory processor has applied them.
type InventoryReader interface {
	SupplierInventory(ctx context.Context, supplierID string) ([]ItemStock, error)
}

// Handler serves the supplier ingestion API.
type Handler struct {
	producer   *eventlog.Producer
	inventory  InventoryReader
	log        *slog.Logger
	maxBody    int64
	ackTimeout time.Duration
}

// HandlerOption configures a Handler.
type HandlerOption func(*Handler)

// MaxBodyBytes bounds a request body (default DefaultMaxBodyBytes); a
// larger one is refused with 413.
func MaxBodyBytes(n int64) HandlerOption { return func(h *Handler) { h.maxBody = n } }

// AckTimeout bounds the wait for Kafka to acknowledge a batch (default
// 10s); past it the request fails with 503.
func AckTimeout(d time.Duration) HandlerOption { return func(h *Handler) { h.ackTimeout = d } }

// NewHandler serves the supplier API: batches are validated, their valid
// records produced through producer, and answered once acknowledged.
// inventory answers GET .../inventory; nil answers 503 there.
func NewHandler(producer *eventlog.Producer, inventory InventoryReader, log *slog.Logger, opts ...HandlerOption) *Handler {
	h := &Handler{producer: producer, inventory: inventory, log: log, maxBody: DefaultMaxBodyBytes, ackTimeout: 10 * time.Second}
	if h.log == nil {
		h.log = slog.Default()
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Mount adds the routes to mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/suppliers/{supplier_id}/items", h.postItems)
	mux.HandleFunc("PUT /v1/suppliers/{supplier_id}/inventory", h.putInventory)
	mux.HandleFunc("GET /v1/suppliers/{supplier_id}/inventory", h.getInventory)
}

// Result is the outcome of one record of a batch.
type Result struct {
	Index       int          `json:"index"`
	ItemID      string       `json:"item_id,omitempty"`
	WarehouseID string       `json:"warehouse_id,omitempty"`
	Status      string       `json:"status"`
	EventID     string       `json:"event_id,omitempty"`
	Errors      []FieldError `json:"errors,omitempty"`
}

// BatchResponse answers a batch: 200 when every record was accepted, 207
// when some were; it is also the details of a 422 or 503 error.
type BatchResponse struct {
	SupplierID string   `json:"supplier_id"`
	Accepted   int      `json:"accepted"`
	Rejected   int      `json:"rejected"`
	Failed     int      `json:"failed,omitempty"`
	Results    []Result `json:"results"`
}

type itemsBody struct {
	Items *[]json.RawMessage `json:"items"`
}

type levelsBody struct {
	Levels *[]json.RawMessage `json:"levels"`
}

func (h *Handler) postItems(w http.ResponseWriter, r *http.Request) {
	var body itemsBody
	h.batch(w, r, KindItems, "items", &body, func() *[]json.RawMessage { return body.Items })
}

func (h *Handler) putInventory(w http.ResponseWriter, r *http.Request) {
	var body levelsBody
	h.batch(w, r, KindStock, "levels", &body, func() *[]json.RawMessage { return body.Levels })
}

// batch decodes {"<field>": [...]} strictly, then each element on its
// own, so a malformed element is reported at its index and never costs
// the valid ones. Valid records are produced and the answer waits for
// Kafka's acknowledgement.
func (h *Handler) batch(w http.ResponseWriter, r *http.Request, kind Kind, field string, body any, elems func() *[]json.RawMessage) {
	supplier, perr := supplierParam(r)
	if perr != nil {
		rest.WriteError(w, h.log, perr)
		return
	}
	if err := rest.Decode(w, r, h.maxBody, body); err != nil {
		rest.WriteError(w, h.log, err)
		return
	}
	raws := elems()
	switch {
	case raws == nil:
		rest.WriteError(w, h.log, rest.Errorf(http.StatusBadRequest, rest.CodeInvalidJSON, `body must be {"%s": [...]}`, field))
		return
	case len(*raws) > MaxBatchItems:
		rest.WriteError(w, h.log, rest.Errorf(http.StatusRequestEntityTooLarge, rest.CodeBodyTooLarge,
			"%s has %d entries, at most %d per request", field, len(*raws), MaxBatchItems))
		return
	case len(*raws) == 0:
		rest.WriteError(w, h.log, rest.Errorf(http.StatusUnprocessableEntity, rest.CodeValidation, "%s is empty: send 1 to %d entries", field, MaxBatchItems))
		return
	}
	resp := BatchResponse{SupplierID: supplier, Results: make([]Result, len(*raws))}
	var valid []int
	var evs []topics.Event
	for i, raw := range *raws {
		rec, errs := accept(string(raw), func(b string) (record, []FieldError) { return decodeJSON(b, kind) }, supplier)
		res := &resp.Results[i]
		res.Index, res.ItemID = i, rec.itemID()
		if kind == KindStock {
			res.WarehouseID = rec.stock.WarehouseID
		}
		if len(errs) > 0 {
			res.Status, res.Errors = StatusRejected, errs
			resp.Rejected++
			continue
		}
		ev, err := rec.event()
		if err != nil {
			rest.WriteError(w, h.log, err)
			return
		}
		res.EventID = ev.ID
		valid = append(valid, i)
		evs = append(evs, ev)
	}
	failed := h.produce(r.Context(), kind.Topic(), evs)
	for j, i := range valid {
		res := &resp.Results[i]
		if failed[j] != nil {
			res.Status, res.EventID = StatusFailed, ""
			resp.Failed++
		} else {
			res.Status = StatusAccepted
			resp.Accepted++
		}
	}
	switch {
	case resp.Failed > 0:
		h.log.Error("supplier batch not acknowledged", "supplier", supplier, "topic", kind.Topic(), "failed", resp.Failed, "err", firstErr(failed))
		rest.WriteError(w, h.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable,
			"Kafka did not acknowledge %d of %d valid %s; send the batch again (upserts and stock levels are absolute, so a retry is safe)",
			resp.Failed, len(valid), field).WithDetails(resp))
	case resp.Accepted == 0:
		rest.WriteError(w, h.log, rest.Errorf(http.StatusUnprocessableEntity, rest.CodeValidation,
			"%s: %d rejected, none accepted; see details.results", field, len(resp.Results)).WithDetails(resp))
	case resp.Rejected > 0:
		rest.JSON(w, http.StatusMultiStatus, resp)
	default:
		rest.JSON(w, http.StatusOK, resp)
	}
}

// produce sends evs and waits for every acknowledgement (or AckTimeout);
// it returns each event's error.
func (h *Handler) produce(ctx context.Context, topic string, evs []topics.Event) []error {
	errs := make([]error, len(evs))
	if len(evs) == 0 {
		return errs
	}
	ctx, cancel := context.WithTimeout(ctx, h.ackTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(len(evs))
	for i, ev := range evs {
		h.producer.Produce(ctx, topic, ev, func(err error) {
			errs[i] = err
			wg.Done()
		})
	}
	wg.Wait()
	return errs
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// WarehouseStock is one warehouse's count in an inventory answer.
type WarehouseStock struct {
	WarehouseID string `json:"warehouse_id"`
	OnHand      int64  `json:"on_hand"`
}

// InventoryItem is one item's stock in an inventory answer: the total and
// each warehouse.
type InventoryItem struct {
	ItemID     string           `json:"item_id"`
	OnHand     int64            `json:"on_hand"`
	Warehouses []WarehouseStock `json:"warehouses"`
}

// InventoryResponse answers GET /v1/suppliers/{supplier_id}/inventory.
type InventoryResponse struct {
	SupplierID string          `json:"supplier_id"`
	Items      []InventoryItem `json:"items"`
}

func (h *Handler) getInventory(w http.ResponseWriter, r *http.Request) {
	supplier, perr := supplierParam(r)
	if perr != nil {
		rest.WriteError(w, h.log, perr)
		return
	}
	if h.inventory == nil {
		rest.WriteError(w, h.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the inventory view is not running in this process"))
		return
	}
	levels, err := h.inventory.SupplierInventory(r.Context(), supplier)
	if err != nil {
		h.log.Error("supplier inventory read failed", "supplier", supplier, "err", err)
		rest.WriteError(w, h.log, rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the inventory view cannot answer right now; try again"))
		return
	}
	rest.JSON(w, http.StatusOK, InventoryResponse{SupplierID: supplier, Items: groupStock(levels)})
}

// groupStock groups levels by item, sorted by item then warehouse.
func groupStock(levels []ItemStock) []InventoryItem {
	sorted := append([]ItemStock(nil), levels...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].ItemID != sorted[j].ItemID {
			return sorted[i].ItemID < sorted[j].ItemID
		}
		return sorted[i].WarehouseID < sorted[j].WarehouseID
	})
	items := []InventoryItem{}
	for _, l := range sorted {
		if n := len(items); n == 0 || items[n-1].ItemID != l.ItemID {
			items = append(items, InventoryItem{ItemID: l.ItemID})
		}
		it := &items[len(items)-1]
		it.OnHand += l.OnHand
		it.Warehouses = append(it.Warehouses, WarehouseStock{WarehouseID: l.WarehouseID, OnHand: l.OnHand})
	}
	return items
}

func supplierParam(r *http.Request) (string, *rest.Error) {
	s := r.PathValue("supplier_id")
	if !IsID(s) {
		return "", rest.Errorf(http.StatusBadRequest, rest.CodeInvalidParameter, "%s", badID("supplier_id", s))
	}
	return s, nil
}
