package topics_test

import (
	"context"
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
