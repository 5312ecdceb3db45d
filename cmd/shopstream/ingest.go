package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/internal/progress"
	"github.com/shopstream/shopstream/ops"
	"github.com/shopstream/shopstream/topics"
)

func ingestCommand() *command {
	return &command{name: "ingest", summary: "load supplier feeds: JSON Lines or CSV files, or a generated catalog", children: []*command{
		ingestFileCommand(),
		ingestGenerateCommand(),
	}}
}

func ingestFileCommand() *command {
	c := &command{
		name:    "file",
		summary: "validate a JSON Lines or CSV file of items or stock levels and produce it to Kafka",
		usage: `shopstream ingest file PATH [--kind items|stock|auto] [--supplier ID] [--format jsonl|csv] [--progress] [--config FILE] [--<key> VALUE ...]

Reads PATH (JSON Lines: one record a line; CSV: a header row, attributes as
attr.<name> columns), validates every record with the rules of the HTTP API,
and produces valid item upserts to supplier.items and stock levels to
supplier.stock, in file order. A rejected record (bad JSON, bad CSV row,
invalid UTF-8, failed validation) goes to supplier.items.dlq or
supplier.stock.dlq with the reason, its source file:PATH:LINE and the
original bytes. The summary says how many records were read, produced and
dead-lettered; the command fails if Kafka does not acknowledge every record.

--kind auto (the default) tells each line's kind from its fields (a CSV
file's from its header); --format defaults to the extension (.jsonl,
.ndjson, .json, .csv). With the all-in-one config it produces to a running
all-in-one's embedded broker. A progress line is drawn on stderr when it is a
terminal, or always with --progress.

Examples:
  shopstream ingest file items.jsonl --supplier acme
  shopstream ingest file stock.csv --kind stock --supplier acme
  shopstream ingest file feed.txt --format csv --kafka.brokers kafka-1:9092 --kafka.embedded.enabled=false`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		var kind, supplier, format string
		var progress bool
		cfg, pos, err := ingestConfig(c, args, stderr, func(fs *flag.FlagSet) {
			fs.StringVar(&kind, "kind", "auto", "record kind: items, stock, or auto (from each record's fields)")
			fs.StringVar(&supplier, "supplier", "", "supplier of records that name none; records naming another are rejected")
			fs.StringVar(&format, "format", "", "jsonl or csv (default: by the file's extension)")
			fs.BoolVar(&progress, "progress", false, "draw a progress line on stderr even when it is not a terminal")
		})
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError{msg: fmt.Sprintf("one PATH expected, got %d arguments", len(pos))}
		}
		opts := []ingest.FileOption{ingest.WithSupplier(supplier)}
		k, err := ingest.ParseKind(kind)
		if err != nil {
			return usageError{msg: err.Error()}
		}
		f, err := ingest.ParseFormat(format)
		if err != nil {
			return usageError{msg: err.Error()}
		}
		opts = append(opts, ingest.WithKind(k), ingest.WithFormat(f))
		if progress || isTerminal(stderr) {
			opts = append(opts, ingest.WithProgress(stderr))
		}
		return withProducer(ctx, cfg, stderr, func(ctx context.Context, p *eventlog.Producer) error {
			sum, err := ingest.File(ctx, pos[0], p, opts...)
			printSummary(stdout, sum)
			return err
		})
	}
	return c
}

func ingestGenerateCommand() *command {
	c := &command{
		name:    "generate",
		summary: "generate a reproducible synthetic catalog to a file or straight to Kafka",
		usage: `shopstream ingest generate [--items N] [--suppliers S] [--warehouses W] [--seed X] [--currency CODE] [--out FILE] [--progress] [--config FILE] [--<key> VALUE ...]

Generates N item upserts (TVs, laptops, phones, shirts, shoes, kitchen,
books, toys, sports, beauty: real brands, titles of brand, model and key
attributes, per-category attributes, long-tailed prices in minor units,
descriptions), each followed by its stock level in W warehouses, spread over
S suppliers. The same options and seed always give byte-identical output.

With --out it writes JSON Lines to FILE (- for stdout), which
'shopstream ingest file' reads; without it, it produces the records straight
to supplier.items and supplier.stock.

Examples:
  shopstream ingest generate --items 100000 --suppliers 20 --warehouses 3 --seed 7 --out catalog.jsonl
  shopstream ingest generate --items 5 --out - | head -1
  shopstream ingest generate --items 1000000 --warehouses 2 --progress`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		var o ingest.GenerateOptions
		var out string
		var progress bool
		cfg, pos, err := ingestConfig(c, args, stderr, func(fs *flag.FlagSet) {
			fs.IntVar(&o.Items, "items", 1000, "item upserts to generate")
			fs.IntVar(&o.Suppliers, "suppliers", 10, "suppliers the items are spread over")
			fs.IntVar(&o.Warehouses, "warehouses", 3, "stock levels per item, one per warehouse (0: none)")
			fs.Uint64Var(&o.Seed, "seed", 1, "seed: the same seed gives the same catalog")
			fs.StringVar(&o.Currency, "currency", "USD", "ISO 4217 currency of the prices")
			fs.StringVar(&out, "out", "", "write JSON Lines to this file (- for stdout) instead of producing to Kafka")
			fs.BoolVar(&progress, "progress", false, "draw a progress line on stderr even when it is not a terminal")
		})
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usageError{msg: "unexpected arguments: " + strings.Join(pos, " ")}
		}
		if _, err := ingest.Generate(o); err != nil {
			return usageError{msg: err.Error()}
		}
		if out != "" {
			return writeCatalog(out, o, stdout, stderr)
		}
		var opts []ingest.FileOption
		if progress || isTerminal(stderr) {
			opts = append(opts, ingest.WithProgress(stderr))
		}
		return withProducer(ctx, cfg, stderr, func(ctx context.Context, p *eventlog.Producer) error {
			sum, err := ingest.GenerateTo(ctx, p, o, opts...)
			printSummary(stdout, sum)
			return err
		})
	}
	return c
}

// writeCatalog writes the catalog to path, or stdout for "-"; a failed
// write leaves no partial file behind.
func writeCatalog(path string, o ingest.GenerateOptions, stdout, stderr io.Writer) error {
	start := time.Now()
	if path == "-" {
		n, err := ingest.WriteGenerated(stdout, o)
		if err == nil {
			fmt.Fprintf(stderr, "wrote %d records in %s\n", n, time.Since(start).Round(time.Millisecond))
		}
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	n, err := ingest.WriteGenerated(f, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	fmt.Fprintf(stdout, "wrote %d records (%d items, %d stock levels) to %s in %s\n", n, o.Items, n-int64(o.Items), path, time.Since(start).Round(time.Millisecond))
	return nil
}

// ingestConfig parses the config flags and the command's own (define),
// which may stand before or after the positional arguments it returns.
func ingestConfig(c *command, args []string, stderr io.Writer, define func(*flag.FlagSet)) (config.Config, []string, error) {
	fs := newFlagSet(c.name, c.usage, stderr)
	flags, path := config.RegisterFlags(fs, "")
	define(fs)
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return config.Config{}, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	cfg, err := config.Load(*path, os.Environ(), flags)
	if err != nil {
		return cfg, nil, configError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	return cfg, pos, nil
}

// withProducer connects to the brokers as 'topics create' does (a running
// all-in-one's embedded broker under the all-in-one config), makes sure the
// catalog topics exist as declared (creating missing ones when
// topics.create is set), and runs fn with a producer, closing it after.
func withProducer(ctx context.Context, cfg config.Config, stderr io.Writer, fn func(context.Context, *eventlog.Producer) error) error {
	log, err := ops.NewLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return configError{err}
	}
	ctx, stop := ops.SignalContext(ctx, log)
	defer stop()
	brokers := cfg.Kafka.Brokers
	if cfg.Kafka.Embedded.Enabled {
		brokers = []string{fmt.Sprintf("127.0.0.1:%d", cfg.Kafka.Embedded.Port)}
	}
	opts := eventlog.ClientOpts(brokers, cfg.Kafka.ClientID+"-ingest", cfg.Kafka.DialTimeout, log)
	if err := checkCatalog(ctx, cfg, brokers, opts); err != nil {
		return err
	}
	p, err := eventlog.NewProducer(opts, eventlog.Role("ingest"))
	if err != nil {
		return err
	}
	err = fn(ctx, p)
	closeCtx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	return errors.Join(err, p.Close(closeCtx))
}

func checkCatalog(ctx context.Context, cfg config.Config, brokers []string, opts []kgo.Opt) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := eventlog.Ping(ctx, cl, brokers, min(cfg.Kafka.DialTimeout, 15*time.Second)); err != nil {
		if cfg.Kafka.Embedded.Enabled {
			err = fmt.Errorf("%w (is 'shopstream all-in-one' running? with the embedded config, ingest talks to its broker)", err)
		}
		return err
	}
	_, err = topics.Ensure(ctx, cl, catalogOf(cfg), cfg.Topics.Create)
	return err
}

func printSummary(w io.Writer, s ingest.Summary) {
	fmt.Fprintln(w, s.String())
	for _, r := range s.Samples {
		fmt.Fprintf(w, "  dead-lettered %s: %s\n", r.Source, r.Reason)
	}
	if more := s.DeadLettered - int64(len(s.Samples)); more > 0 {
		fmt.Fprintf(w, "  ... and %d more in %s / %s\n", more, topics.DeadLetterTopic(topics.SupplierItems), topics.DeadLetterTopic(topics.SupplierStock))
	}
}

// isTerminal reports whether w is a terminal, where a progress line
// belongs.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && progress.IsTerminal(f)
}
