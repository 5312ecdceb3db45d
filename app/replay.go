package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/broker"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/ops"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/replay"
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/sinks/search"
	"github.com/shopstream/shopstream/topics"
)

// The targets `shopstream replay --target` names.
const (
	ReplaySearch    = "search"
	ReplayAnalytics = "analytics"
	ReplayHistory   = "history"
	// ReplayProcessor prefixes a processor's name (Processors).
	ReplayProcessor = "processor:"
)

// The live sinks' roles (RunSearchSink, RunAnalyticsSink): a replay
// dead-letters under the same ones, so its dead letters have the live
// ones' ids.
const (
	searchRole    = "search-sink"
	analyticsRole = "analytics-sink"
)

// ErrReplayRequest marks a request OpenReplay refuses as asked: an unknown
// target, topics the target does not consume.
var ErrReplayRequest = errors.New("bad replay request")

// ReplayTargets lists every target name.
func ReplayTargets() []string {
	names := []string{ReplaySearch, ReplayAnalytics, ReplayHistory}
	for _, p := range ProcessorNames() {
		names = append(names, ReplayProcessor+p)
	}
	return names
}

// ReplayRequest is what to open.
type ReplayRequest struct {
	Target string
	// Topics to replay: empty for all the target consumes, else some of
	// them.
	Topics []string
	// DryRun opens no store and takes no data directory.
	DryRun bool
}

// Replayer is a replay's connection to the deployment and its target,
// opened from the configuration as the roles open them.
type Replayer struct {
	Target string
	// Topics are the topics to replay.
	Topics []string
	// KafkaOpts build the replay's clients; Admin lists offsets and
	// resets groups.
	KafkaOpts []kgo.Opt
	Admin     *kadm.Client
	// Apply is the target fed with records; nil for a processor and in a
	// dry run. Options are replay.Run's options for it.
	Apply   replay.Target
	Options []replay.Option
	// History is Apply for the history target, for its counts.
	History *replay.History
	// Rebuild is the processor's state, for a processor target.
	Rebuild *replay.Rebuild

	// shell holds the data-directory lock, the stores and every closer.
	shell *App
}

// OpenReplay connects to the brokers cfg names and opens the target's
// store, migrated. With the embedded broker (all-in-one's config) the
// data directory must not be in use by a running all-in-one, whose stores
// and tables are its own: stop it first, or pass another data_dir to
// rebuild a store there from the running one's broker. A stopped
// all-in-one's log (data_dir/kafka) is served by a broker of the replay's
// own for the time it runs.
func OpenReplay(ctx context.Context, cfg config.Config, log *slog.Logger, req ReplayRequest) (r *Replayer, err error) {
	r = &Replayer{Target: req.Target, shell: &App{Config: cfg, Log: log, Health: ops.NewHealth()}}
	defer func() {
		if err != nil {
			r.Close()
			r = nil
		}
	}()
	all, err := r.topicsOf(cfg)
	if err != nil {
		return r, err
	}
	if r.Topics, err = pick(req.Target, all, req.Topics); err != nil {
		return r, err
	}
	brokers, err := r.brokers(cfg, req.DryRun)
	if err != nil {
		return r, err
	}
	r.KafkaOpts = eventlog.ClientOpts(brokers, cfg.Kafka.ClientID+"-replay", cfg.Kafka.DialTimeout, log)
	cl, err := kgo.NewClient(r.KafkaOpts...)
	if err != nil {
		return r, fmt.Errorf("app: replay: kafka client: %w", err)
	}
	r.shell.closers = append(r.shell.closers, func(context.Context) error { cl.Close(); return nil })
	if err := eventlog.Ping(ctx, cl, brokers, cfg.Kafka.DialTimeout); err != nil {
		if cfg.Kafka.Embedded.Enabled {
			err = fmt.Errorf("%w (with the all-in-one config, replay reads a running all-in-one's broker, or the log of a stopped one under %s: is data_dir right?)", err, filepath.Join(cfg.DataDir, "kafka"))
		}
		return r, err
	}
	r.Admin = kadm.NewClient(cl)
	if req.DryRun {
		return r, nil
	}
	return r, r.openTarget(ctx, cfg)
}

// topicsOf is what the target consumes; for a processor it also fills
// Rebuild.
func (r *Replayer) topicsOf(cfg config.Config) ([]string, error) {
	switch r.Target {
	case ReplaySearch:
		return []string{topics.Listings}, nil
	case ReplayAnalytics:
		return analytics.Inputs, nil
	case ReplayHistory:
		return replay.HistoryTopics, nil
	}
	name, ok := strings.CutPrefix(r.Target, ReplayProcessor)
	graph := Processors[name]
	if !ok || graph == nil {
		return nil, fmt.Errorf("%w: no replay target %q; have %s", ErrReplayRequest, r.Target, strings.Join(ReplayTargets(), ", "))
	}
	rt := processors.NewRuntime(nil, filepath.Join(cfg.DataDir, "state"), cfg.Kafka.DialTimeout)
	g := graph(rt, cfg)
	rb := &replay.Rebuild{Group: string(g.Group()), Dirs: rt.TableDirs(g)}
	for _, e := range g.InputStreams() {
		rb.Inputs = append(rb.Inputs, e.Topic())
	}
	if t := g.GroupTable(); t != nil {
		rb.Table = t.Topic()
	}
	r.Rebuild = rb
	return rb.Inputs, nil
}

// pick is the requested topics, or all; a topic the target does not
// consume is refused, and a processor rebuild resets all its inputs.
func pick(target string, all, asked []string) ([]string, error) {
	if len(asked) == 0 {
		return all, nil
	}
	if strings.HasPrefix(target, ReplayProcessor) && !sameSet(asked, all) {
		return nil, fmt.Errorf("%w: a processor rebuild resets every input of %s (%s): leave out --topics", ErrReplayRequest, target, strings.Join(all, ", "))
	}
	for _, t := range asked {
		if !slices.Contains(all, t) {
			return nil, fmt.Errorf("%w: the %s target consumes %s, not %s", ErrReplayRequest, target, strings.Join(all, ", "), t)
		}
	}
	return asked, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// brokers are the configured brokers, or with the embedded broker: the
// stopped all-in-one's log served by a broker of the replay's own, else a
// running all-in-one's broker on kafka.embedded.port.
func (r *Replayer) brokers(cfg config.Config, dryRun bool) ([]string, error) {
	if !cfg.Kafka.Embedded.Enabled {
		return cfg.Kafka.Brokers, nil
	}
	running := []string{fmt.Sprintf("127.0.0.1:%d", cfg.Kafka.Embedded.Port)}
	dir := filepath.Join(cfg.DataDir, "kafka")
	_, noLog := os.Stat(dir)
	if dryRun && noLog != nil {
		return running, nil // a dry run creates no data directory
	}
	if err := r.shell.lockDataDir(); err != nil {
		if dryRun {
			return running, nil // it only lists offsets
		}
		return nil, fmt.Errorf("%w: its stores and processor tables are in use; stop it, or pass --data-dir with another directory to rebuild a store there", err)
	}
	if noLog != nil {
		return running, nil
	}
	var opts []broker.Option
	if cfg.Kafka.Embedded.SyncWrites {
		opts = append(opts, broker.SyncWrites())
	}
	b, err := broker.Start(dir, opts...)
	if err != nil {
		return nil, err
	}
	r.shell.closers = append(r.shell.closers, func(context.Context) error { b.Close(); return nil })
	r.shell.Log.Info("replay serves the stopped all-in-one's log", "dir", dir, "bootstrap", b.Addr())
	return []string{b.Addr()}, nil
}

// openTarget opens the target's store as the roles do, and the producer
// of its dead letters.
func (r *Replayer) openTarget(ctx context.Context, cfg config.Config) error {
	a := r.shell
	var role StoreRole
	switch r.Target {
	case ReplaySearch:
		role = SearchStore
	case ReplayAnalytics:
		role = AnalyticsStore
	case ReplayHistory:
		role = HistoryStore
	default:
		return nil // a processor's state is its group, changelog and tables
	}
	if err := a.openStores(ctx, []StoreRole{role}); err != nil {
		return err
	}
	switch r.Target {
	case ReplayHistory:
		opts := []replay.HistoryOption{replay.OlderThan(time.Now().Add(-cfg.HistoryMigration.After))}
		if !slices.Contains(r.Topics, topics.PaymentEvents) {
			opts = append(opts, replay.WithoutPayments())
		}
		r.History = replay.NewHistory(a.Stores.History, opts...)
		r.Apply = r.History
		return nil
	}
	p, err := eventlog.NewProducer(r.KafkaOpts, eventlog.Role("replay"))
	if err != nil {
		return err
	}
	a.closers = append(a.closers, p.Close)
	if r.Target == ReplaySearch {
		r.Apply = replay.Handler(search.Handler(a.Stores.Search, p, search.SinkRole(searchRole), search.SinkLogger(a.Log)))
		r.Options = []replay.Option{replay.DeadLetters(p, searchRole)}
	} else {
		r.Apply = replay.Handler(analytics.Handler(a.Stores.Analytics, p, analytics.SinkRole(analyticsRole), analytics.SinkLogger(a.Log)))
		r.Options = []replay.Option{replay.DeadLetters(p, analyticsRole), replay.MaxBatch(analytics.DefaultBatchEvents)}
	}
	return nil
}

// Close flushes the dead letters, closes the store, the clients and the
// embedded broker, and releases the data directory.
func (r *Replayer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.shell.Config.HTTP.ShutdownTimeout)
	defer cancel()
	return r.shell.close(ctx)
}
