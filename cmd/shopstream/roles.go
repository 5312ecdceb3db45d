package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/ops"
)

// serve loads the configuration, starts an App with the given stores,
// lets setup add the roles, prints where it listens, and runs until a
// signal.
func serve(ctx context.Context, c *command, args []string, stdout, stderr io.Writer, stores []app.StoreRole, setup func(*app.App) error) error {
	cfg, err := loadConfig(c, args, stderr)
	if err != nil {
		return err
	}
	if cfg.Kafka.Embedded.Enabled && c.name != "all-in-one" {
		return configError{fmt.Errorf("%s runs one role against real Kafka, but kafka.embedded.enabled is true; pass --config deploy/config/local.yaml (or production's), or run all-in-one", c.name)}
	}
	log, err := ops.NewLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return configError{err}
	}
	ctx, stop := ops.SignalContext(ctx, log)
	defer stop()
	a, err := app.Start(ctx, cfg, log, stores...)
	if err != nil {
		return err
	}
	if err := setup(a); err != nil {
		a.Close(ctx)
		return err
	}
	fmt.Fprintf(stdout, "shopstream %s %s\n  kafka bootstrap  %s\n  http             http://%s  (/metrics /healthz /readyz)\n  data             %s\n",
		c.name, version, strings.Join(a.Brokers, ","), a.HTTPAddr(), cfg.DataDir)
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	return a.Run(ctx)
}

func apiCommand() *command {
	c := &command{
		name:    "api",
		summary: "run the REST edge: ingestion, items, search, carts, checkout and orders",
		usage: `shopstream api [--config FILE] [--<key> VALUE ...]

Serves the REST API on http.addr: supplier ingestion, items and search,
carts and wishlists, notifications, checkout (POST /v1/orders) and the order
routes. It is also the order-taking service: it takes orders in the
order-taking database (stores.orders), relays its outbox to Kafka, applies
stock, payment and shipment events to it, and expires unpaid orders. It
reads the processors' tables through goka views and queries the search
store. Scale it out behind a load balancer.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return serve(ctx, c, args, stdout, stderr, []app.StoreRole{app.OrdersStore, app.HistoryStore, app.SearchStore, app.AnalyticsStore}, (*app.App).ServeAPI)
	}
	return c
}

func processCommand() *command {
	c := &command{
		name:    "process",
		summary: "run one goka processor: " + strings.Join(app.ProcessorNames(), ", "),
		usage: `shopstream process <` + strings.Join(app.ProcessorNames(), "|") + `> [--config FILE] [--<key> VALUE ...]

Runs one stateful processor. Instances of the same processor share its
consumer group and split its partitions, so it scales out up to
topics.partitions instances; each keeps its tables under data_dir/state.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
				fmt.Fprintf(stdout, "Usage: %s\n", c.usage)
				return nil
			}
			return usageError{msg: "name a processor: " + strings.Join(app.ProcessorNames(), ", ")}
		}
		name := args[0]
		if _, ok := app.Processors[name]; !ok {
			return usageError{msg: fmt.Sprintf("no processor %q; have %s", name, strings.Join(app.ProcessorNames(), ", "))}
		}
		sub := *c
		sub.name = "process " + name
		return serve(ctx, &sub, args[1:], stdout, stderr, nil, func(a *app.App) error { return a.RunProcessor(name) })
	}
	return c
}

func sinkCommand() *command {
	return &command{name: "sink", summary: "run a sink that keeps a store current from Kafka", children: []*command{searchSinkCommand(), analyticsSinkCommand()}}
}

func searchSinkCommand() *command {
	c := &command{
		name:    "search",
		summary: "index the listings topic into the search store",
		usage: `shopstream sink search [--config FILE] [--<key> VALUE ...]

Consumes the listings topic and bulk-indexes each listing into the search
store (stores.search) with its version as the external version, so a
replay, a duplicate or a reordering never regresses a document.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return serve(ctx, c, args, stdout, stderr, []app.StoreRole{app.SearchStore}, (*app.App).RunSearchSink)
	}
	return c
}

func paymentCommand() *command {
	c := &command{
		name:    "payment",
		summary: "run the payment role: a simulated gateway charges created orders",
		usage: `shopstream payment [--config FILE] [--<key> VALUE ...]

Consumes order.events: charges each created order through a simulated
gateway whose success, failure and no-answer rates and latency are
payments.*, and publishes payment.succeeded or payment.failed (nothing on no
answer: the order expires); refunds refunded orders (payment.refunded). The
outcome is a function of payments.seed and the order id, so a redelivered
order is charged the same way, under the same event id.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return serve(ctx, c, args, stdout, stderr, nil, (*app.App).RunPayment)
	}
	return c
}

func shippingCommand() *command {
	c := &command{
		name:    "shipping",
		summary: "run the shipping role: placed orders ship, then arrive",
		usage: `shopstream shipping [--config FILE] [--<key> VALUE ...]

Consumes order.events and shipment.events: each placed order ships
shipping.ship_after after its placement (shipment.shipped) and arrives
shipping.deliver_after later (shipment.delivered). Delays count from the
event times, so a restart does not reset them.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return serve(ctx, c, args, stdout, stderr, nil, (*app.App).RunShipping)
	}
	return c
}

func migrateHistoryCommand() *command {
	c := &command{
		name:    "migrate-history",
		summary: "move finished orders from the order-taking database to the history store",
		usage: `shopstream migrate-history [--config FILE] [--<key> VALUE ...]

Every history_migration.interval, moves delivered, canceled and refunded
orders older than history_migration.after from the order-taking database
(stores.orders) to the history store (stores.history), in batches of
history_migration.batch_size: it writes each batch to history, then deletes
it from the database, so a kill at any point loses and duplicates nothing.
Several instances may run at once.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return serve(ctx, c, args, stdout, stderr, []app.StoreRole{app.OrdersStore, app.HistoryStore}, (*app.App).RunHistoryMigration)
	}
	return c
}

func analyticsSinkCommand() *command {
	c := &command{
		name:    "analytics",
		summary: "write membership and order events into the analytics store",
		usage: `shopstream sink analytics [--config FILE] [--<key> VALUE ...]

Consumes membership.events and order.events and writes them, in batches
with a bounded delay, into the analytics store (stores.analytics:
ClickHouse or SQLite), deduplicated by event id, with each trial's
conversion kept current for the Prime cohort query
(GET /v1/analytics/prime-cohorts). Idempotent across a crash and restart.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return serve(ctx, c, args, stdout, stderr, []app.StoreRole{app.AnalyticsStore}, (*app.App).RunAnalyticsSink)
	}
	return c
}
