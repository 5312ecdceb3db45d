package processors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/ops"
)

// Runtime builds and runs goka processors and views against one cluster.
type Runtime struct {
	brokers     []string
	stateDir    string
	dialTimeout time.Duration
	replication int
	log         *slog.Logger
	health      *ops.Health
	metrics     *ops.Metrics
}

// Option configures a Runtime.
type Option func(*Runtime)

// Replication sets the replication factor of table topics goka creates.
func Replication(n int) Option { return func(r *Runtime) { r.replication = n } }

// Logger sets the logger goka and sarama messages go to.
func Logger(l *slog.Logger) Option { return func(r *Runtime) { r.log = l } }

// Health registers each processor's recovery as a readiness check.
func Health(h *ops.Health) Option { return func(r *Runtime) { r.health = h } }

// Metrics counts consumed records in m.RecordsIn.
func Metrics(m *ops.Metrics) Option { return func(r *Runtime) { r.metrics = m } }

var configureOnce sync.Once

// partitionBuffer is how many fetched records wait for each partition's
// processor in goka's channel, as in sarama's (its default): goka's 10
// made the goroutines hand records over nearly one at a time.
const partitionBuffer = 256

// NewRuntime returns a runtime whose processors keep their LevelDB tables
// under stateDir. The first call sets goka's process-wide sarama config.
func NewRuntime(brokers []string, stateDir string, dialTimeout time.Duration, opts ...Option) *Runtime {
	r := &Runtime{brokers: brokers, stateDir: stateDir, dialTimeout: dialTimeout, replication: 1, log: slog.Default()}
	for _, o := range opts {
		o(r)
	}
	configureOnce.Do(func() { goka.ReplaceGlobalConfig(SaramaConfig(dialTimeout)) })
	return r
}

// SaramaConfig is goka's sarama config for shopstream.
func SaramaConfig(dialTimeout time.Duration) *sarama.Config {
	cfg := goka.DefaultConfig()
	// kfake answers OffsetFetch v6+ with null metadata that sarama's newer
	// protocol versions reject ("invalid byteslice length"); 2.3 works on
	// kfake and on Apache Kafka alike.
	cfg.Version = sarama.V2_3_0_0
	// A new group starts from the oldest record: nothing written before a
	// processor first ran is skipped.
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Net.DialTimeout = dialTimeout
	// Processors produce with franz-go (producer.go), not sarama.
	return cfg
}

func (r *Runtime) topicManager() goka.TopicManagerBuilder {
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = r.replication
	tmc.Stream.Replication = r.replication
	// A table topic that exists with other settings stops the start.
	tmc.MismatchBehavior = goka.TMConfigMismatchBehaviorFail
	return goka.TopicManagerBuilderWithTopicManagerConfig(tmc)
}

// processorDir and viewDir are where a group's tables and a view of a
// table live under the state directory.
func (r *Runtime) processorDir(g goka.Group) string {
	return filepath.Join(r.stateDir, "processors", string(g))
}

func (r *Runtime) viewDir(table goka.Table) string {
	return filepath.Join(r.stateDir, "views", string(table))
}

// TableDirs are the directories this runtime keeps g's local state in:
// its processor's tables and the views of its group table. A rebuild
// (shopstream replay) removes them.
func (r *Runtime) TableDirs(g *goka.GroupGraph) []string {
	dirs := []string{r.processorDir(g.Group())}
	if t := g.GroupTable(); t != nil {
		dirs = append(dirs, r.viewDir(goka.Table(t.Topic())))
	}
	return dirs
}

// NewProcessor builds a processor for g with shopstream's storage, hasher
// and topic checks.
func (r *Runtime) NewProcessor(g *goka.GroupGraph) (*goka.Processor, error) {
	var table string
	if t := g.GroupTable(); t != nil {
		table = t.Topic()
	}
	p, err := goka.NewProcessor(r.brokers, g,
		goka.WithStorageBuilder(storageBuilder(r.processorDir(g.Group()))),
		goka.WithTopicManagerBuilder(r.topicManager()),
		goka.WithProducerBuilder(r.producerBuilder(table)),
		goka.WithPartitionChannelSize(partitionBuffer),
		goka.WithHasher(KafkaHasher),
		goka.WithLogger(gokaLogger{r.log.With("group", string(g.Group()))}),
		// A record with a null value reaches the codec (and from there a
		// dead letter) instead of being dropped silently.
		goka.WithNilHandling(goka.NilDecode),
	)
	if err != nil {
		return nil, fmt.Errorf("processors: build %s: %w", g.Group(), err)
	}
	if t := g.GroupTable(); t != nil {
		if err := r.awaitTable(t.Topic()); err != nil {
			return nil, fmt.Errorf("processors: build %s: %w", g.Group(), err)
		}
	}
	if r.health != nil {
		name := "processor " + string(g.Group())
		r.health.Register(name, func() error {
			if !p.Recovered() {
				return errors.New("recovering tables")
			}
			return nil
		})
	}
	return p, nil
}

// NewView builds a read-only view of a table, for the API's reads.
func (r *Runtime) NewView(table goka.Table, codec goka.Codec) (*goka.View, error) {
	v, err := goka.NewView(r.brokers, table, codec,
		goka.WithViewStorageBuilder(storageBuilder(r.viewDir(table))),
		goka.WithViewTopicManagerBuilder(r.topicManager()),
		goka.WithViewHasher(KafkaHasher),
		goka.WithViewLogger(gokaLogger{r.log.With("view", string(table))}),
		goka.WithViewAutoReconnect(),
	)
	if err != nil {
		return nil, fmt.Errorf("processors: build view of %s: %w", table, err)
	}
	if r.health != nil {
		r.health.Register("view "+string(table), func() error {
			if !v.Recovered() {
				return errors.New("recovering")
			}
			return nil
		})
	}
	return v, nil
}

// Input is goka.Input with the record counted in RecordsIn under role.
func (r *Runtime) Input(role string, topic goka.Stream, codec goka.Codec, cb goka.ProcessCallback) goka.Edge {
	if r.metrics == nil {
		return goka.Input(topic, codec, cb)
	}
	in := r.metrics.RecordsIn.WithLabelValues(role, string(topic))
	return goka.Input(topic, codec, func(ctx goka.Context, msg any) {
		in.Inc()
		cb(ctx, msg)
	})
}

// Runner is a processor or a view.
type Runner interface {
	Run(ctx context.Context) error
}

// Run runs every processor and view until ctx ends or one fails, then
// stops them all; goka commits offsets and closes the tables on the way out.
func Run(ctx context.Context, runners ...Runner) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, rn := range runners {
		g.Go(func() error { return rn.Run(ctx) })
	}
	return g.Wait()
}

// gokaLogger sends goka's messages to slog at debug level: goka logs every
// partition state change, which is noise at info.
type gokaLogger struct{ l *slog.Logger }

func (g gokaLogger) Print(v ...any)                 { g.l.Debug(fmt.Sprint(v...)) }
func (g gokaLogger) Println(v ...any)               { g.l.Debug(fmt.Sprint(v...)) }
func (g gokaLogger) Printf(format string, v ...any) { g.l.Debug(fmt.Sprintf(format, v...)) }
