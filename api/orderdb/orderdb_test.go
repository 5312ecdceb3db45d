package orderdb

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/sqlstore/sqlstoretest"
)

// These need no server: they run in both make passes.

func TestOpenDeadMySQLFailsFastNamingTheAddress(t *testing.T) {
	sqlstoretest.DeadServer(t, sqlstoretest.Dead[Option]{
		Server: "mysql", Password: "hunter2", DefaultTimeout: DefaultTimeout, Timeout: Timeout,
		Open: func(ctx context.Context, addr string, opts ...Option) (io.Closer, error) {
			return Open(ctx, config.OrdersStore{Driver: "mysql", DSN: "shopstream:hunter2@tcp(" + addr + ")/shopstream"}, "", opts...)
		},
	})
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
	sqlstoretest.UnusableSQLitePaths(t, "orders.db", func(path string) error {
		_, err := Open(t.Context(), config.OrdersStore{Driver: "sqlite", DSN: path}, "")
		return err
	})
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
	if err := s.(*sqlStore).DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
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
