// Package app assembles shopstream's roles into one running process: it
// starts the embedded broker when configured, checks the brokers and the
// topic catalog, serves /metrics, /healthz and /readyz beside the REST API,
// runs the roles, and shuts everything down in order on cancel. all-in-one
// runs every role in one App; production runs one role per App.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/broker"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/ops"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// App is a started process. Roles hang their work on it with Go and their
// routes on Mux; Run serves until the context ends.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	Metrics  *ops.Metrics
	Health   *ops.Health
	Brokers  []string
	Catalog  []topics.Topic
	Kafka    *kgo.Client
	Producer *eventlog.Producer
	Runtime  *processors.Runtime
	Stores   Stores
	Mux      *http.ServeMux
	// Clock, when set before the API is served, is the time of membership
	// commands, trials and cohort reads: tests move it weeks at a time.
	Clock func() time.Time

	kafkaOpts []kgo.Opt
	embedded  *broker.Embedded
	lock      *os.File
	ln        net.Listener
	server    *http.Server
	runners   []runner
	started   bool
	closers   []func(context.Context) error
}

// now is Clock, else the time.
func (a *App) now() time.Time {
	if a.Clock != nil {
		return a.Clock()
	}
	return time.Now()
}

type runner struct {
	name string
	run  func(context.Context) error
}

// Start brings up the shared parts: data directory, broker connection (or
// the embedded broker), the verified topic catalog, the producer, the
// processor runtime, the given store roles (opened and migrated) and the
// HTTP listener. It fails fast, naming what failed and where.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, stores ...StoreRole) (a *App, err error) {
	a = &App{Config: cfg, Log: log, Metrics: ops.NewMetrics(), Health: ops.NewHealth(), Mux: http.NewServeMux()}
	defer func() {
		if err != nil {
			a.close(context.Background())
			a = nil
		}
	}()
	if err := a.lockDataDir(); err != nil {
		return a, err
	}
	a.Brokers = cfg.Kafka.Brokers
	if cfg.Kafka.Embedded.Enabled {
		limitMemory(log)
		opts := []broker.Option{broker.Port(cfg.Kafka.Embedded.Port)}
		if cfg.Kafka.Embedded.SyncWrites {
			opts = append(opts, broker.SyncWrites())
		}
		started := time.Now()
		if a.embedded, err = broker.Start(filepath.Join(cfg.DataDir, "kafka"), opts...); err != nil {
			return a, err
		}
		a.closers = append(a.closers, func(context.Context) error { a.embedded.Close(); return nil })
		a.Brokers = []string{a.embedded.Addr()}
		log.Info("embedded kafka listening", "bootstrap", a.embedded.Addr(), "took", time.Since(started).Round(time.Millisecond))
	}

	kopts := eventlog.ClientOpts(a.Brokers, cfg.Kafka.ClientID, cfg.Kafka.DialTimeout, log)
	a.kafkaOpts = kopts
	if a.Kafka, err = kgo.NewClient(kopts...); err != nil {
		return a, fmt.Errorf("app: kafka client: %w", err)
	}
	a.closers = append(a.closers, func(context.Context) error { a.Kafka.Close(); return nil })
	if err := eventlog.Ping(ctx, a.Kafka, a.Brokers, cfg.Kafka.DialTimeout); err != nil {
		return a, err
	}
	adm := kadm.NewClient(a.Kafka)
	a.Catalog = topics.Catalog(topics.Settings{Partitions: cfg.Topics.Partitions, Replication: cfg.Topics.Replication})
	statuses, err := topics.Ensure(ctx, a.Kafka, a.Catalog, cfg.Topics.Create)
	if err != nil {
		return a, err
	}
	var created, widened int
	for _, s := range statuses {
		if s.Created {
			created++
		}
		if s.Widened {
			widened++
		}
	}
	log.Info("topic catalog verified", "topics", len(statuses), "created", created, "retention_raised", widened)

	a.Health.Register("kafka", func() error {
		return eventlog.Ping(context.Background(), a.Kafka, a.Brokers, 2*time.Second)
	})
	if a.Producer, err = eventlog.NewProducer(kopts, eventlog.CountOut(a.Metrics.RecordsOut)); err != nil {
		return a, err
	}
	// The producer flushes before the client and broker close.
	a.closers = append(a.closers, a.Producer.Close)
	a.Runtime = processors.NewRuntime(a.Brokers, filepath.Join(cfg.DataDir, "state"), cfg.Kafka.DialTimeout,
		processors.Replication(int(cfg.Topics.Replication)), processors.Logger(log),
		processors.Health(a.Health), processors.Metrics(a.Metrics))
	if err := a.openStores(ctx, stores); err != nil {
		return a, err
	}
	a.Go("consumer-lag", func(ctx context.Context) error {
		eventlog.MonitorLag(ctx, adm, a.Metrics.ConsumerLag, 10*time.Second, log)
		return nil
	})

	a.Health.Mount(a.Mux)
	a.Mux.Handle("GET /metrics", a.Metrics.Handler())
	if a.ln, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		return a, fmt.Errorf("app: listen on http.addr %s: %w", cfg.HTTP.Addr, err)
	}
	a.server = &http.Server{Handler: a.Metrics.Instrument(a.Mux), ReadHeaderTimeout: 10 * time.Second}
	return a, nil
}

// embeddedMemoryLimit is the Go runtime's soft memory limit in the shape
// with the embedded broker (all-in-one), unless GOMEMLIMIT sets one. A
// catalog load peaks at twice the memory the process needs once loaded
// (100k items: 200-300 MB live during the load, 120 MB after), and the
// heap doubles that again before a collection; without a limit the
// runtime kept most of the peak for minutes, with it the collector works
// harder near the limit and returns the rest.
const embeddedMemoryLimit = 256 << 20

func limitMemory(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(embeddedMemoryLimit)
	log.Debug("go memory limit set", "bytes", embeddedMemoryLimit)
}

// HTTPAddr is the address the HTTP listener is bound to.
func (a *App) HTTPAddr() string { return a.ln.Addr().String() }

// Go adds a long-running part; Run starts it and cancels it at shutdown.
// Adding a part after Run has started is a wiring bug: it would never run.
func (a *App) Go(name string, run func(context.Context) error) {
	if a.started {
		panic("app: Go(" + name + ") after Run")
	}
	a.runners = append(a.runners, runner{name, run})
}

// OnClose adds a step to shutdown. Steps run in reverse order of adding,
// after the HTTP server and every runner have stopped.
func (a *App) OnClose(fn func(context.Context) error) { a.closers = append(a.closers, fn) }

// Run serves HTTP and runs every part until ctx ends or a part fails, then
// shuts down: HTTP drains, runners stop (processors commit offsets and close
// tables), producers flush, clients close, the embedded broker persists.
func (a *App) Run(ctx context.Context) error {
	a.started = true
	ctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	for _, r := range a.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				a.Log.Error("part failed; shutting down", "part", r.name, "err", err)
				cancel(fmt.Errorf("%s: %w", r.name, err))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.server.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cancel(fmt.Errorf("http: %w", err))
		}
	}()
	a.Log.Info("serving", "http", "http://"+a.HTTPAddr(), "kafka", a.Brokers)
	<-ctx.Done()

	shutdownCtx, done := context.WithTimeout(context.Background(), a.Config.HTTP.ShutdownTimeout)
	defer done()
	if err := a.server.Shutdown(shutdownCtx); err != nil {
		a.Log.Warn("http shutdown", "err", err)
	}
	cancel(context.Canceled)
	wg.Wait()
	closeErr := a.close(shutdownCtx)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return errors.Join(cause, closeErr)
	}
	a.Log.Info("stopped cleanly")
	return closeErr
}

// Close releases what Start opened, for a process that fails before Run.
func (a *App) Close(ctx context.Context) error { return a.close(ctx) }

func (a *App) close(ctx context.Context) error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	if a.ln != nil && a.server == nil {
		a.ln.Close()
	}
	if a.lock != nil {
		a.lock.Close()
	}
	return errors.Join(errs...)
}

// lockDataDir stops a second process from sharing the data directory,
// which would corrupt the embedded log and the LevelDB tables.
func (a *App) lockDataDir() error {
	if err := os.MkdirAll(a.Config.DataDir, 0o755); err != nil {
		return fmt.Errorf("app: create data_dir %s: %w", a.Config.DataDir, err)
	}
	path := filepath.Join(a.Config.DataDir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("app: open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("app: data_dir %s is in use by another shopstream process (%s is locked)", a.Config.DataDir, path)
	}
	a.lock = f
	return nil
}
