// Package broker runs the embedded Kafka-protocol broker that all-in-one
// uses instead of a Kafka cluster: kfake, in process, listening on
// 127.0.0.1 and persisting its log, group offsets and topic configs under a
// data directory. Everything talks to it over the real Kafka protocol, as
// it would to Apache Kafka, so external producers and tools can connect too.
package broker

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is a running in-process broker.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
}

// Option configures Start.
type Option func(*options)

type options struct {
	port       int
	syncWrites bool
}

// Port listens on 127.0.0.1:port; 0 (the default) picks a free port.
func Port(port int) Option { return func(o *options) { o.port = port } }

// SyncWrites fsyncs each produced batch before acknowledging it, so an
// acknowledged record survives a crash and not only a clean stop.
func SyncWrites() Option { return func(o *options) { o.syncWrites = true } }

// Start runs a single-broker cluster persisted under dir.
func Start(dir string, opts ...Option) (*Embedded, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: create data dir: %w", err)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DataDir(filepath.Clean(dir)),
		kfake.ClusterID("shopstream-embedded"),
		// Compact goka table changelogs every 10 minutes rather than hourly.
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "600000"}),
	}
	if o.port != 0 {
		kopts = append(kopts, kfake.Ports(o.port))
	}
	if o.syncWrites {
		kopts = append(kopts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("broker: start embedded Kafka on 127.0.0.1:%d with data in %s: %w", o.port, dir, err)
	}
	return &Embedded{cluster: c, addr: c.ListenAddrs()[0]}, nil
}

// Addr is the bootstrap address, host:port on 127.0.0.1.
func (e *Embedded) Addr() string { return e.addr }

// Close stops the listener and writes the broker's state to its data
// directory. Close it after every client has flushed and committed.
func (e *Embedded) Close() { e.cluster.Close() }
