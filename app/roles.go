package app

import (
	"context"
	"fmt"
	"sort"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/api"
	"github.com/shopstream/shopstream/api/ordertaking"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/payment"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/cart"
	"github.com/shopstream/shopstream/processors/catalog"
	"github.com/shopstream/shopstream/processors/inventory"
	"github.com/shopstream/shopstream/processors/listing"
	"github.com/shopstream/shopstream/processors/membership"
	"github.com/shopstream/shopstream/processors/notification"
	"github.com/shopstream/shopstream/processors/order"
	"github.com/shopstream/shopstream/shipping"
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/sinks/history"
	"github.com/shopstream/shopstream/sinks/search"
)

// Processors are the goka processors by the name `shopstream process`
// takes.
var Processors = map[string]func(*processors.Runtime, config.Config) *goka.GroupGraph{
	"catalog": func(rt *processors.Runtime, _ config.Config) *goka.GroupGraph {
		return catalog.Graph(catalog.Group, rt)
	},
	"inventory": func(rt *processors.Runtime, _ config.Config) *goka.GroupGraph {
		return inventory.Graph(inventory.Group, rt)
	},
	"listing": func(rt *processors.Runtime, _ config.Config) *goka.GroupGraph {
		return listing.Graph(listing.Group, rt)
	},
	"cart": func(rt *processors.Runtime, cfg config.Config) *goka.GroupGraph {
		return cart.Rules{MaxPerLine: cfg.Orders.MaxQuantityPerLine}.Graph(cart.Group, rt)
	},
	"membership": func(rt *processors.Runtime, cfg config.Config) *goka.GroupGraph {
		return membership.Rules{TrialDays: cfg.Membership.TrialDays}.Graph(membership.Group, rt)
	},
	"order": func(rt *processors.Runtime, _ config.Config) *goka.GroupGraph { return order.Graph(order.Group, rt) },
	"notification": func(rt *processors.Runtime, _ config.Config) *goka.GroupGraph {
		return notification.Graph(notification.Group, rt)
	},
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
	p, err := a.Runtime.NewProcessor(graph(a.Runtime, a.Config))
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

// ServeAPI mounts the REST edge: supplier ingestion, items, search, carts,
// notifications, and checkout with the order-taking service (its outbox
// relay, the consumer of stock, payment and shipment events, and the
// expiry sweeper). It reads the processors' tables through goka views,
// which count towards readiness until they have caught up.
func (a *App) ServeAPI() error {
	if a.Stores.Search == nil || a.Stores.Orders == nil {
		return fmt.Errorf("app: the API needs the search and orders stores")
	}
	var views tableViews
	for _, v := range []struct {
		view  **goka.View
		table goka.Table
		codec goka.Codec
	}{
		{&views.catalog, catalog.Table, catalog.Codec{}},
		{&views.inventory, inventory.Table, inventory.Codec{}},
		{&views.cart, cart.Table, cart.Codec{}},
		{&views.notification, notification.Table, notification.Codec{}},
		{&views.membership, membership.Table, membership.Codec{}},
	} {
		view, err := a.Runtime.NewView(v.table, v.codec)
		if err != nil {
			return err
		}
		*v.view = view
		a.Go("view "+string(v.table), view.Run)
	}
	cfg := a.Config.Orders
	ingest.NewHandler(a.Producer, views, a.Log).Mount(a.Mux)
	api.New(a.Producer, views, a.Stores.Search, api.Logger(a.Log)).Mount(a.Mux)
	api.NewCarts(a.Producer, views, views, api.CartLogger(a.Log), api.CartMaxPerLine(cfg.MaxQuantityPerLine)).Mount(a.Mux)
	api.NewNotifications(views.notification, api.NotificationsLogger(a.Log)).Mount(a.Mux)
	api.NewMemberships(a.Producer, views, api.MembershipLogger(a.Log), api.MembershipClock(a.now)).Mount(a.Mux)
	if a.Stores.Analytics != nil {
		api.NewAnalytics(a.Stores.Analytics, api.AnalyticsLogger(a.Log), api.AnalyticsClock(a.now)).Mount(a.Mux)
		api.NewDashboard().Mount(a.Mux)
	}

	svcOpts := []ordertaking.ServiceOption{ordertaking.TrialCheck(views)}
	if a.Stores.History != nil {
		svcOpts = append(svcOpts, ordertaking.WithHistory(a.Stores.History))
	}
	if a.Clock != nil {
		svcOpts = append(svcOpts, ordertaking.ServiceClock(a.Clock))
	}
	svc := ordertaking.NewService(a.Stores.Orders, views, views,
		ordertaking.Limits{MaxLines: cfg.MaxLines, MaxQuantity: cfg.MaxQuantityPerLine, TTL: cfg.TTL}, svcOpts...)
	var orderOpts []api.OrdersOption
	if a.Stores.History != nil {
		orderOpts = append(orderOpts, api.WithHistory(a.Stores.History))
	}
	api.NewOrders(svc, a.Log, orderOpts...).Mount(a.Mux)
	relay := ordertaking.NewRelay(a.Stores.Orders, a.Producer, ordertaking.RelayWake(svc.Wake()),
		ordertaking.RelayLogger(a.Log), ordertaking.RelayLag(a.Metrics.OutboxPending, a.Metrics.OutboxOldest))
	a.Go("outbox relay", relay.Run)
	in, err := ordertaking.NewInbound(svc, a.kafkaOpts, ordertaking.InboundGroup, a.Producer, a.Log, eventlog.CountIn(a.Metrics.RecordsIn))
	if err != nil {
		return err
	}
	a.Go("order-taking inbound", in.Run)
	keep := ordertaking.Keep{ProcessedEvents: cfg.ProcessedEventsRetention, IdempotencyKeys: cfg.IdempotencyKeyRetention}
	a.Go("expiry sweeper", func(ctx context.Context) error { return svc.Sweep(ctx, cfg.SweepInterval, keep, a.Log) })
	return nil
}

// tableViews reads the processors' tables for the API.
type tableViews struct{ catalog, inventory, cart, notification, membership *goka.View }

func (v tableViews) Membership(userID string) (membership.Membership, bool, error) {
	return get[membership.Membership](v.membership, userID)
}

func (v tableViews) Cart(userID string) (cart.Cart, bool, error) {
	return get[cart.Cart](v.cart, userID)
}

// CartLines is what checkout takes from a cart.
func (v tableViews) CartLines(userID string) ([]ordertaking.LineRequest, error) {
	c, _, err := v.Cart(userID)
	lines := make([]ordertaking.LineRequest, len(c.Lines))
	for i, l := range c.Lines {
		lines[i] = ordertaking.LineRequest{ItemID: l.ItemID, Quantity: l.Quantity}
	}
	return lines, err
}

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

// RunPayment runs the payment role: the simulated gateway charges each
// created order and refunds refunded ones (payments.*).
func (a *App) RunPayment() error {
	c := a.Config.Payments
	gw, err := payment.NewGateway(payment.Rates(c.SuccessRate, c.FailureRate, c.NoAnswerRate),
		payment.Latency(c.Latency), payment.Seed(c.Seed))
	if err != nil {
		return err
	}
	role, err := payment.NewRole(gw, a.kafkaOpts, payment.Name, a.Producer, payment.Logger(a.Log),
		payment.ConsumerOptions(eventlog.CountIn(a.Metrics.RecordsIn)))
	if err != nil {
		return err
	}
	a.Go("payment", role.Run)
	return nil
}

// RunShipping runs the shipping role: placed orders ship, then arrive,
// after the delays of shipping.*.
func (a *App) RunShipping() error {
	c := a.Config.Shipping
	role, err := shipping.NewRole(a.kafkaOpts, shipping.Name, a.Producer, shipping.ShipAfter(c.ShipAfter),
		shipping.DeliverAfter(c.DeliverAfter), shipping.Logger(a.Log), shipping.ConsumerOptions(eventlog.CountIn(a.Metrics.RecordsIn)))
	if err != nil {
		return err
	}
	a.Go("shipping", role.Run)
	return nil
}

// RunAnalyticsSink writes membership and order events into the analytics
// store, which must have been opened (AnalyticsStore).
// AnalyticsSinkGroup is the analytics sink's consumer group.
const AnalyticsSinkGroup = "analytics-sink"

func (a *App) RunAnalyticsSink() error {
	if a.Stores.Analytics == nil {
		return fmt.Errorf("app: the analytics sink needs the analytics store")
	}
	sink, err := analytics.NewSink(a.Stores.Analytics, a.kafkaOpts, AnalyticsSinkGroup, a.Producer,
		analytics.SinkLogger(a.Log), analytics.ConsumerOptions(eventlog.CountIn(a.Metrics.RecordsIn)))
	if err != nil {
		return err
	}
	a.Go("analytics sink", sink.Run)
	return nil
}

// RunHistoryMigration moves final orders from the order-taking database
// to the history store (history_migration.*).
func (a *App) RunHistoryMigration() error {
	if a.Stores.Orders == nil || a.Stores.History == nil {
		return fmt.Errorf("app: the history migration needs the orders and history stores")
	}
	c := a.Config.HistoryMigration
	m := history.NewMigrator(a.Stores.Orders, a.Stores.History, history.MigrateAfter(c.After), history.MigrateBatch(c.BatchSize),
		history.MigrateInterval(c.Interval), history.MigrateLogger(a.Log),
		history.MigrateMetrics(a.Metrics.HistoryMigrated, a.Metrics.HistoryStep, a.Metrics.HistoryBacklog))
	a.Go("history migration", m.Run)
	return nil
}

// AllInOne adds every role to the process.
func (a *App) AllInOne() error {
	for _, name := range ProcessorNames() {
		if err := a.RunProcessor(name); err != nil {
			return err
		}
	}
	for _, run := range []func() error{a.RunSearchSink, a.RunAnalyticsSink, a.RunPayment, a.RunShipping, a.RunHistoryMigration} {
		if err := run(); err != nil {
			return err
		}
	}
	return a.ServeAPI()
}
