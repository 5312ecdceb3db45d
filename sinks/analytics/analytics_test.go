package analytics

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/config"
)

// These need no server: they run in both make passes.

func TestOpenDeadClickHouseFailsFastNamingTheAddress(t *testing.T) {
	// A port nobody listens on: refused at once.
	checkDead(t, "127.0.0.1:1", DefaultTimeout)

	// A server that accepts and never speaks: only the timeout ends it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	checkDead(t, ln.Addr().String(), time.Second, Timeout(time.Second))
}

func checkDead(t *testing.T, addr string, bound time.Duration, opts ...Option) {
	t.Helper()
	cfg := config.AnalyticsStore{Driver: "clickhouse", Addrs: []string{addr}, Database: "shopstream", Username: "default", Password: "hunter2"}
	start := time.Now()
	s, err := Open(t.Context(), cfg, "", opts...)
	took := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatalf("open against %s succeeded", addr)
	}
	t.Logf("%s: failed after %s: %v", addr, took.Round(time.Millisecond), err)
	if took > bound+2*time.Second {
		t.Errorf("open against %s took %s, bound %s", addr, took, bound)
	}
	if !strings.Contains(err.Error(), "clickhouse at "+addr) {
		t.Errorf("error does not name the address %s: %v", addr, err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error prints the password: %v", err)
	}
}

func TestOpenClickHouseRefusesABadConfig(t *testing.T) {
	for what, cfg := range map[string]config.AnalyticsStore{
		"no address":          {Driver: "clickhouse", Database: "shopstream"},
		"database name":       {Driver: "clickhouse", Addrs: []string{"127.0.0.1:1"}, Database: "x; DROP DATABASE y"},
		"empty database name": {Driver: "clickhouse", Addrs: []string{"127.0.0.1:1"}},
	} {
		if _, err := Open(t.Context(), cfg, ""); err == nil {
			t.Errorf("%s: opened", what)
		}
	}
}

func TestOpenSQLiteRefusesAnUnusablePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "taken", "analytics.db"), 0o700); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		file:                        "cannot create its directory",  // data dir is a file
		filepath.Join(dir, "taken"): "cannot be opened for writing", // analytics.db is a directory
		filepath.Join(dir, "a?b"):   "not supported",
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "read-only")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		cases[ro] = "cannot be opened for writing"
	}
	for dataDir, want := range cases {
		_, err := Open(t.Context(), config.AnalyticsStore{Driver: "sqlite"}, dataDir)
		path := filepath.Join(dataDir, "analytics.db")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("data dir %s: got %v, want an error naming %s and saying %q", dataDir, err, path, want)
		}
	}
	if _, err := Open(t.Context(), config.AnalyticsStore{Driver: "sqlite"}, ""); err == nil {
		t.Error("sqlite without a data_dir opened")
	}
}

func TestOpenRefusesAnUnknownDriver(t *testing.T) {
	_, err := Open(t.Context(), config.AnalyticsStore{Driver: "druid"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `"druid"`) {
		t.Fatalf("got %v", err)
	}
}
