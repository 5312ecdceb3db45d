package main_test

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAllInOneColdStart starts the built binary on an empty data
// directory, times it from exec to /readyz answering 200, then lets it idle
// for two seconds and reads its resident memory from /proc.
func BenchmarkAllInOneColdStart(b *testing.B) {
	var total time.Duration
	var rssMB float64
	for i := 0; i < b.N; i++ {
		began := time.Now()
		cmd, _ := startAllInOne(b, b.TempDir(), io.Discard)
		total += time.Since(began)
		time.Sleep(2 * time.Second)
		rssMB += residentMB(b, cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			b.Fatalf("exit: %v", err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-ready")
	b.ReportMetric(rssMB/float64(b.N), "idle-RSS-MB")
}

func residentMB(b *testing.B, pid int) float64 {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
