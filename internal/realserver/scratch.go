package realserver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/gocql/gocql"
)

// Name returns prefix_<12 random hex digits>, a namespace no earlier run
// on a long-lived server has used.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// ScratchMySQL creates an empty database shopstream_<hex> on the server of
// dsn, drops it when the test ends, and returns a DSN for it.
func ScratchMySQL(t testing.TB, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", MySQL, err)
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := Name("shopstream")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("create scratch database %s at %s: %v", name, cfg.Addr, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop scratch database %s at %s: %v", name, cfg.Addr, err)
		}
	})
	scratch := cfg.Clone()
	scratch.DBName = name
	return scratch.FormatDSN()
}

// ScratchClickHouse names a database shopstream_<hex> for the store to
// create, and drops it when the test ends.
func ScratchClickHouse(t testing.TB, addr string) string {
	t.Helper()
	name := Name("shopstream")
	t.Cleanup(func() {
		db := clickhouse.OpenDB(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second})
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop scratch database %s at %s: %v", name, addr, err)
		}
	})
	return name
}

// ScratchKeyspace names a keyspace shopstream_<hex> for the store to
// create, and drops it when the test ends.
func ScratchKeyspace(t testing.TB, addr string) string {
	t.Helper()
	name := Name("shopstream")
	t.Cleanup(func() {
		cluster := gocql.NewCluster(addr)
		cluster.ConnectTimeout = 5 * time.Second
		cluster.Timeout = 30 * time.Second
		s, err := cluster.CreateSession()
		if err != nil {
			t.Errorf("drop keyspace %s at %s: %v", name, addr, err)
			return
		}
		defer s.Close()
		if err := s.Query("DROP KEYSPACE IF EXISTS " + name).Exec(); err != nil {
			t.Errorf("drop keyspace %s at %s: %v", name, addr, err)
		}
	})
	return name
}

// ScratchIndex names an index items_<hex> for the store to create, and
// deletes it when the test ends.
func ScratchIndex(t testing.TB, url string) string {
	t.Helper()
	name := Name("items")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, strings.TrimSuffix(url, "/")+"/"+name, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("delete index %s at %s: %v", name, url, err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
			t.Errorf("delete index %s at %s: %s", name, url, resp.Status)
		}
	})
	return name
}
