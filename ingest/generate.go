package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/topics"
)

// GenerateOptions sizes a synthetic catalog.
type GenerateOptions struct {
	// Items is the number of item upserts.
	Items int
	// Suppliers share the items (at least 1).
	Suppliers int
	// Warehouses is the number of stock levels per item (0 for none).
	Warehouses int
	// Seed makes the catalog: the same options give the same records.
	Seed uint64
	// Currency of the prices (default USD).
	Currency string
}

// MaxGenerateItems bounds a generated catalog.
const MaxGenerateItems = 100_000_000

func (o *GenerateOptions) check() error {
	if o.Currency == "" {
		o.Currency = "USD"
	}
	switch {
	case o.Items < 1 || o.Items > MaxGenerateItems:
		return fmt.Errorf("ingest: generate: items must be between 1 and %d, got %d", MaxGenerateItems, o.Items)
	case o.Suppliers < 1 || o.Suppliers > 100_000:
		return fmt.Errorf("ingest: generate: suppliers must be between 1 and 100000, got %d", o.Suppliers)
	case o.Warehouses < 0 || o.Warehouses > 1000:
		return fmt.Errorf("ingest: generate: warehouses must be between 0 and 1000, got %d", o.Warehouses)
	case !topics.KnownCurrency(o.Currency):
		return fmt.Errorf("ingest: generate: currency %q is not an accepted ISO 4217 code", o.Currency)
	}
	return nil
}

// Records is how many records the options make: each item and its stock
// levels.
func (o GenerateOptions) Records() int64 { return int64(o.Items) * int64(1+o.Warehouses) }

// Generated is one record of a synthetic catalog: Item when Kind is
// KindItems, Stock when it is KindStock.
type Generated struct {
	Kind  Kind
	Item  topics.SupplierItemUpserted
	Stock topics.SupplierStockLevel
}

func (g *Generated) record() record { return record{kind: g.Kind, item: g.Item, stock: g.Stock} }

// Generate returns a reproducible synthetic catalog: each item upsert
// followed by its stock level in every warehouse. Items spread over ten
// categories (TVs, laptops, phones, shirts, shoes, kitchen, books, toys,
// sports, beauty) with real brands and product lines, titles of brand,
// model and key attributes, per-category attributes, long-tailed
// (log-normal) prices in minor units, and descriptions. About one stock
// level in seven is zero. The same options give the same records, in the
// same order, from any build of the same source.
func Generate(o GenerateOptions) (iter.Seq[Generated], error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return func(yield func(Generated) bool) {
		r := &catalogRand{rand.New(rand.NewPCG(o.Seed, 0x73686f7073747265))}
		total := 0
		for _, c := range categories {
			total += c.weight
		}
		factor := currencyFactor(o.Currency)
		for i := range o.Items {
			item := r.item(i, total, o, factor)
			if !yield(Generated{Kind: KindItems, Item: item}) {
				return
			}
			for w := range o.Warehouses {
				st := topics.SupplierStockLevel{SupplierID: item.SupplierID, ItemID: item.ItemID,
					WarehouseID: fmt.Sprintf("wh-%02d", w+1), OnHand: r.onHand()}
				if !yield(Generated{Kind: KindStock, Stock: st}) {
					return
				}
			}
		}
	}, nil
}

// catalogRand draws the catalog from one seeded source, in one order.
type catalogRand struct{ *rand.Rand }

func (r *catalogRand) pick(list []string) string { return list[r.IntN(len(list))] }

// index picks an index of n values, by weight when given.
func (r *catalogRand) index(n int, weights []int) int {
	if len(weights) != n {
		return r.IntN(n)
	}
	sum := 0
	for _, w := range weights {
		sum += w
	}
	x := r.IntN(sum)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return n - 1
}

func (r *catalogRand) item(i, totalWeight int, o GenerateOptions, factor float64) topics.SupplierItemUpserted {
	x := r.IntN(totalWeight)
	c := &categories[0]
	for j := range categories {
		if x < categories[j].weight {
			c = &categories[j]
			break
		}
		x -= categories[j].weight
	}
	b := c.brands[r.IntN(len(c.brands))]
	vals := map[string]string{"brand": b.name}
	if len(b.series) > 0 {
		vals["series"] = r.pick(b.series)
	}
	if c.model != "" {
		vals["model"] = r.model(c.model)
	}
	supplier := fmt.Sprintf("sup-%03d", 1+r.IntN(o.Suppliers))
	it := topics.SupplierItemUpserted{
		SupplierID: supplier,
		// The supplier is part of the id: an item belongs to one supplier,
		// whatever catalogs are generated with other seeds.
		ItemID:     fmt.Sprintf("%s-%08d", supplier, i+1),
		Category:   c.path,
		Brand:      b.name,
		Currency:   o.Currency,
		Attributes: map[string]string{},
	}
	price := float64(c.median) * math.Exp(c.sigma*r.NormFloat64()) * factor
	if b.premium > 0 {
		price *= b.premium
	}
	for _, a := range c.attrs {
		var v string
		switch {
		case a.gen != nil:
			v = a.gen(r)
		case b.only[a.name] != nil:
			v = r.pick(b.only[a.name])
		default:
			k := r.index(len(a.values), a.weights)
			v = a.values[k]
			price *= math.Pow(1+a.step, float64(k))
		}
		vals[a.name] = v
		if !a.hidden {
			it.Attributes[a.name] = v
		}
	}
	it.Title = fill(c.title, vals)
	f := r.Perm(len(c.features))
	it.Description = fmt.Sprintf("%s %s, %s and %s. %s", fill(c.about, vals),
		fill(c.features[f[0]], vals), fill(c.features[f[1]], vals), fill(c.features[f[2]], vals), r.pick(closers))
	it.PriceCents = charmPrice(price)
	return it
}

// model makes a model number from a pattern: A a letter, 9 a digit.
func (r *catalogRand) model(pattern string) string {
	b := []byte(pattern)
	for i, c := range b {
		switch c {
		case 'A':
			b[i] = 'A' + byte(r.IntN(26))
		case '9':
			b[i] = '0' + byte(r.IntN(10))
		}
	}
	return string(b)
}

// onHand is a stock count: zero about one time in seven, else log-normal
// around 20.
func (r *catalogRand) onHand() int64 {
	if r.IntN(7) == 0 {
		return 0
	}
	return min(1+int64(math.Exp(3+r.NormFloat64())), 5000)
}

// charmPrice rounds to a shop price: x.99 above 10 units, x.x9 below,
// always at least 99 minor units and at most MaxPriceCents.
func charmPrice(p float64) int64 {
	c := int64(p)
	switch {
	case c >= 1000:
		c = (c/100+1)*100 - 1
	default:
		c = (c/10+1)*10 - 1
	}
	return min(max(c, 99), MaxPriceCents)
}

// currencyFactor converts the US-cent price tables roughly, so a TV costs
// about as much in rupees or yen as in dollars.
func currencyFactor(code string) float64 {
	f := map[string]float64{"EUR": 0.92, "GBP": 0.79, "INR": 83, "CAD": 1.36, "AUD": 1.52, "CHF": 0.88, "CNY": 7.2,
		"SEK": 10.5, "NOK": 10.7, "DKK": 6.9, "PLN": 4, "BRL": 5, "MXN": 17, "SGD": 1.35, "HKD": 7.8, "NZD": 1.65,
		"ZAR": 18.5, "JPY": 1.5, "KRW": 13.5}[code]
	if f == 0 {
		return 1
	}
	return f
}

// fill replaces {name} placeholders from vals and folds the white space an
// empty one leaves.
func fill(tmpl string, vals map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		j := strings.IndexByte(tmpl, '}')
		if i < 0 || j < i {
			b.WriteString(tmpl)
			break
		}
		b.WriteString(tmpl[:i])
		b.WriteString(vals[tmpl[i+1:j]])
		tmpl = tmpl[j+1:]
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// WriteGenerated writes the catalog of o to w as JSON Lines, the format
// File reads, and returns the number of records.
func WriteGenerated(w io.Writer, o GenerateOptions) (int64, error) {
	seq, err := Generate(o)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // "H&M", not "H\u0026M"
	var n int64
	for g := range seq {
		var v any = g.Item
		if g.Kind == KindStock {
			v = g.Stock
		}
		if err := enc.Encode(v); err != nil {
			return n, fmt.Errorf("ingest: generate: write: %w", err)
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("ingest: generate: write: %w", err)
	}
	return n, nil
}

// GenerateTo produces the catalog of o straight to the supplier topics,
// pipelined, and returns once Kafka acknowledged every record. Of opts
// only WithProgress applies.
func GenerateTo(ctx context.Context, p *eventlog.Producer, o GenerateOptions, opts ...FileOption) (Summary, error) {
	sum := Summary{Source: fmt.Sprintf("generate(items=%d, suppliers=%d, warehouses=%d, seed=%d)", o.Items, o.Suppliers, o.Warehouses, o.Seed)}
	cfg, err := newFileConfig(opts)
	if err != nil {
		return sum, err
	}
	seq, err := Generate(o)
	if err != nil {
		return sum, err
	}
	start := time.Now()
	prodCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	em := newEmitter(p, stop)
	if cfg.progress != nil {
		pr := startProgress(cfg.progress, "generate", o.Records(), false, em.acked, em.acked)
		defer pr.Stop()
	}
	for g := range seq {
		if prodCtx.Err() != nil {
			break
		}
		sum.Read++
		rec := g.record()
		if errs := rec.check(""); len(errs) > 0 {
			// The generator's own bug; never send it on.
			em.fail(errors.New("generated an invalid record: " + reason(rec.kind, errs)))
			break
		}
		em.record(ctx, &rec)
	}
	err = em.wait(ctx)
	em.fill(&sum)
	sum.Elapsed = time.Since(start)
	switch {
	case ctx.Err() != nil:
		return sum, fmt.Errorf("ingest: generate: stopped after %d records: %w", sum.Read, context.Cause(ctx))
	case err != nil:
		return sum, fmt.Errorf("ingest: generate: %w", err)
	}
	return sum, nil
}
