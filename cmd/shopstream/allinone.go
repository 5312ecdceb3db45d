package main

import (
	"context"
	"io"

	"github.com/shopstream/shopstream/app"
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
		return serve(ctx, c, args, stdout, stderr, app.AllStores, (*app.App).AllInOne)
	}
	return c
}
