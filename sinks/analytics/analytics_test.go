package analytics

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/sqlstore/sqlstoretest"
)

// These need no server: they run in both make passes.

func TestOpenDeadClickHouseFailsFastNamingTheAddress(t *testing.T) {
	sqlstoretest.DeadServer(t, sqlstoretest.Dead[Option]{
		Server: "clickhouse", Password: "hunter2", DefaultTimeout: DefaultTimeout, Timeout: Timeout,
		Open: func(ctx context.Context, addr string, opts ...Option) (io.Closer, error) {
			return Open(ctx, config.AnalyticsStore{Driver: "clickhouse", Addrs: []string{addr}, Database: "shopstream", Username: "default", Password: "hunter2"}, "", opts...)
		},
	})
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
	sqlstoretest.UnusableSQLitePaths(t, "analytics.db", func(path string) error {
		_, err := Open(t.Context(), config.AnalyticsStore{Driver: "sqlite"}, filepath.Dir(path))
		return err
	})
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
