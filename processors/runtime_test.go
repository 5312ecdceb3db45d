package processors_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/broker"
	"github.com/shopstream/shopstream/ops"
	"github.com/shopstream/shopstream/processors"
)

const input = "counter.in"

func counterGraph(rt *processors.Runtime) *goka.GroupGraph {
	return goka.DefineGroup("counter",
		rt.Input("test", input, new(codec.String), func(ctx goka.Context, _ any) {
			n, _ := ctx.Value().(int64)
			ctx.SetValue(n + 1)
		}),
		goka.Persist(new(codec.Int64)),
	)
}

func produce(t *testing.T, addr string, keys ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, k := range keys {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: input, Key: []byte(k), Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// runCounter starts the counter processor and returns it with a stop
// function that waits for a clean shutdown (offsets committed, tables closed).
func runCounter(t *testing.T, rt *processors.Runtime) (*goka.Processor, func()) {
	t.Helper()
	p, err := rt.NewProcessor(counterGraph(rt))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- processors.Run(ctx, p) }()
	return p, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor stopped with %v", err)
		}
	}
}

func waitValue(t *testing.T, p *goka.Processor, key string, want int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got any
	for time.Now().Before(deadline) {
		if p.Recovered() {
			if v, err := p.Get(key); err == nil {
				if got = v; got == want {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("table value of %s is %v, want %d", key, got, want)
}

// A goka table and its group's offsets survive a stop and start of both
// the embedded broker and the processor: values are kept, and records
// already counted are not counted again.
func TestTableAndOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	health := ops.NewHealth()

	b, err := broker.Start(filepath.Join(dir, "kafka"), broker.SyncWrites())
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, input); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	rt := processors.NewRuntime([]string{b.Addr()}, filepath.Join(dir, "state"), 5*time.Second, processors.Health(health))
	p, stop := runCounter(t, rt)
	var keys []string
	for i := 0; i < 50; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i%5))
	}
	produce(t, b.Addr(), keys...)
	for i := 0; i < 5; i++ {
		waitValue(t, p, fmt.Sprintf("k%d", i), 10)
	}
	if failing := health.Ready(); len(failing) != 0 {
		t.Errorf("recovered processor not ready: %v", failing)
	}
	stop()
	b.Close()

	b, err = broker.Start(filepath.Join(dir, "kafka"), broker.SyncWrites())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rt = processors.NewRuntime([]string{b.Addr()}, filepath.Join(dir, "state"), 5*time.Second)
	p, stop = runCounter(t, rt)
	defer stop()
	waitValue(t, p, "k3", 10)
	produce(t, b.Addr(), "k0")
	// 11, not 21: the group resumed at its committed offsets.
	waitValue(t, p, "k0", 11)
}
