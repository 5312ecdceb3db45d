package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAllInOneSupply loads a generated catalog of 100k items into a
// running all-in-one through `shopstream ingest generate`, waits until
// search has indexed it, then measures, through HTTP:
//   - freshness: a supplier's stock change (PUT inventory) until search
//     shows it (the item leaves or re-enters the default results);
//   - search latency over a mixed query set;
//   - the process's resident memory with the catalog loaded.
func BenchmarkAllInOneSupply(b *testing.B) {
	const items = 100_000
	dir := b.TempDir()
	cmd, addr, bootstrap := startAllInOneKafka(b, dir, io.Discard)
	base := "http://" + addr

	began := time.Now()
	gen := exec.Command(bin, "ingest", "generate", "--items", fmt.Sprint(items), "--suppliers", "20", "--warehouses", "3", "--seed", "7",
		"--kafka.embedded.port", strings.Split(bootstrap, ":")[1])
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("generate: %v\n%s", err, out)
	}
	produced := time.Since(began)
	// Every generated item has a title; wait until search counts them all.
	for total(b, base, "in_stock=false") < items {
		if time.Since(began) > 10*time.Minute {
			b.Fatalf("only %d of %d items indexed after 10 minutes", total(b, base, "in_stock=false"), items)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Then until the stock events behind the items are applied too: the
	// in-stock count holds still for three seconds.
	for last, still := int64(-1), 0; still < 3; time.Sleep(time.Second) {
		if n := total(b, base, ""); n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
	indexed := time.Since(began)
	b.Logf("generated %d items in %s; searchable and stocked after %s", items, produced.Round(time.Millisecond), indexed.Round(time.Millisecond))

	b.ResetTimer()
	fresh := freshness(b, base, 200)
	queries := []string{"q=tv", "q=sonny", "q=lapt", "q=wireless+headph", "category=electronics", "brand=Samsung&sort=price",
		"q=shirt&min_price=10&max_price=50", "sort=newest", "q=kitchen&sort=-price", "q=book&page=3&size=50"}
	lat := searchLatency(b, base, queries, 2000)
	b.StopTimer()
	rss := residentMB(b, cmd.Process.Pid)

	b.ReportMetric(float64(items)/produced.Seconds(), "generated-items/s")
	b.ReportMetric(indexed.Seconds(), "s-to-searchable")
	b.ReportMetric(ms(fresh, 50), "freshness-p50-ms")
	b.ReportMetric(ms(fresh, 99), "freshness-p99-ms")
	b.ReportMetric(ms(lat, 50), "search-p50-ms")
	b.ReportMetric(ms(lat, 99), "search-p99-ms")
	b.ReportMetric(rss, "RSS-MB")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

func total(b *testing.B, base, query string) int64 {
	var out struct{ Total int64 }
	get(b, base+"/v1/search?"+query+"&size=1", &out)
	return out.Total
}

func get(b *testing.B, u string, v any) {
	resp, err := http.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		b.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		b.Fatal(err)
	}
}

// freshness flips one item's stock between 0 and 5 n times and times each
// flip until search agrees.
func freshness(b *testing.B, base string, n int) []time.Duration {
	var probe struct {
		Hits []struct {
			ItemID     string `json:"item_id"`
			SupplierID string `json:"supplier_id"`
		}
	}
	get(b, base+"/v1/search?sort=price&size=1", &probe)
	id := probe.Hits[0].ItemID
	var item struct {
		SupplierID string `json:"supplier_id"`
	}
	get(b, base+"/v1/items/"+url.PathEscape(id), &item)
	inDefault := func() bool {
		var out struct {
			Hits []struct {
				ItemID string `json:"item_id"`
			}
		}
		get(b, base+"/v1/search?sort=price&size=5", &out)
		for _, h := range out.Hits {
			if h.ItemID == id {
				return true
			}
		}
		return false
	}
	var out []time.Duration
	for i := 0; i < n; i++ {
		want := i%2 == 1 // first set to zero: hidden
		level := 0
		if want {
			level = 5
		}
		body, _ := json.Marshal(map[string]any{"levels": []any{map[string]any{"item_id": id, "warehouse_id": "bench-wh", "on_hand": level}}})
		// Zero the generated warehouses once so this warehouse decides.
		if i == 0 {
			body = zeroAll(b, base, id, item.SupplierID)
		}
		start := time.Now()
		req, _ := http.NewRequest("PUT", base+"/v1/suppliers/"+item.SupplierID+"/inventory", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("PUT inventory: %v %v", err, resp)
		}
		resp.Body.Close()
		for inDefault() != want {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("stock change %d not visible after 10s", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// zeroAll sets every warehouse of item to 0 plus the bench warehouse.
func zeroAll(b *testing.B, base, id, supplier string) []byte {
	var item struct {
		Stock struct{ Warehouses map[string]int64 }
	}
	get(b, base+"/v1/items/"+url.PathEscape(id), &item)
	var levels []any
	for wh := range item.Stock.Warehouses {
		levels = append(levels, map[string]any{"item_id": id, "warehouse_id": wh, "on_hand": 0})
	}
	levels = append(levels, map[string]any{"item_id": id, "warehouse_id": "bench-wh", "on_hand": 0})
	body, _ := json.Marshal(map[string]any{"levels": levels})
	return body
}

func searchLatency(b *testing.B, base string, queries []string, n int) []time.Duration {
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		resp, err := http.Get(base + "/v1/search?" + queries[i%len(queries)])
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("search %s: %d", queries[i%len(queries)], resp.StatusCode)
		}
		out = append(out, time.Since(start))
	}
	return out
}

func ms(d []time.Duration, pct int) float64 {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[(len(s)-1)*pct/100].Microseconds()) / 1000
}
