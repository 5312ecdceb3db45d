package topics_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/topics"
)

func newAdmin(t *testing.T) (*kgo.Client, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

func TestEnsureCreatesThenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	cl, adm := newAdmin(t)
	cat := topics.Catalog(topics.Settings{Partitions: 3, Replication: 1})
	first, err := topics.Ensure(ctx, cl, cat, true)
	if err != nil {
		t.Fatalf("first ensure: %v", err)
	}
	for _, s := range first {
		if !s.Created {
			t.Errorf("%s: not created on an empty broker", s.Topic.Name)
		}
	}
	second, err := topics.Ensure(ctx, cl, cat, true)
	if err != nil {
		t.Fatalf("second ensure: %v", err)
	}
	for _, s := range second {
		if s.Created {
			t.Errorf("%s: created twice", s.Topic.Name)
		}
	}
	details, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range cat {
		if got := len(details[tp.Name].Partitions); got != 3 {
			t.Errorf("%s has %d partitions, want 3", tp.Name, got)
		}
	}
}

func TestEnsureRefusesIncompatibleTopic(t *testing.T) {
	ctx := context.Background()
	cl, adm := newAdmin(t)
	// Someone created supplier.items by hand with other settings.
	if _, err := adm.CreateTopic(ctx, 5, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topics.SupplierItems); err != nil {
		t.Fatal(err)
	}
	_, err := topics.Ensure(ctx, cl, topics.Catalog(topics.Settings{Partitions: 3, Replication: 1}), true)
	var inc *topics.IncompatibleError
	if !errors.As(err, &inc) {
		t.Fatalf("got %v, want *IncompatibleError", err)
	}
	for _, want := range []string{
		`topic "supplier.items": partitions is 5, expected 3`,
		`topic "supplier.items": cleanup.policy is "compact", expected "delete"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	if len(inc.Mismatches) != 2 {
		t.Errorf("got %d mismatches, want 2: %+v", len(inc.Mismatches), inc.Mismatches)
	}
}

func TestEnsureWithoutCreateNamesMissingTopics(t *testing.T) {
	cl, _ := newAdmin(t)
	_, err := topics.Ensure(context.Background(), cl, topics.Catalog(topics.Settings{Partitions: 1, Replication: 1}), false)
	var missing *topics.MissingError
	if !errors.As(err, &missing) {
		t.Fatalf("got %v, want *MissingError", err)
	}
	if len(missing.Topics) != len(topics.Catalog(topics.Settings{Partitions: 1, Replication: 1})) || !strings.Contains(err.Error(), "order.events") {
		t.Errorf("missing list incomplete: %v", err)
	}
}

// A topic that exists with a shorter retention than the catalog's is
// raised by Ensure with create; a longer one is refused (Ensure never
// shortens what a topic keeps).
func TestEnsureRaisesAShorterRetentionOnly(t *testing.T) {
	ctx := context.Background()
	cl, adm := newAdmin(t)
	cat := topics.Catalog(topics.Settings{Partitions: 3, Replication: 1})
	week := kadm.StringPtr("604800000")
	if _, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete"), "retention.ms": week}, topics.OrderEvents); err != nil {
		t.Fatal(err)
	}
	statuses, err := topics.Ensure(ctx, cl, cat, true)
	if err != nil {
		t.Fatalf("ensure with create: %v", err)
	}
	for _, s := range statuses {
		if s.Widened != (s.Topic.Name == topics.OrderEvents) {
			t.Errorf("%s: widened %v", s.Topic.Name, s.Widened)
		}
	}
	if err := topics.Verify(ctx, cl, cat); err != nil {
		t.Fatalf("after the raise: %v", err)
	}

	// A dead-letter topic keeping longer than its 30 days is left alone.
	dlq := topics.DeadLetterTopic(topics.OrderEvents)
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("5184000000")}}, dlq); err != nil {
		t.Fatal(err)
	}
	var inc *topics.IncompatibleError
	if _, err := topics.Ensure(ctx, cl, cat, true); !errors.As(err, &inc) || !strings.Contains(err.Error(), dlq) {
		t.Fatalf("a longer retention: got %v, want it refused", err)
	}
}
