package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/ops"
	"github.com/shopstream/shopstream/reconcile"
)

// errDifferences makes reconcile exit 1 after printing them.
var errDifferences = errors.New("the stores and the stream side differ")

func reconcileCommand() *command {
	c := &command{
		name:    "reconcile",
		summary: "compare the stores with the stream side; exit 1 on any difference",
		usage: `shopstream reconcile [--wait 30s] [--json] [--events=false] [--analytics=false] [--config FILE] [--<key> VALUE ...]

Compares, once the pipeline is quiet, the order-taking database
(stores.orders) and the history store (stores.history, when Cassandra)
with the stream side read from Kafka:
  - each item's on-hand stock with the inventory table,
  - each item's committed stock with the units of the orders that hold it,
    in the stores and in the order table,
  - each order's status, user and lines with the order table, and each
    order in one store only, the database or history;
  - with --events (the default), each order with order.events: one
    order.created event for each order in the stores and none for any
    other, and as many events of each type as the orders' statuses
    account for;
  - with --analytics (the default), each event type's count in the
    analytics store (stores.analytics) with the events its sink keeps
    from membership.events and order.events.
Events are counted once per event id, read from the start of the topics.
It compares again until the two agree or --wait has passed (right after a
burst of writes the stream side lags), then prints every difference, one a
line (or a JSON array with --json), and exits 1; 0 means no difference.
With the all-in-one config it reads a running all-in-one (but not its
embedded history store, which that process locks).`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		var wait time.Duration
		var asJSON bool
		var checks app.ReconcileChecks
		cfg, pos, err := ingestConfig(c, args, stderr, func(fs *flag.FlagSet) {
			fs.DurationVar(&wait, "wait", 30*time.Second, "how long to wait for the two sides to agree")
			fs.BoolVar(&asJSON, "json", false, "print the differences as a JSON array")
			fs.BoolVar(&checks.Events, "events", true, "compare the orders with order.events (--events=false leaves it out)")
			fs.BoolVar(&checks.Analytics, "analytics", true, "compare the analytics store's event counts with the topics (--analytics=false leaves it out)")
		})
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usageError{msg: fmt.Sprintf("unexpected arguments: %v", pos)}
		}
		log, err := ops.NewLogger(stderr, cfg.Log.Level, cfg.Log.Format)
		if err != nil {
			return configError{err}
		}
		ctx, stop := ops.SignalContext(ctx, log)
		defer stop()
		diffs, err := app.ReconcileDeployment(ctx, cfg, log, wait, checks)
		if err != nil {
			return err
		}
		if asJSON {
			if diffs == nil {
				diffs = []reconcile.Difference{}
			}
			b, _ := json.MarshalIndent(diffs, "", "  ")
			fmt.Fprintln(stdout, string(b))
		} else {
			for _, d := range diffs {
				fmt.Fprintln(stdout, d)
			}
			if len(diffs) == 0 {
				fmt.Fprintln(stdout, "no differences")
			}
		}
		if len(diffs) > 0 {
			return fmt.Errorf("%w: %d difference(s)", errDifferences, len(diffs))
		}
		return nil
	}
	return c
}
