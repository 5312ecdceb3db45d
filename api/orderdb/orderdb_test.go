package orderdb

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

func TestOpenDeadMySQLFailsFastNamingTheAddress(t *testing.T) {
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
	cfg := config.OrdersStore{Driver: "mysql", DSN: "shopstream:hunter2@tcp(" + addr + ")/shopstream"}
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
	if !strings.Contains(err.Error(), "mysql at "+addr) {
		t.Errorf("error does not name the address %s: %v", addr, err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error prints the password: %v", err)
	}
}

func TestOpenMySQLRefusesABadDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"shopstream:hunter2@tcp(127.0.0.1:1)":  "invalid",
		"shopstream:hunter2@tcp(127.0.0.1:1)/": "names no database",
	} {
		_, err := Open(t.Context(), config.OrdersStore{Driver: "mysql", DSN: dsn}, "")
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("DSN %q: got %v, want an error saying %q without the password", dsn, err, want)
		}
	}
}

func TestOpenSQLiteRefusesAnUnusablePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		filepath.Join(file, "orders.db"): "cannot create its directory",  // parent is a file
		dir:                              "cannot be opened for writing", // a directory
		filepath.Join(dir, "a?b.db"):     "not supported",
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "read-only")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		cases[filepath.Join(ro, "orders.db")] = "cannot be opened for writing"
	}
	for path, want := range cases {
		_, err := Open(t.Context(), config.OrdersStore{Driver: "sqlite", DSN: path}, "")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("sqlite file %s: got %v, want an error naming it and saying %q", path, err, want)
		}
	}
	if _, err := Open(t.Context(), config.OrdersStore{Driver: "sqlite"}, ""); err == nil {
		t.Error("sqlite with neither a DSN nor a data_dir opened")
	}
}

func TestOpenSQLiteDefaultsToDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	s, err := Open(t.Context(), config.OrdersStore{Driver: "sqlite"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	if err := s.(*sqlStore).db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v; want wal", mode, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "orders.db")); err != nil {
		t.Errorf("no orders.db in the data dir: %v", err)
	}
}

func TestOpenRefusesAnUnknownDriver(t *testing.T) {
	_, err := Open(t.Context(), config.OrdersStore{Driver: "postgres"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `"postgres"`) {
		t.Fatalf("got %v", err)
	}
}
