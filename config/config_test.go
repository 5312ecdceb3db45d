package config_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/config"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The all-in-one file documents the defaults; they must not drift apart.
func TestAllInOneFileEqualsDefaults(t *testing.T) {
	cfg, err := config.Load("../deploy/config/all-in-one.yaml", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	// YAML's [] is an empty list, the default a nil one.
	cfg.Stores.History.Hosts, cfg.Stores.Search.URLs, cfg.Stores.Analytics.Addrs = nil, nil, nil
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("all-in-one.yaml\n got %+v\nwant %+v", cfg, want)
	}
}

func TestShippedFilesLoad(t *testing.T) {
	for _, f := range []string{"all-in-one.yaml", "local.yaml", "production.example.yaml"} {
		if _, err := config.Load("../deploy/config/"+f, nil, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	local, _ := config.Load("../deploy/config/local.yaml", nil, nil)
	if local.Kafka.Embedded.Enabled || local.Stores.Orders.Driver != "mysql" || local.Stores.History.Driver != "cassandra" ||
		local.Stores.Search.Driver != "elasticsearch" || local.Stores.Analytics.Driver != "clickhouse" {
		t.Errorf("local.yaml does not select the real servers: %+v", local)
	}
}

func TestUnknownKeysAreRefusedWithTheirPath(t *testing.T) {
	p := writeFile(t, "kafka:\n  embedded:\n    prot: 1\nlogg:\n  level: info\n")
	_, err := config.Load(p, nil, nil)
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{
		"config key kafka.embedded.prot (" + p + " line 3): unknown key (did you mean kafka.embedded.port?)",
		"config key logg (" + p + " line 4): unknown key",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestBadValuesNameKeyAndReason(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"http:\n  addr: 127.0.0.1:99999\n", "config key http.addr: \"127.0.0.1:99999\": port 99999 is not between 0 and 65535"},
		{"kafka:\n  embedded:\n    port: abc\n", "config key kafka.embedded.port (FILE line 3): \"abc\" is not an integer"},
		{"kafka:\n  embedded:\n    port: 70000\n", "config key kafka.embedded.port: 70000 is not a port (0-65535)"},
		{"kafka:\n  dial_timeout: 10\n", "config key kafka.dial_timeout (FILE line 2): \"10\" is not a duration"},
		{"log:\n  format: xml\n", "config key log.format: \"xml\" is not one of text, json"},
		{"topics:\n  partitions: 0\n", "config key topics.partitions: 0 is not between 1 and 10000"},
		{"topics:\n  replication: 40000\n", "config key topics.replication (FILE line 2): 40000 is out of range for a 16-bit integer"},
		{"kafka:\n  embedded:\n    enabled: maybe\n", "config key kafka.embedded.enabled (FILE line 3): \"maybe\" is not true or false"},
		{"kafka:\n  embedded:\n    enabled: false\n  brokers: []\n", "config key kafka.brokers: needs at least one host:port"},
		{"stores:\n  orders:\n    driver: mysql\n", "config key stores.orders.dsn: is required with the mysql driver"},
		{"stores:\n  search:\n    driver: elasticsearch\n    urls: [ftp://x]\n", "config key stores.search.urls: \"ftp://x\" is not an http(s) URL"},
		{"log: text\n", "config key log (FILE line 1): expected a mapping of keys"},
		{"log:\n  level: info\n  level: debug\n", "config key log.level (FILE line 3): set twice"},
		{"http:\n  addr: [a, b]\n", "config key http.addr (FILE line 2): expected a single value"},
		{"payments:\n  success_rate: lots\n", "config key payments.success_rate (FILE line 2): \"lots\" is not a number"},
		{"payments:\n  success_rate: 0.5\n", "config key payments.success_rate: success_rate + failure_rate + no_answer_rate is 0.6; they must sum to 1"},
		{"payments:\n  failure_rate: -0.1\n  success_rate: 1.02\n", "config key payments.failure_rate: -0.1 is not between 0 and 1"},
		{"orders:\n  ttl: 0s\n", "config key orders.ttl: 0s must be greater than zero"},
		{"orders:\n  idempotency_key_retention: 0s\n", "config key orders.idempotency_key_retention: 0s must be greater than zero"},
		{"stores:\n  history:\n    driver: cassandra\n    hosts: [c1:9042]\n    replication_factor: 3\n    consistency: one\n",
			"config key stores.history.consistency: \"one\" with replication_factor 3 lets a read miss an order"},
		{"membership:\n  trial_days: 0\n", "config key membership.trial_days: 0 is not between 1 and 365"},
		{"membership:\n  trial_days: 366\n", "config key membership.trial_days: 366 is not between 1 and 365"},
		{"membership:\n  trial_days: 2w\n", "config key membership.trial_days (FILE line 2): \"2w\" is not an integer"},
	}
	for _, c := range cases {
		p := writeFile(t, c.yaml)
		_, err := config.Load(p, nil, nil)
		want := strings.ReplaceAll(c.want, "FILE", p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q:\n got %v\nwant %s", c.yaml, err, want)
		}
	}
}

func TestUnreadableAndMalformedFiles(t *testing.T) {
	if _, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), nil, nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	p := writeFile(t, "kafka: [\n")
	if _, err := config.Load(p, nil, nil); err == nil || !strings.Contains(err.Error(), "parse "+p) {
		t.Errorf("malformed YAML: %v", err)
	}
}

func TestPrecedenceDefaultsFileEnvFlags(t *testing.T) {
	p := writeFile(t, "log:\n  level: warn\n  format: json\nkafka:\n  embedded:\n    port: 1111\n")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	flags, path := config.RegisterFlags(fs, "")
	if err := fs.Parse([]string{"--config", p, "--kafka.embedded.port", "3333", "--data-dir", "/tmp/x", "--kafka.embedded.sync-writes=false"}); err != nil {
		t.Fatal(err)
	}
	env := []string{"SHOPSTREAM_LOCAL_KAFKA_PORT=19092", "SHOPSTREAM_TEST_KAFKA=x", "SHOPSTREAM_SERVICE_HOST=10.0.0.1", "SHOPSTREAM_PORT_8080_TCP=tcp://10.0.0.1:8080", "SHOPSTREAM_KAFKA_EMBEDDED_PORT=2222", "SHOPSTREAM_LOG_LEVEL=debug", "SHOPSTREAM_KAFKA_BROKERS=a:1, b:2", "SHOPSTREAM_KAFKA_DIAL_TIMEOUT=3s", "PATH=/bin"}
	cfg, err := config.Load(*path, env, flags)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case cfg.Kafka.Embedded.Port != 3333:
		t.Errorf("flag did not override env and file: port %d", cfg.Kafka.Embedded.Port)
	case cfg.Log.Level != "debug":
		t.Errorf("env did not override file: level %s", cfg.Log.Level)
	case cfg.Log.Format != "json":
		t.Errorf("file did not override default: format %s", cfg.Log.Format)
	case cfg.DataDir != "/tmp/x" || cfg.Kafka.Embedded.SyncWrites:
		t.Errorf("flags not applied: %+v", cfg)
	case !reflect.DeepEqual(cfg.Kafka.Brokers, []string{"a:1", "b:2"}) || cfg.Kafka.DialTimeout != 3*time.Second:
		t.Errorf("env lists or durations not applied: %v %v", cfg.Kafka.Brokers, cfg.Kafka.DialTimeout)
	}
}

func TestUnknownEnvironmentVariableIsRefused(t *testing.T) {
	_, err := config.Load("", []string{"SHOPSTREAM_KAFKA_BROKRS=x:1"}, nil)
	if err == nil || !strings.Contains(err.Error(), "env SHOPSTREAM_KAFKA_BROKRS") || !strings.Contains(err.Error(), "did you mean kafka.brokers?") {
		t.Errorf("got %v", err)
	}
}

func TestEveryKeyHasEnvAndFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	config.RegisterFlags(fs, "")
	for _, k := range config.Keys() {
		if fs.Lookup(config.FlagName(k)) == nil {
			t.Errorf("no flag for %s", k)
		}
		if !strings.HasPrefix(config.EnvName(k), "SHOPSTREAM_") {
			t.Errorf("bad env name for %s", k)
		}
	}
}

// docs/config.md documents every key.
func TestDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys() {
		if !strings.Contains(string(doc), "| `"+k+"` | `"+config.EnvName(k)+"` | `--"+config.FlagName(k)+"` |") {
			t.Errorf("docs/config.md lacks a row for %s", k)
		}
	}
}
