package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/topics"
)

// BenchmarkFileVsRaw times ingest.File on a generated catalog file against
// the embedded broker in this process, and, in the same run, a raw
// franz-go client producing the same lines as they are (no decoding, no
// validation, no envelope) with the same acks and partitioner.
//
//	go test ./ingest -run '^$' -bench FileVsRaw -benchtime 3x
func BenchmarkFileVsRaw(b *testing.B) {
	for _, shape := range []struct {
		name string
		o    ingest.GenerateOptions
	}{
		{"catalog", ingest.GenerateOptions{Items: 50_000, Suppliers: 20, Warehouses: 3, Seed: 1}},
		{"items-only", ingest.GenerateOptions{Items: 200_000, Suppliers: 20, Seed: 1}},
	} {
		b.Run(shape.name, func(b *testing.B) { benchFile(b, shape.o) })
	}
}

func benchFile(b *testing.B, o ingest.GenerateOptions) {
	brokers, p := setup(b)
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "catalog.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ingest.WriteGenerated(f, o); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	raw, err := kgo.NewClient(append(eventlog.ClientOpts(brokers, "bench-raw", 5*time.Second, nil),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	if err := raw.ProduceSync(ctx, &kgo.Record{Topic: topics.SupplierItems, Value: []byte("{}")}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	var fileRate, rawRate float64
	var fileCPU, rawCPU time.Duration
	b.ResetTimer()
	for range b.N {
		cpu := cpuTime()
		sum, err := ingest.File(ctx, path, p)
		if err != nil || sum.Produced() != o.Records() {
			b.Fatalf("%+v %v", sum, err)
		}
		fileCPU += cpuTime() - cpu
		fileRate += sum.Rate()
		cpu = cpuTime()
		rawRate += produceRaw(b, raw, path, o.Records())
		rawCPU += cpuTime() - cpu
	}
	b.StopTimer()
	n := float64(b.N) * float64(o.Records())
	b.ReportMetric(fileRate/float64(b.N), "ingest-records/s")
	b.ReportMetric(rawRate/float64(b.N), "raw-records/s")
	b.ReportMetric(fileRate/rawRate, "ratio")
	// CPU time of the whole process (broker included) per record: what
	// the rate would be on idle cores, when other work shares the machine.
	b.ReportMetric(float64(fileCPU.Microseconds())/n, "ingest-cpu-µs/record")
	b.ReportMetric(float64(rawCPU.Microseconds())/n, "raw-cpu-µs/record")
	b.ReportMetric(float64(st.Size())/float64(o.Records()), "bytes/record")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// produceRaw produces every line of path as a record value and returns
// records per second.
func produceRaw(b *testing.B, cl *kgo.Client, path string, want int64) float64 {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), ingest.MaxLineBytes)
	var wg sync.WaitGroup
	var n int64
	for sc.Scan() {
		wg.Add(1)
		n++
		cl.Produce(context.Background(), &kgo.Record{Topic: topics.SupplierItems, Value: bytes.Clone(sc.Bytes())}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if n != want {
		b.Fatalf("raw produced %d of %d", n, want)
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkHTTPBatches posts 1000-item batches over a real loopback
// listener from 4 concurrent clients and reports records/s (each answer
// waits for Kafka's acknowledgement).
//
//	go test ./ingest -run '^$' -bench HTTPBatches -benchtime 3x
func BenchmarkHTTPBatches(b *testing.B) {
	_, p := setup(b)
	mux := http.NewServeMux()
	ingest.NewHandler(p, nil, nil).Mount(mux)
	srv := &http.Server{Handler: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/v1/suppliers/sup-001/items"

	const batches, clients = 200, 4
	seq, err := ingest.Generate(ingest.GenerateOptions{Items: batches * ingest.MaxBatchItems, Suppliers: 1, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, 0, batches)
	var cur bytes.Buffer
	n := 0
	for g := range seq {
		if n%ingest.MaxBatchItems == 0 {
			cur.Reset()
			cur.WriteString(`{"items":[`)
		} else {
			cur.WriteByte(',')
		}
		js, err := json.Marshal(g.Item)
		if err != nil {
			b.Fatal(err)
		}
		cur.Write(js)
		n++
		if n%ingest.MaxBatchItems == 0 {
			cur.WriteString("]}")
			bodies = append(bodies, bytes.Clone(cur.Bytes()))
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	post := func(body []byte) {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	post(bodies[0]) // warm up
	var rate float64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < batches; i = next.Add(1) - 1 {
					post(bodies[i])
				}
			}()
		}
		wg.Wait()
		rate += float64(batches*ingest.MaxBatchItems) / time.Since(start).Seconds()
	}
	b.StopTimer()
	b.ReportMetric(rate/float64(b.N), "records/s")
	b.ReportMetric(float64(len(bodies[0])), "bytes/batch")
}
