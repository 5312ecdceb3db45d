package replay_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/shopstream/shopstream/internal/testkafka"
	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/processors/inventory"
	pt "github.com/shopstream/shopstream/processors/processortest"
	"github.com/shopstream/shopstream/replay"
	"github.com/shopstream/shopstream/topics"
)

// waitStock returns the processor's stock of every item once each has
// reached its version.
func waitStock(t *testing.T, p *goka.Processor, versions map[string]int64) map[string]inventory.Stock {
	t.Helper()
	out := map[string]inventory.Stock{}
	eventually(t, "the inventory table", func() bool {
		if !p.Recovered() { // goka's Get panics on a partition still being set up
			return false
		}
		for item, v := range versions {
			got, err := p.Get(item)
			if err != nil || got == nil || got.(inventory.Stock).Version != v {
				return false
			}
			out[item] = got.(inventory.Stock)
		}
		return true
	})
	return out
}

// A rebuild of the inventory processor, refused while it runs, resets its
// group to a time, clears its changelog and its local tables; restarted,
// the processor builds the same table again from its input.
func TestRebuildInventoryTable(t *testing.T) {
	ctx := context.Background()
	k := pt.StartKafka(t)
	adm := kadm.NewClient(k.Client(t))
	group := goka.Group(testkafka.Unique("inventory"))
	k.StartGroupAtEnd(t, group, topics.SupplierStock)
	time.Sleep(5 * time.Millisecond) // Kafka timestamps are milliseconds
	from := time.Now()
	time.Sleep(5 * time.Millisecond)

	versions := map[string]int64{}
	var evs []topics.Event
	for i := range 12 {
		item := testkafka.Unique("item")
		for j, wh := range []string{"w-1", "w-2", "w-1"} {
			lvl := topics.SupplierStockLevel{SupplierID: "s-1", ItemID: item, WarehouseID: wh, OnHand: int64(i + 10*j)}
			evs = append(evs, pt.Event(t, topics.TypeSupplierStockLevel, item, lvl))
		}
		versions[item] = 3
	}
	for _, ev := range evs {
		k.Produce(t, pt.Record(t, topics.SupplierStock, ev))
	}
	state := t.TempDir()
	rt := processors.NewRuntime(k.Brokers, state, 5*time.Second)
	p, stop := pt.Run(t, rt, inventory.Graph(group, rt))
	want := waitStock(t, p, versions)

	rb := replay.Rebuild{Group: string(group), Inputs: []string{topics.SupplierStock}, Table: string(goka.GroupTable(group)),
		Dirs: []string{filepath.Join(state, "processors", string(group))}}
	plan, err := replay.PlanRebuild(ctx, adm, rb, replay.Time(from))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := plan.Write(&out); err != nil {
		t.Fatal(err)
	}
	if err := replay.RunRebuild(ctx, adm, plan); err == nil || !strings.Contains(err.Error(), "live member") {
		t.Fatalf("a rebuild under the running processor: %v, want it refused", err)
	}
	if !strings.Contains(out.String(), "REFUSED") || !strings.Contains(out.String(), rb.Dirs[0]) {
		t.Errorf("the plan under the running processor:\n%s", out.String())
	}
	stop()

	if plan, err = replay.PlanRebuild(ctx, adm, rb, replay.Time(from)); err != nil {
		t.Fatal(err)
	}
	if err := plan.Check(); err != nil {
		t.Fatal(err)
	}
	var processed int64
	for _, s := range plan.Offsets.Spans {
		processed += s.Offsets()
	}
	if processed < int64(len(evs)) || len(plan.Changelog) != pt.Partitions || plan.Policy != "compact" {
		t.Errorf("plan: %d records to process (want at least %d), changelog %+v, policy %q", processed, len(evs), plan.Changelog, plan.Policy)
	}
	if err := replay.RunRebuild(ctx, adm, plan); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rb.Dirs[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the local tables are still there: %v", err)
	}
	starts := must(adm.ListStartOffsets(ctx, rb.Table)).of(t)
	ends := must(adm.ListEndOffsets(ctx, rb.Table)).of(t)
	if !reflect.DeepEqual(starts.Offsets(), ends.Offsets()) {
		t.Errorf("the changelog still holds records: starts %v, ends %v", starts.Offsets(), ends.Offsets())
	}
	configs := must(adm.DescribeTopicConfigs(ctx, rb.Table)).of(t)
	c := must(configs.On(rb.Table, nil)).of(t)
	for _, kv := range c.Configs {
		if kv.Key == "cleanup.policy" && (kv.Value == nil || *kv.Value != "compact") {
			t.Errorf("cleanup.policy of %s left at %v", rb.Table, kv.Value)
		}
	}

	rt = processors.NewRuntime(k.Brokers, state, 5*time.Second)
	p, _ = pt.Run(t, rt, inventory.Graph(group, rt))
	if got := waitStock(t, p, versions); !reflect.DeepEqual(got, want) {
		t.Errorf("rebuilt table:\n got %+v\nwant %+v", got, want)
	}
}
