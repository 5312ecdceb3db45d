package ingest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/topics"
)

func generated(t *testing.T, o ingest.GenerateOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := ingest.WriteGenerated(&b, o)
	if err != nil || n != o.Records() {
		t.Fatalf("%d records, %v", n, err)
	}
	return b.Bytes()
}

func TestGenerateIsReproducible(t *testing.T) {
	o := ingest.GenerateOptions{Items: 500, Suppliers: 7, Warehouses: 3, Seed: 42}
	a, b := generated(t, o), generated(t, o)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different output")
	}
	o.Seed = 43
	if bytes.Equal(a, generated(t, o)) {
		t.Fatal("another seed, same output")
	}
}

func TestGenerateMakesABelievableValidCatalog(t *testing.T) {
	o := ingest.GenerateOptions{Items: 3000, Suppliers: 5, Warehouses: 4, Seed: 7}
	seq, err := ingest.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	prices := map[string][]int64{}
	suppliers := map[string]bool{}
	var zero, stock int
	for g := range seq {
		if g.Kind == ingest.KindStock {
			if errs := ingest.ValidateStock("", g.Stock); len(errs) > 0 {
				t.Fatalf("invalid %+v: %v", g.Stock, errs)
			}
			stock++
			if g.Stock.OnHand == 0 {
				zero++
			}
			continue
		}
		it := g.Item
		if errs := ingest.ValidateItem("", it); len(errs) > 0 {
			t.Fatalf("invalid %+v: %v", it, errs)
		}
		if it.PriceCents <= 0 || it.Description == "" || it.Brand == "" || it.Currency != "USD" {
			t.Fatalf("%+v", it)
		}
		prices[it.Category] = append(prices[it.Category], it.PriceCents)
		suppliers[it.SupplierID] = true
		need := map[string][]string{
			"electronics/tv": {"screen_size", "resolution"}, "electronics/laptops": {"cpu", "ram_gb"},
			"electronics/phones": {"storage_gb", "colour"}, "apparel/shirts": {"size", "colour"},
			"apparel/shoes": {"size", "colour"}, "books": {"author", "format"},
		}[it.Category]
		for _, a := range need {
			if it.Attributes[a] == "" {
				t.Fatalf("%s lacks %s: %+v", it.Category, a, it)
			}
		}
	}
	if len(prices) != 10 || len(suppliers) != 5 || stock != o.Items*o.Warehouses {
		t.Fatalf("%d categories, %d suppliers, %d stock levels", len(prices), len(suppliers), stock)
	}
	if zero == 0 || zero > stock/4 {
		t.Errorf("%d of %d stock levels are zero", zero, stock)
	}
	// A long tail: the top price of a category is far above its median;
	// and TVs cost more than books.
	median := func(c string) int64 {
		p := prices[c]
		sort.Slice(p, func(i, j int) bool { return p[i] < p[j] })
		return p[len(p)/2]
	}
	for c, p := range prices {
		m := median(c)
		if p[len(p)-1] < 2*m {
			t.Errorf("%s: max %d, median %d: no long tail", c, p[len(p)-1], m)
		}
	}
	if median("electronics/tv") < 10*median("books") {
		t.Errorf("TV median %d, book median %d", median("electronics/tv"), median("books"))
	}
}

func TestGenerateRefusesBadOptions(t *testing.T) {
	for _, o := range []ingest.GenerateOptions{{Items: 0, Suppliers: 1}, {Items: 1, Suppliers: 0}, {Items: 1, Suppliers: 1, Warehouses: -1}, {Items: 1, Suppliers: 1, Currency: "XXX"}} {
		if _, err := ingest.Generate(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// A generated file ingests with nothing dead-lettered, and GenerateTo
// produces the same counts straight to Kafka.
func TestGeneratedCatalogIngests(t *testing.T) {
	brokers, p := setup(t)
	o := ingest.GenerateOptions{Items: 400, Suppliers: 3, Warehouses: 2, Seed: 1}
	path := filepath.Join(t.TempDir(), "catalog.jsonl")
	if err := os.WriteFile(path, generated(t, o), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.File(context.Background(), path, p)
	if err != nil || sum.Items != 400 || sum.Stock != 800 || sum.DeadLettered != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	var progress bytes.Buffer
	sum, err = ingest.GenerateTo(context.Background(), p, o, ingest.WithProgress(&progress))
	if err != nil || sum.Items != 400 || sum.Stock != 800 || sum.Read != 1200 {
		t.Fatalf("%+v %v", sum, err)
	}
	if !bytes.Contains(progress.Bytes(), []byte("1,200 / 1,200 records")) {
		t.Errorf("progress %q", progress.String())
	}
	if n := len(readTopic(t, brokers, topics.SupplierStock)); n < 1600 {
		t.Errorf("%d stock levels on the topic", n)
	}
}
