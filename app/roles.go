package app

import (
	"context"
	"fmt"
	"sort"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/api"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/processors/inventory"
	"github.com/shopstream/shopstream/processors/listing"
	"github.com/shopstream/shopstream/sinks/search"
)

// Processors are the goka processors by the name `shopstream process`
// takes.
var Processors = map[string]func(*processors.Runtime) *goka.GroupGraph{
	"catalog":   func(rt *processors.Runtime) *goka.GroupGraph { return catalog.Graph(catalog.Group, rt) },
	"inventory": func(rt *processors.Runtime) *goka.GroupGraph { return inventory.Graph(inventory.Group, rt) },
	"listing":   func(rt *processors.Runtime) *goka.GroupGraph { return listing.Graph(listing.Group, rt) },
}

// ProcessorNames lists Processors, sorted.
func ProcessorNames() []string {
	names := make([]string, 0, len(Processors))
	for n := range Processors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// RunProcessor adds the named processor to the process.
func (a *App) RunProcessor(name string) error {
	graph, ok := Processors[name]
	if !ok {
		return fmt.Errorf("app: no processor %q (have %v)", name, ProcessorNames())
	}
	p, err := a.Runtime.NewProcessor(graph(a.Runtime))
	if err != nil {
		return err
	}
	a.Go("processor "+name, p.Run)
	return nil
}

// RunSearchSink indexes the listings topic into the search store, which
// must have been opened (SearchStore).
func (a *App) RunSearchSink() error {
	if a.Stores.Search == nil {
		return fmt.Errorf("app: the search sink needs the search store")
	}
	sink, err := search.NewSink(a.Stores.Search, a.kafkaOpts, "search-sink", a.Producer,
		search.SinkLogger(a.Log), search.ConsumerOptions(eventlog.CountIn(a.Metrics.RecordsIn)))
	if err != nil {
		return err
	}
	a.Go("search sink", sink.Run)
	return nil
}

// ServeAPI mounts the REST edge: supplier ingestion, items and search. It
// reads the catalog and inventory tables through goka views, which count
// towards readiness until they have caught up.
func (a *App) ServeAPI() error {
	if a.Stores.Search == nil {
		return fmt.Errorf("app: the API needs the search store")
	}
	cv, err := a.Runtime.NewView(catalog.Table, catalog.Codec{})
	if err != nil {
		return err
	}
	iv, err := a.Runtime.NewView(inventory.Table, inventory.Codec{})
	if err != nil {
		return err
	}
	a.Go("view "+string(catalog.Table), cv.Run)
	a.Go("view "+string(inventory.Table), iv.Run)
	views := tableViews{catalog: cv, inventory: iv}
	ingest.NewHandler(a.Producer, views, a.Log).Mount(a.Mux)
	api.New(a.Producer, views, a.Stores.Search, api.Logger(a.Log)).Mount(a.Mux)
	return nil
}

// tableViews reads the processors' tables for the API.
type tableViews struct{ catalog, inventory *goka.View }

func (v tableViews) Item(id string) (catalog.Item, bool, error) {
	return get[catalog.Item](v.catalog, id)
}

func (v tableViews) Stock(id string) (inventory.Stock, bool, error) {
	return get[inventory.Stock](v.inventory, id)
}

// SupplierInventory walks the inventory table for the warehouses the
// supplier reported. It reads every item: a per-supplier table is the
// next step if suppliers with very large catalogs call it often.
func (v tableViews) SupplierInventory(ctx context.Context, supplierID string) ([]ingest.ItemStock, error) {
	it, err := v.inventory.Iterator()
	if err != nil {
		return nil, err
	}
	defer it.Release()
	var out []ingest.ItemStock
	for it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		val, err := it.Value()
		if err != nil {
			return nil, err
		}
		st, ok := val.(inventory.Stock)
		if !ok {
			continue
		}
		for wh, l := range st.Warehouses {
			if l.SupplierID == supplierID {
				out = append(out, ingest.ItemStock{ItemID: st.ItemID, WarehouseID: wh, OnHand: l.OnHand})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ItemID != out[j].ItemID {
			return out[i].ItemID < out[j].ItemID
		}
		return out[i].WarehouseID < out[j].WarehouseID
	})
	return out, nil
}

func get[T any](v *goka.View, key string) (T, bool, error) {
	var zero T
	if !v.Recovered() {
		return zero, false, fmt.Errorf("view %s is still recovering", v.Topic())
	}
	val, err := v.Get(key)
	if err != nil || val == nil {
		return zero, false, err
	}
	t, ok := val.(T)
	if !ok {
		return zero, false, fmt.Errorf("view %s holds %T, not %T", v.Topic(), val, zero)
	}
	return t, true, nil
}

// AllInOne adds every role to the process.
func (a *App) AllInOne() error {
	for _, name := range ProcessorNames() {
		if err := a.RunProcessor(name); err != nil {
			return err
		}
	}
	if err := a.RunSearchSink(); err != nil {
		return err
	}
	return a.ServeAPI()
}
