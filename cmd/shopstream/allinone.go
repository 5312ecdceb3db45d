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

func allInOneCommand() *command {
	c := &command{
		name:    "all-in-one",
		summary: "run every role in one process on embedded engines (the quickstart)",
		usage: `shopstream all-in-one [--config FILE] [--<key> VALUE ...]

Runs every shopstream role in this process. With the default configuration
(deploy/config/all-in-one.yaml) Kafka is an embedded broker on 127.0.0.1:9092
that external producers can use, and every store is an embedded engine under
--data-dir. Stop with Ctrl-C; a second Ctrl-C forces the exit.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		cfg, err := loadConfig(c, args, stderr)
		if err != nil {
			return err
		}
		log, err := ops.NewLogger(stderr, cfg.Log.Level, cfg.Log.Format)
		if err != nil {
			return configError{err}
		}
		ctx, stop := ops.SignalContext(ctx, log)
		defer stop()
		a, err := app.Start(ctx, cfg, log, app.AllStores...)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "shopstream all-in-one %s\n  kafka bootstrap  %s\n  http             http://%s  (/metrics /healthz /readyz)\n  data             %s\n",
			version, strings.Join(a.Brokers, ","), a.HTTPAddr(), cfg.DataDir)
		if f, ok := stdout.(*os.File); ok {
			f.Sync()
		}
		return a.Run(ctx)
	}
	return c
}
