// Package realserver tells a contract suite where the real server for its
// store role runs. `make test-real` starts the servers with deploy/local/up
// and names them in SHOPSTREAM_TEST_* variables. A test without its server
// says so and skips; under CI (CI=true) it fails instead, because CI starts
// every server and a skip there would hide a broken harness. Silent stands
// in for a server that hangs, for the tests that need no real one.
package realserver

import (
	"os"
	"testing"
)

// The variables naming each real server, and what deploy/local/up gives.
const (
	MySQL         = "SHOPSTREAM_TEST_MYSQL"         // DSN, e.g. shopstream:shopstream@tcp(127.0.0.1:13306)/shopstream
	Cassandra     = "SHOPSTREAM_TEST_CASSANDRA"     // host:port, e.g. 127.0.0.1:19042
	Elasticsearch = "SHOPSTREAM_TEST_ELASTICSEARCH" // URL, e.g. http://127.0.0.1:19200
	ClickHouse    = "SHOPSTREAM_TEST_CLICKHOUSE"    // native host:port, e.g. 127.0.0.1:19000
)

var servers = map[string]string{
	MySQL: "mysql", Cassandra: "cassandra", Elasticsearch: "elasticsearch", ClickHouse: "clickhouse",
}

// Addr returns the value of env, or skips (fails under CI) with how to
// start the server.
func Addr(t testing.TB, env string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	msg := env + " is not set: no real " + servers[env] + " to test against; run `deploy/local/up " + servers[env] + "` and `make test-real`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
