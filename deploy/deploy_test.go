// Package deploy_test checks the deploy files against each other and against
// the project's config loader: every YAML parses, the compose stack publishes
// the ports deploy/config/local.yaml dials, every server has a real health
// check, the shopstream services mount deploy/config, the configs they read
// load, and the Kubernetes manifests probe /readyz and /healthz on the port
// the config listens on. No Docker engine or cluster is needed.
package deploy_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"gopkg.in/yaml.v3"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/realserver"
	"github.com/shopstream/shopstream/sinks/analytics"
	"github.com/shopstream/shopstream/sinks/analytics/cohort"
	"github.com/shopstream/shopstream/topics"
)

// The tests run in deploy/.
const (
	composePath       = "docker-compose.yml"
	localConfigPath   = "config/local.yaml"
	composeConfigPath = "config/compose.yaml"
	k8sDir            = "k8s"
)

// servers are the compose services that stand in for deploy/local's servers.
var servers = []string{"kafka", "mysql", "cassandra", "elasticsearch", "clickhouse"}

// oneShot services run to completion and need no health check.
var oneShot = []string{"topics"}

// ---------------------------------------------------------------- parsing

// yamlFiles lists every *.yaml and *.yml under deploy/, leaving out the
// git-ignored trees that deploy/local generates (.state/ and */target/).
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "target") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// decodeAll decodes every document of a YAML stream.
func decodeAll(raw []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		docs = append(docs, &n)
	}
}

func TestEveryYAMLFileParses(t *testing.T) {
	files := yamlFiles(t)
	for _, want := range []string{composePath, localConfigPath, composeConfigPath, "config/production.example.yaml", "k8s/kustomization.yaml"} {
		if !slices.Contains(files, filepath.FromSlash(want)) {
			t.Errorf("deploy/%s is missing", want)
		}
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("deploy/%s: %v", f, err)
			continue
		}
		docs, err := decodeAll(raw)
		if err != nil {
			t.Errorf("deploy/%s does not parse: %v", f, err)
			continue
		}
		if len(docs) == 0 {
			t.Errorf("deploy/%s holds no YAML document", f)
		}
	}
}

// --------------------------------------------------------------- compose

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	Configs  map[string]any            `yaml:"configs"`
}

type composeService struct {
	Image       string               `yaml:"image"`
	Build       any                  `yaml:"build"`
	Command     stringList           `yaml:"command"`
	Ports       []any                `yaml:"ports"`
	Volumes     []any                `yaml:"volumes"`
	Environment envMap               `yaml:"environment"`
	Healthcheck *composeHealthcheck  `yaml:"healthcheck"`
	DependsOn   map[string]dependsOn `yaml:"depends_on"`
	Restart     string               `yaml:"restart"`
}

type composeHealthcheck struct {
	Test    stringList `yaml:"test"`
	Disable bool       `yaml:"disable"`
}

type dependsOn struct {
	Condition string `yaml:"condition"`
}

// stringList is a compose command or test: a list, or a string split on spaces.
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = strings.Fields(n.Value)
		return nil
	}
	var l []string
	err := n.Decode(&l)
	*s = l
	return err
}

// envMap is a compose environment: a mapping or a list of KEY=VALUE.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	m := map[string]string{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
	} else if err := n.Decode(&m); err != nil {
		return err
	}
	*e = m
	return nil
}

// port is one published port, from the short or the long syntax.
type port struct {
	HostIP    string
	Published int
	Target    int
}

func parsePort(v any) (port, error) {
	switch p := v.(type) {
	case string:
		spec, _, _ := strings.Cut(p, "/")
		parts := strings.Split(spec, ":")
		var out port
		var err1, err2 error
		switch len(parts) {
		case 3:
			out.HostIP = parts[0]
			out.Published, err1 = strconv.Atoi(parts[1])
			out.Target, err2 = strconv.Atoi(parts[2])
		case 2:
			out.Published, err1 = strconv.Atoi(parts[0])
			out.Target, err2 = strconv.Atoi(parts[1])
		default:
			return out, fmt.Errorf("port %q: want [HOST_IP:]HOST_PORT:CONTAINER_PORT", p)
		}
		if err := errors.Join(err1, err2); err != nil {
			return out, fmt.Errorf("port %q: %v", p, err)
		}
		return out, nil
	case map[string]any:
		var out port
		out.HostIP, _ = p["host_ip"].(string)
		out.Target, _ = p["target"].(int)
		switch pub := p["published"].(type) {
		case int:
			out.Published = pub
		case string:
			out.Published, _ = strconv.Atoi(pub)
		}
		if out.Target == 0 || out.Published == 0 {
			return out, fmt.Errorf("port %v: want target and a single published port", p)
		}
		return out, nil
	}
	return port{}, fmt.Errorf("port %v: unknown syntax", v)
}

// mount is one service volume, from the short or the long syntax.
type mount struct {
	Source, Target string
	ReadOnly       bool
}

func parseMount(v any) (mount, error) {
	switch m := v.(type) {
	case string:
		parts := strings.Split(m, ":")
		switch len(parts) {
		case 1:
			return mount{Target: parts[0]}, nil
		case 2:
			return mount{Source: parts[0], Target: parts[1]}, nil
		case 3:
			return mount{Source: parts[0], Target: parts[1], ReadOnly: slices.Contains(strings.Split(parts[2], ","), "ro")}, nil
		}
	case map[string]any:
		src, _ := m["source"].(string)
		dst, _ := m["target"].(string)
		ro, _ := m["read_only"].(bool)
		return mount{Source: src, Target: dst, ReadOnly: ro}, nil
	}
	return mount{}, fmt.Errorf("volume %v: unknown syntax", v)
}

// isBind tells a bind mount (a path) from a named volume.
func (m mount) isBind() bool {
	return strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, "~")
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("deploy/%s: %v", composePath, err)
	}
	if len(c.Services) == 0 {
		t.Fatalf("deploy/%s has no services", composePath)
	}
	return c
}

func loadConfig(t *testing.T, path string) config.Config {
	t.Helper()
	cfg, err := config.Load(path, nil, nil)
	if err != nil {
		t.Fatalf("%s does not load with config.Load:\n%v", path, err)
	}
	return cfg
}

var dsnAddr = regexp.MustCompile(`^([^:@/]+):([^@]*)@tcp\(([^)]+)\)/([^?]+)`)

// addrOf returns the host:port a config dials for one server.
func addrOf(t *testing.T, cfg config.Config, server string) string {
	t.Helper()
	first := func(key string, l []string) string {
		if len(l) == 0 {
			t.Fatalf("%s is empty", key)
		}
		return l[0]
	}
	switch server {
	case "kafka":
		return first("kafka.brokers", cfg.Kafka.Brokers)
	case "mysql":
		m := dsnAddr.FindStringSubmatch(cfg.Stores.Orders.DSN)
		if m == nil {
			t.Fatalf("stores.orders.dsn %q: no user:password@tcp(host:port)/db", cfg.Stores.Orders.DSN)
		}
		return m[3]
	case "cassandra":
		return first("stores.history.hosts", cfg.Stores.History.Hosts)
	case "elasticsearch":
		u, err := url.Parse(first("stores.search.urls", cfg.Stores.Search.URLs))
		if err != nil {
			t.Fatal(err)
		}
		return u.Host
	case "clickhouse":
		return first("stores.analytics.addrs", cfg.Stores.Analytics.Addrs)
	}
	t.Fatalf("unknown server %s", server)
	return ""
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	return host, n
}

// The host ports the compose stack publishes are the ones local.yaml dials,
// on loopback; inside the stack, compose.yaml dials the service name and the
// container port behind that same mapping.
func TestComposePublishesLocalPortsAndComposeConfigDialsThem(t *testing.T) {
	c := loadCompose(t)
	local := loadConfig(t, localConfigPath)
	inside := loadConfig(t, composeConfigPath)
	for _, name := range servers {
		svc, ok := c.Services[name]
		if !ok {
			t.Errorf("compose service %s is missing", name)
			continue
		}
		localHost, localPort := splitHostPort(t, addrOf(t, local, name))
		if localHost != "127.0.0.1" {
			t.Errorf("local.yaml dials %s on %s, not 127.0.0.1", name, localHost)
		}
		var mapping *port
		for _, raw := range svc.Ports {
			p, err := parsePort(raw)
			if err != nil {
				t.Errorf("compose %s: %v", name, err)
				continue
			}
			if p.Published == localPort {
				mapping = &p
			}
		}
		if mapping == nil {
			t.Errorf("compose %s publishes no host port %d, the port local.yaml dials (%v)", name, localPort, svc.Ports)
			continue
		}
		if mapping.HostIP != "127.0.0.1" {
			t.Errorf("compose %s publishes %d on %q; bind it to 127.0.0.1", name, localPort, mapping.HostIP)
		}
		host, port := splitHostPort(t, addrOf(t, inside, name))
		if host != name {
			t.Errorf("compose.yaml dials %s at host %q, want the service name %q", name, host, name)
		}
		if name == "kafka" {
			// Kafka's host mapping leads to the EXTERNAL listener; containers
			// use the listener advertised under the service name.
			checkKafkaListeners(t, svc.Environment, mapping.Target, localPort, host, port)
			continue
		}
		if port != mapping.Target {
			t.Errorf("compose.yaml dials %s:%d, but the container port behind host port %d is %d", name, port, localPort, mapping.Target)
		}
	}
}

// listeners parses NAME://host:port,... into name -> host:port.
func listeners(t *testing.T, key, v string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(v, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(l), "://")
		if !ok {
			t.Errorf("%s: %q is not NAME://host:port", key, l)
			continue
		}
		out[name] = addr
	}
	return out
}

func checkKafkaListeners(t *testing.T, env envMap, externalTarget, hostPort int, internalHost string, internalPort int) {
	t.Helper()
	ls := listeners(t, "KAFKA_LISTENERS", env["KAFKA_LISTENERS"])
	adv := listeners(t, "KAFKA_ADVERTISED_LISTENERS", env["KAFKA_ADVERTISED_LISTENERS"])
	proto := listeners(t, "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", strings.ReplaceAll(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], ":", "://"))
	portOf := func(addr string) int {
		_, p, err := net.SplitHostPort(addr)
		n, err2 := strconv.Atoi(p)
		if err != nil || err2 != nil {
			t.Errorf("kafka listener address %q is not host:port", addr)
		}
		return n
	}
	external, internal := "", ""
	for name, addr := range adv {
		switch addr {
		case net.JoinHostPort("127.0.0.1", strconv.Itoa(hostPort)):
			external = name
		case net.JoinHostPort(internalHost, strconv.Itoa(internalPort)):
			internal = name
		}
	}
	if external == "" {
		t.Errorf("KAFKA_ADVERTISED_LISTENERS %q advertises no 127.0.0.1:%d for host clients", env["KAFKA_ADVERTISED_LISTENERS"], hostPort)
	} else if got := portOf(ls[external]); got != externalTarget {
		t.Errorf("listener %s listens on %d in the container, but host port %d maps to %d", external, got, hostPort, externalTarget)
	}
	if internal == "" {
		t.Errorf("KAFKA_ADVERTISED_LISTENERS %q does not advertise %s:%d, the broker compose.yaml dials", env["KAFKA_ADVERTISED_LISTENERS"], internalHost, internalPort)
	} else if got := portOf(ls[internal]); got != internalPort {
		t.Errorf("listener %s listens on %d, but compose.yaml dials %d", internal, got, internalPort)
	}
	if external != "" && external == internal {
		t.Errorf("host and container clients need two listeners; both use %s", external)
	}
	for name := range ls {
		if _, ok := proto[name]; !ok {
			t.Errorf("listener %s has no entry in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", name)
		}
	}
	for name := range adv {
		if _, ok := ls[name]; !ok {
			t.Errorf("advertised listener %s is not in KAFKA_LISTENERS", name)
		}
	}
	ctrl := env["KAFKA_CONTROLLER_LISTENER_NAMES"]
	if _, ok := ls[ctrl]; !ok || ctrl == "" {
		t.Errorf("KAFKA_CONTROLLER_LISTENER_NAMES %q is not a listener in KAFKA_LISTENERS", ctrl)
	}
	if _, ok := adv[ctrl]; ok {
		t.Errorf("the controller listener %s must not be advertised to clients", ctrl)
	}
	if ib := env["KAFKA_INTER_BROKER_LISTENER_NAME"]; ib != internal {
		t.Errorf("KAFKA_INTER_BROKER_LISTENER_NAME is %q, want the in-network listener %q", ib, internal)
	}
	voters := env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
	nodeID := env["KAFKA_NODE_ID"]
	if id, addr, ok := strings.Cut(voters, "@"); !ok || id != nodeID || strings.Contains(voters, ",") {
		t.Errorf("KAFKA_CONTROLLER_QUORUM_VOTERS %q: want the one node %s@host:port", voters, nodeID)
	} else if portOf(addr) != portOf(ls[ctrl]) {
		t.Errorf("KAFKA_CONTROLLER_QUORUM_VOTERS %q: port is not the controller listener's (%s)", voters, ls[ctrl])
	}
	roles := strings.Split(env["KAFKA_PROCESS_ROLES"], ",")
	if !slices.Contains(roles, "broker") || !slices.Contains(roles, "controller") {
		t.Errorf("KAFKA_PROCESS_ROLES %q: want broker,controller (one KRaft node)", env["KAFKA_PROCESS_ROLES"])
	}
	for key, want := range map[string]string{
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
	} {
		if env[key] != want {
			t.Errorf("kafka %s is %q, want %q", key, env[key], want)
		}
	}
	if env["CLUSTER_ID"] == "" {
		t.Errorf("kafka CLUSTER_ID is not set; the image needs it to format KRaft storage")
	}
}

// MySQL's database, user and password, and ClickHouse's database, are the
// ones both configs log in with.
func TestComposeServerCredentialsMatchConfigs(t *testing.T) {
	c := loadCompose(t)
	for _, path := range []string{localConfigPath, composeConfigPath} {
		cfg := loadConfig(t, path)
		m := dsnAddr.FindStringSubmatch(cfg.Stores.Orders.DSN)
		if m == nil {
			t.Fatalf("%s: stores.orders.dsn %q: no user:password@tcp(host:port)/db", path, cfg.Stores.Orders.DSN)
		}
		env := c.Services["mysql"].Environment
		for key, want := range map[string]string{"MYSQL_USER": m[1], "MYSQL_PASSWORD": m[2], "MYSQL_DATABASE": m[4]} {
			if env[key] != want {
				t.Errorf("compose mysql %s is %q; %s logs in with %q", key, env[key], path, want)
			}
		}
		if got := c.Services["clickhouse"].Environment["CLICKHOUSE_DB"]; got != cfg.Stores.Analytics.Database {
			t.Errorf("compose clickhouse CLICKHOUSE_DB is %q; %s uses database %q", got, path, cfg.Stores.Analytics.Database)
		}
	}
}

var pinnedTag = regexp.MustCompile(`:\d+\.\d+\.\d+[0-9A-Za-z.\-]*$`)

func TestComposeServersArePinnedHealthCheckedAndPersistent(t *testing.T) {
	c := loadCompose(t)
	for _, name := range servers {
		svc := c.Services[name]
		if !pinnedTag.MatchString(svc.Image) {
			t.Errorf("compose %s image %q: pin an exact version tag (x.y.z)", name, svc.Image)
		}
		named := false
		for _, raw := range svc.Volumes {
			m, err := parseMount(raw)
			if err != nil {
				t.Errorf("compose %s: %v", name, err)
				continue
			}
			if !m.isBind() && m.Source != "" {
				named = true
				if _, ok := c.Volumes[m.Source]; !ok {
					t.Errorf("compose %s mounts volume %q, which is not declared under volumes:", name, m.Source)
				}
			}
		}
		if !named {
			t.Errorf("compose %s keeps its data in no named volume", name)
		}
	}
	for name, svc := range c.Services {
		if slices.Contains(oneShot, name) {
			if svc.Restart != "no" {
				t.Errorf("one-shot compose service %s must not restart (restart: %q)", name, svc.Restart)
			}
			continue
		}
		hc := svc.Healthcheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
			t.Errorf("compose service %s has no health check", name)
			continue
		}
		if hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL" {
			t.Errorf("compose %s health check %q must start with CMD or CMD-SHELL", name, hc.Test)
		}
	}
	// Each server's check runs a real query, not a port probe.
	want := map[string]string{
		"kafka":         "--list",
		"mysql":         "ping",
		"cassandra":     "describe keyspaces",
		"elasticsearch": "_cluster/health",
		"clickhouse":    "SELECT 1",
	}
	for name, w := range want {
		if hc := c.Services[name].Healthcheck; hc != nil && !strings.Contains(strings.Join(hc.Test, " "), w) {
			t.Errorf("compose %s health check %q does not run %q", name, hc.Test, w)
		}
	}
	for name, svc := range c.Services {
		for _, raw := range svc.Ports {
			if p, err := parsePort(raw); err == nil && p.HostIP != "127.0.0.1" {
				t.Errorf("compose %s publishes %d on %q; bind it to 127.0.0.1", name, p.Published, p.HostIP)
			}
		}
		for dep, d := range svc.DependsOn {
			if slices.Contains(servers, dep) && d.Condition != "service_healthy" {
				t.Errorf("compose %s depends on %s with condition %q, want service_healthy", name, dep, d.Condition)
			}
		}
	}
}

// shopstreamServices are the services built from the repo's Dockerfile.
func shopstreamServices(c composeFile) map[string]composeService {
	out := map[string]composeService{}
	for name, svc := range c.Services {
		if svc.Build != nil {
			out[name] = svc
		}
	}
	return out
}

// configArg returns the value of --config in args.
func configArg(args []string) string {
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
	}
	return ""
}

func TestComposeShopstreamServicesMountDeployConfig(t *testing.T) {
	c := loadCompose(t)
	ss := shopstreamServices(c)
	for _, want := range []string{"topics", "shopstream"} {
		if _, ok := ss[want]; !ok {
			t.Errorf("compose service %s is missing or not built from the repo's Dockerfile", want)
		}
	}
	configDir, _ := filepath.Abs("config")
	root, _ := filepath.Abs("..")
	for name, svc := range ss {
		ctx := ""
		switch b := svc.Build.(type) {
		case string:
			ctx = b
		case map[string]any:
			ctx, _ = b["context"].(string)
			if df, _ := b["dockerfile"].(string); df != "" && df != "Dockerfile" {
				t.Errorf("compose %s builds %s, want the repo's Dockerfile", name, df)
			}
		}
		if abs, _ := filepath.Abs(ctx); abs != root {
			t.Errorf("compose %s build context %q is not the repo root", name, ctx)
		}
		cfgPath := configArg(svc.Command)
		if cfgPath == "" {
			t.Errorf("compose %s command %q has no --config", name, svc.Command)
			continue
		}
		found := false
		for _, raw := range svc.Volumes {
			m, err := parseMount(raw)
			if err != nil || !m.isBind() {
				continue
			}
			if abs, _ := filepath.Abs(m.Source); abs != configDir {
				continue
			}
			found = true
			if !m.ReadOnly {
				t.Errorf("compose %s mounts deploy/config read-write; add :ro", name)
			}
			rel, ok := strings.CutPrefix(cfgPath, strings.TrimSuffix(m.Target, "/")+"/")
			if !ok {
				t.Errorf("compose %s reads --config %s, outside its deploy/config mount %s", name, cfgPath, m.Target)
				continue
			}
			loadConfig(t, filepath.Join("config", rel))
		}
		if !found {
			t.Errorf("compose %s does not mount deploy/config", name)
		}
	}
}

func TestComposeShopstreamWaitsForTopicsAndServers(t *testing.T) {
	c := loadCompose(t)
	inside := loadConfig(t, composeConfigPath)
	svc := c.Services["shopstream"]
	if len(svc.Command) == 0 || svc.Command[0] != "all-in-one" {
		t.Errorf("compose shopstream runs %q, want all-in-one", svc.Command)
	}
	if got := svc.DependsOn["topics"].Condition; got != "service_completed_successfully" {
		t.Errorf("compose shopstream depends on topics with %q, want service_completed_successfully", got)
	}
	for _, s := range servers {
		if got := svc.DependsOn[s].Condition; got != "service_healthy" {
			t.Errorf("compose shopstream depends on %s with %q, want service_healthy", s, got)
		}
	}
	topics := c.Services["topics"]
	if len(topics.Command) < 2 || topics.Command[0] != "topics" || topics.Command[1] != "create" {
		t.Errorf("compose topics runs %q, want topics create", topics.Command)
	}
	if got := topics.DependsOn["kafka"].Condition; got != "service_healthy" {
		t.Errorf("compose topics depends on kafka with %q, want service_healthy", got)
	}
	_, httpPort := splitHostPort(t, inside.HTTP.Addr)
	if hc := svc.Healthcheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), fmt.Sprintf(":%d/readyz", httpPort)) {
		t.Errorf("compose shopstream health check should GET /readyz on port %d (http.addr %s)", httpPort, inside.HTTP.Addr)
	}
	published := false
	for _, raw := range svc.Ports {
		if p, err := parsePort(raw); err == nil && p.Target == httpPort {
			published = true
		}
	}
	if !published {
		t.Errorf("compose shopstream does not publish http.addr's port %d", httpPort)
	}
}

func TestComposeConfigSelectsTheRealServers(t *testing.T) {
	cfg := loadConfig(t, composeConfigPath)
	if cfg.Kafka.Embedded.Enabled {
		t.Errorf("compose.yaml runs the embedded broker; want kafka.embedded.enabled: false")
	}
	if cfg.Stores.Orders.Driver != "mysql" || cfg.Stores.History.Driver != "cassandra" ||
		cfg.Stores.Search.Driver != "elasticsearch" || cfg.Stores.Analytics.Driver != "clickhouse" {
		t.Errorf("compose.yaml does not select every real server: %+v", cfg.Stores)
	}
	if host, _ := splitHostPort(t, cfg.HTTP.Addr); host != "0.0.0.0" {
		t.Errorf("compose.yaml http.addr %s: a container must listen on 0.0.0.0", cfg.HTTP.Addr)
	}
	if cfg.DataDir != "/var/lib/shopstream" || cfg.Log.Format != "json" {
		t.Errorf("compose.yaml: data_dir %q, log.format %q; want /var/lib/shopstream and json", cfg.DataDir, cfg.Log.Format)
	}
}

// --------------------------------------------------------------- Grafana

// The Grafana provisioning (deploy/grafana): one ClickHouse data source, the
// analytics store compose.yaml dials, and dashboards that query only it.
const (
	grafanaProvisioningDir = "grafana/provisioning"
	grafanaDashboardsDir   = "grafana/dashboards"
	clickhousePlugin       = "grafana-clickhouse-datasource"
	primeCohortsDashboard  = "grafana/dashboards/prime-cohorts.json"
)

type grafanaDataSource struct {
	Name     string `yaml:"name"`
	UID      string `yaml:"uid"`
	Type     string `yaml:"type"`
	JSONData struct {
		Host            string `yaml:"host"`
		Port            int    `yaml:"port"`
		Protocol        string `yaml:"protocol"`
		Secure          bool   `yaml:"secure"`
		Username        string `yaml:"username"`
		DefaultDatabase string `yaml:"defaultDatabase"`
	} `yaml:"jsonData"`
}

// grafanaYAML decodes every provisioning file of one kind (datasources,
// dashboards) into out, one per file.
func grafanaYAML[T any](t *testing.T, kind string) []T {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(grafanaProvisioningDir, kind, "*.y*ml"))
	if len(files) == 0 {
		t.Fatalf("deploy/%s/%s holds no provisioning file", grafanaProvisioningDir, kind)
	}
	var out []T
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v T
		if err := yaml.Unmarshal(raw, &v); err != nil {
			t.Fatalf("deploy/%s: %v", f, err)
		}
		out = append(out, v)
	}
	return out
}

// clickhouseDataSource is the one provisioned ClickHouse data source.
func clickhouseDataSource(t *testing.T) grafanaDataSource {
	t.Helper()
	var found []grafanaDataSource
	for _, f := range grafanaYAML[struct {
		APIVersion  int                 `yaml:"apiVersion"`
		DataSources []grafanaDataSource `yaml:"datasources"`
	}](t, "datasources") {
		if f.APIVersion != 1 {
			t.Errorf("a datasources file has apiVersion %d, want 1", f.APIVersion)
		}
		for _, ds := range f.DataSources {
			if ds.Type == clickhousePlugin {
				found = append(found, ds)
			}
		}
	}
	if len(found) != 1 || found[0].UID == "" {
		t.Fatalf("want one %s data source with a uid (dashboards name it by uid), found %+v", clickhousePlugin, found)
	}
	return found[0]
}

// dashboardPaths are where the dashboard providers read dashboards.
func dashboardPaths(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, f := range grafanaYAML[struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}](t, "dashboards") {
		for _, p := range f.Providers {
			if p.Type != "file" || p.Options.Path == "" {
				t.Errorf("dashboard provider %+v: want type file with options.path", p)
				continue
			}
			paths = append(paths, p.Options.Path)
		}
	}
	return paths
}

var pluginPin = regexp.MustCompile(`^` + clickhousePlugin + ` \d+\.\d+\.\d+$`)

func TestComposeGrafanaIsProvisionedFromTheRepo(t *testing.T) {
	c := loadCompose(t)
	svc, ok := c.Services["grafana"]
	if !ok {
		t.Fatal("compose service grafana is missing")
	}
	if !pinnedTag.MatchString(svc.Image) || !strings.HasPrefix(svc.Image, "grafana/grafana:") {
		t.Errorf("compose grafana image %q: pin an exact grafana/grafana tag (x.y.z)", svc.Image)
	}
	if p := svc.Environment["GF_INSTALL_PLUGINS"]; !pluginPin.MatchString(p) {
		t.Errorf(`compose grafana GF_INSTALL_PLUGINS %q: want exactly "%s x.y.z" (pinned)`, p, clickhousePlugin)
	}
	if got := svc.DependsOn["clickhouse"].Condition; got != "service_healthy" {
		t.Errorf("compose grafana depends on clickhouse with %q, want service_healthy", got)
	}
	published := false
	for _, raw := range svc.Ports {
		if p, err := parsePort(raw); err == nil && p.HostIP == "127.0.0.1" && p.Published == 3000 && p.Target == 3000 {
			published = true
		}
	}
	if !published {
		t.Errorf("compose grafana publishes %v, want 127.0.0.1:3000:3000", svc.Ports)
	}
	if hc := svc.Healthcheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "/api/health") {
		t.Error("compose grafana's health check should GET /api/health")
	}

	// The provisioning and the dashboards, from the repo, read-only, where
	// Grafana and its dashboard providers read them.
	mounted := map[string]string{} // container path -> repo dir
	for _, raw := range svc.Volumes {
		m, err := parseMount(raw)
		if err != nil || !m.isBind() {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("compose grafana mounts %s read-write; add :ro", m.Source)
		}
		mounted[m.Target] = filepath.Clean(m.Source)
	}
	if mounted["/etc/grafana/provisioning"] != grafanaProvisioningDir {
		t.Errorf("compose grafana mounts %v; want ./%s at /etc/grafana/provisioning", mounted, grafanaProvisioningDir)
	}
	for _, p := range dashboardPaths(t) {
		if mounted[p] != grafanaDashboardsDir {
			t.Errorf("a dashboard provider reads %s, where compose grafana mounts %q, not ./%s", p, mounted[p], grafanaDashboardsDir)
		}
	}
	home := svc.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	dir, file := path.Split(home)
	if src, ok := mounted[path.Clean(dir)]; !ok {
		t.Errorf("the home dashboard %q is not in a mounted directory", home)
	} else if _, err := os.Stat(filepath.Join(src, file)); err != nil {
		t.Errorf("the home dashboard %q: %v", home, err)
	}
}

func TestGrafanaDataSourceIsTheAnalyticsStore(t *testing.T) {
	ds := clickhouseDataSource(t)
	inside := loadConfig(t, composeConfigPath).Stores.Analytics
	host, port := splitHostPort(t, addrOf(t, loadConfig(t, composeConfigPath), "clickhouse"))
	j := ds.JSONData
	if j.Host != host || j.Port != port || j.Protocol != "native" || j.Secure {
		t.Errorf("the data source dials %s:%d over %q (secure %v); compose.yaml's analytics store is %s:%d, native, plain",
			j.Host, j.Port, j.Protocol, j.Secure, host, port)
	}
	if j.DefaultDatabase != inside.Database || j.Username != inside.Username {
		t.Errorf("the data source reads database %q as %q; compose.yaml's analytics store is %q as %q",
			j.DefaultDatabase, j.Username, inside.Database, inside.Username)
	}
}

// grafanaRef is a panel's, a target's or an annotation's data source.
type grafanaRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaTarget struct {
	RefID      string      `json:"refId"`
	Datasource *grafanaRef `json:"datasource"`
	EditorType string      `json:"editorType"`
	RawSQL     string      `json:"rawSql"`
}

type grafanaPanel struct {
	ID              int             `json:"id"`
	Type            string          `json:"type"`
	Title           string          `json:"title"`
	Datasource      *grafanaRef     `json:"datasource"`
	Targets         []grafanaTarget `json:"targets"`
	Panels          []grafanaPanel  `json:"panels"` // a row's
	Transformations []struct {
		ID      string          `json:"id"`
		Options json.RawMessage `json:"options"`
	} `json:"transformations"`
}

type grafanaDashboard struct {
	UID         string         `json:"uid"`
	Title       string         `json:"title"`
	Panels      []grafanaPanel `json:"panels"`
	Annotations struct {
		List []struct {
			Name       string        `json:"name"`
			BuiltIn    int           `json:"builtIn"`
			Datasource *grafanaRef   `json:"datasource"`
			Target     grafanaTarget `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T, file string) grafanaDashboard {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("deploy/%s does not parse: %v", file, err)
	}
	return d
}

// leafPanels flattens rows into their panels.
func leafPanels(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		if p.Type == "row" {
			out = append(out, leafPanels(p.Panels)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// sqlVariable finds the template variables a query uses: $name, ${name},
// ${name:format} and [[name]].
var sqlVariable = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// grafanaGlobals are the variables Grafana itself defines.
var grafanaGlobals = []string{"__from", "__to", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms", "__dashboard", "__org", "__user", "__timezone"}

func TestGrafanaDashboardsQueryTheProvisionedDataSource(t *testing.T) {
	ds := clickhouseDataSource(t)
	want := grafanaRef{Type: ds.Type, UID: ds.UID}
	files, _ := filepath.Glob(filepath.Join(grafanaDashboardsDir, "*.json"))
	if !slices.Contains(files, filepath.FromSlash(primeCohortsDashboard)) {
		t.Fatalf("deploy/%s is missing (found %v)", primeCohortsDashboard, files)
	}
	uids := map[string]string{}
	for _, f := range files {
		d := loadDashboard(t, f)
		if d.UID == "" || d.Title == "" {
			t.Errorf("deploy/%s: uid %q, title %q; want both", f, d.UID, d.Title)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("deploy/%s and deploy/%s share the uid %q", f, other, d.UID)
		}
		uids[d.UID] = f
		defined := map[string]bool{}
		for _, v := range d.Templating.List {
			defined[v.Name] = true
		}
		checkSQL := func(owner string, tg grafanaTarget) {
			if tg.Datasource == nil || *tg.Datasource != want {
				t.Errorf("deploy/%s %s queries data source %+v, want the provisioned %+v", f, owner, tg.Datasource, want)
			}
			if tg.EditorType != "sql" || strings.TrimSpace(tg.RawSQL) == "" {
				t.Errorf("deploy/%s %s: editorType %q with SQL %q; want raw SQL", f, owner, tg.EditorType, tg.RawSQL)
			}
			for _, m := range sqlVariable.FindAllStringSubmatch(tg.RawSQL, -1) {
				name := m[1] + m[2] + m[3]
				if !defined[name] && !slices.Contains(grafanaGlobals, name) {
					t.Errorf("deploy/%s %s uses the variable %q, which the dashboard does not define", f, owner, name)
				}
			}
		}
		panels := leafPanels(d.Panels)
		if len(panels) == 0 {
			t.Errorf("deploy/%s has no panels", f)
		}
		for _, p := range panels {
			owner := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if p.Datasource == nil || *p.Datasource != want {
				t.Errorf("deploy/%s %s uses data source %+v, want the provisioned %+v", f, owner, p.Datasource, want)
			}
			if len(p.Targets) == 0 {
				t.Errorf("deploy/%s %s has no query", f, owner)
			}
			for _, tg := range p.Targets {
				checkSQL(owner+" query "+tg.RefID, tg)
			}
		}
		for _, a := range d.Annotations.List {
			if a.BuiltIn == 1 {
				continue
			}
			if a.Datasource == nil || *a.Datasource != want {
				t.Errorf("deploy/%s annotation %q uses data source %+v, want the provisioned %+v", f, a.Name, a.Datasource, want)
			}
			checkSQL("annotation "+a.Name, a.Target)
		}
	}
}

// cohortColumns are the columns of the cohort query: every number the
// page's table shows, by week.
var cohortColumns = []string{"week", "status",
	"over_trials", "over_converted", "over_pending", "over_rate",
	"under_trials", "under_converted", "under_pending", "under_rate",
	"difference", "ci95_low", "ci95_high", "p_value"}

// The Prime cohort dashboard has the page's panels (the rate by bucket, the
// difference with its interval, every number), all on one query, with the
// pending weeks as an annotation over that same query.
func TestGrafanaPrimeCohortsHasThePagesPanels(t *testing.T) {
	d := loadDashboard(t, primeCohortsDashboard)
	panels := leafPanels(d.Panels)
	var types []string
	for _, p := range panels {
		types = append(types, p.Type)
	}
	if strings.Join(types, ",") != "timeseries,timeseries,table" {
		t.Fatalf("panels %v, want the rate chart, the difference chart and the table", types)
	}
	query := cohortQuery(t, d)
	for _, p := range panels {
		if len(p.Targets) != 1 || p.Targets[0].RawSQL != query {
			t.Errorf("panel %q does not run the dashboard's one cohort query", p.Title)
		}
		for _, tr := range p.Transformations {
			if tr.ID != "filterFieldsByName" {
				continue
			}
			var o struct {
				Include struct {
					Names []string `json:"names"`
				} `json:"include"`
			}
			if err := json.Unmarshal(tr.Options, &o); err != nil {
				t.Fatal(err)
			}
			for _, n := range o.Include.Names {
				if !slices.Contains(cohortColumns, n) {
					t.Errorf("panel %q shows %q, which the cohort query does not return", p.Title, n)
				}
			}
			if p.Type == "table" && !slices.Equal(o.Include.Names, cohortColumns) {
				t.Errorf("the table shows %v, want every number %v", o.Include.Names, cohortColumns)
			}
		}
	}
	for _, c := range cohortColumns {
		if !regexp.MustCompile(`(?m)(\bAS ` + c + `\b|^\s+` + c + `,)`).MatchString(query) {
			t.Errorf("the cohort query does not return %s", c)
		}
	}
	if len(d.Annotations.List) != 1 || !strings.Contains(d.Annotations.List[0].Target.RawSQL, query) {
		t.Errorf("want one annotation, the pending weeks, over the cohort query")
	}
}

func cohortQuery(t *testing.T, d grafanaDashboard) string {
	t.Helper()
	ps := leafPanels(d.Panels)
	if len(ps) == 0 || len(ps[0].Targets) == 0 {
		t.Fatal("the dashboard has no query")
	}
	return ps[0].Targets[0].RawSQL
}

// grafanaInterpolate fills a query's variables as Grafana does: the
// dashboard's constants, and the time range in epoch milliseconds.
func grafanaInterpolate(t *testing.T, d grafanaDashboard, sql string, from, to time.Time) string {
	t.Helper()
	values := map[string]string{
		"__from": strconv.FormatInt(from.UnixMilli(), 10),
		"__to":   strconv.FormatInt(to.UnixMilli(), 10),
	}
	for _, v := range d.Templating.List {
		if v.Type != "constant" {
			t.Fatalf("variable %s is a %s; this test fills constants only", v.Name, v.Type)
		}
		values[v.Name] = fmt.Sprint(v.Query)
	}
	return sqlVariable.ReplaceAllStringFunc(sql, func(m string) string {
		s := sqlVariable.FindStringSubmatch(m)
		return values[s[1]+s[2]+s[3]]
	})
}

// TestContract runs the dashboards' SQL on a real ClickHouse, on a scratch
// database the analytics store migrates and writes, and checks that Grafana
// shows the numbers GET /v1/analytics/prime-cohorts serves: the store's
// PrimeCohorts compared by package cohort. `make test-real` runs it with
// the stores' contract suites (TestContract/real-*), on deploy/local's
// ClickHouse 18.16.
func TestContract(t *testing.T) {
	t.Run("real-clickhouse", func(t *testing.T) {
		addr := realserver.Addr(t, realserver.ClickHouse)
		database := realserver.ScratchClickHouse(t, addr)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		st, err := analytics.Open(ctx, config.AnalyticsStore{Driver: "clickhouse", Addrs: []string{addr}, Database: database, Username: "default"}, "")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		db := clickhouse.OpenDB(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: database, Username: "default"}})
		defer db.Close()
		checkCohortQueries(ctx, t, st, db)
	})
}

// checkCohortQueries writes trials of three weeks through the store, then
// checks every number of the cohort query against the store's, and the
// pending annotation.
func checkCohortQueries(ctx context.Context, t *testing.T, st analytics.Store, db *sql.DB) {
	now := time.Now().UTC().Truncate(time.Second)
	p := cohort.Week(now)       // this week: still in trial
	a := p.AddDate(0, 0, -7*20) // two ended weeks, 20 weeks ago
	b := a.AddDate(0, 0, 7)
	day := 24 * time.Hour
	trial := func(id, user string, at time.Time, spendCents int64) analytics.Event {
		return analytics.Event{ID: id, Type: topics.TypeMembershipTrialStarted, UserID: user, OccurredAt: at,
			AmountCents: spendCents, Currency: "USD", TrialEndsAt: at.Add(30 * day)}
	}
	change := func(id, typ, user string, at time.Time) analytics.Event {
		return analytics.Event{ID: id, Type: typ, UserID: user, OccurredAt: at}
	}
	events := []analytics.Event{
		// Week a, over $100: u1 converts at the trial's end, u2 cancels in it.
		trial("e1", "u1", a.Add(10*time.Hour), 15000),
		trial("e2", "u2", a.Add(day), 10001),
		change("e3", topics.TypeMembershipCanceled, "u2", a.Add(5*day)),
		// Week a, $100 or less: u3 ($100.00 exactly) converts early, then
		// leaves during the trial (not converted); u4 (no purchase, Sunday's
		// last second) leaves after the trial had converted.
		trial("e4", "u3", a.Add(2*day), 10000),
		change("e5", topics.TypeMembershipConverted, "u3", a.Add(3*day)),
		change("e6", topics.TypeMembershipCanceled, "u3", a.Add(4*day)),
		trial("e7", "u4", a.Add(7*day-time.Second), 0),
		change("e8", topics.TypeMembershipCanceled, "u4", a.Add(40*day)),
		// Week b: a trial from Monday 00:00:00, without a purchase; a later
		// order does not move it to the other bucket.
		trial("e9", "u5", b, 0),
		{ID: "e10", Type: topics.TypeOrderCreated, UserID: "u5", OrderID: "o-1", OccurredAt: b.Add(time.Hour), AmountCents: 99999, Currency: "USD"},
		// This week, over $100, running.
		trial("e11", "u6", now, 20000),
	}
	// In two batches, the first again in the second: a redelivery.
	if err := st.WriteEvents(ctx, events[:5]); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteEvents(ctx, events); err != nil {
		t.Fatal(err)
	}

	d := loadDashboard(t, primeCohortsDashboard)
	query := grafanaInterpolate(t, d, cohortQuery(t, d), a, now)
	got := queryCohortRows(ctx, t, db, query)
	weeks, err := st.PrimeCohorts(ctx, a, now, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(weeks) != 3 || len(got) != len(weeks) {
		t.Fatalf("Grafana shows %d weeks, the API %d; want the 3 written: %v", len(got), len(weeks), got)
	}
	for i, w := range weeks {
		c := cohort.Compare(w.Over100, w.UpTo100)
		status := "Final"
		if w.Over100.Pending+w.UpTo100.Pending > 0 {
			status = "Pending"
		}
		want := map[string]any{"week": w.Week.Format(time.DateOnly), "status": status,
			"over_trials": w.Over100.Trials, "over_converted": w.Over100.Converted, "over_pending": w.Over100.Pending, "over_rate": w.Over100.Rate(),
			"under_trials": w.UpTo100.Trials, "under_converted": w.UpTo100.Converted, "under_pending": w.UpTo100.Pending, "under_rate": w.UpTo100.Rate(),
			"difference": c.Difference, "ci95_low": c.Low, "ci95_high": c.High, "p_value": c.PValue}
		for _, col := range cohortColumns {
			g, wv := got[i][col], want[col]
			if wf, ok := wv.(float64); ok {
				gf, isFloat := g.(float64)
				if math.IsNaN(wf) && g != nil || !math.IsNaN(wf) && (!isFloat || math.Abs(gf-wf) > 1e-12) {
					t.Errorf("week %s %s: Grafana %v, API %v", want["week"], col, g, wf)
				}
				continue
			}
			if g != wv {
				t.Errorf("week %s %s: Grafana %v, API %v", want["week"], col, g, wv)
			}
		}
	}
	// The scenario's shape, so the comparison above compares something.
	// u3 canceled during the trial, after converting early: not converted.
	if got[0]["over_converted"] != int64(1) || got[0]["under_converted"] != int64(1) || got[0]["p_value"] == nil ||
		got[1]["over_rate"] != nil || got[2]["status"] != "Pending" {
		t.Errorf("unexpected cohorts for the trials written: %v", got)
	}

	// The pending annotation: this week, as a region a week long.
	anno := grafanaInterpolate(t, d, d.Annotations.List[0].Target.RawSQL, a, now)
	var start, end time.Time
	var text string
	if err := db.QueryRowContext(ctx, anno).Scan(&start, &end, &text); err != nil {
		t.Fatalf("the pending annotation: %v", err)
	}
	if !start.Equal(p) || !end.Equal(p.AddDate(0, 0, 7)) || text == "" {
		t.Errorf("pending region %v..%v %q, want %v..%v", start, end, text, p, p.AddDate(0, 0, 7))
	}
}

// queryCohortRows runs the cohort query: one map per week, counts as
// int64, numbers as float64 or nil (NULL), the week as YYYY-MM-DD.
func queryCohortRows(ctx context.Context, t *testing.T, db *sql.DB, query string) []map[string]any {
	t.Helper()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("the cohort query fails: %v\n%s", err, query)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for _, c := range cohortColumns {
		if !slices.Contains(cols, c) {
			t.Errorf("the cohort query returns %v, without %s", cols, c)
		}
	}
	var out []map[string]any
	for rows.Next() {
		dest := make([]any, len(cols))
		for i, c := range cols {
			switch {
			case c == "week":
				dest[i] = new(time.Time)
			case c == "status":
				dest[i] = new(string)
			case strings.HasSuffix(c, "_trials") || strings.HasSuffix(c, "_converted") || strings.HasSuffix(c, "_pending"):
				dest[i] = new(uint64)
			default:
				dest[i] = new(sql.NullFloat64)
			}
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("scan the cohort query: %v", err)
		}
		r := map[string]any{}
		for i, c := range cols {
			switch v := dest[i].(type) {
			case *time.Time:
				r[c] = v.UTC().Format(time.DateOnly)
			case *string:
				r[c] = *v
			case *uint64:
				r[c] = int64(*v)
			case *sql.NullFloat64:
				if v.Valid && !math.IsNaN(v.Float64) {
					r[c] = v.Float64
				} else {
					r[c] = nil
				}
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ------------------------------------------------------------ Dockerfile

func TestDockerfileMatchesGoModAndDataDir(t *testing.T) {
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(mod))
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !strings.Contains(df, "ARG GO_VERSION="+goVersion[1]+"\n") {
		t.Errorf("Dockerfile: want ARG GO_VERSION=%s, the go directive of go.mod", goVersion[1])
	}
	for _, want := range []string{
		`ENTRYPOINT ["/usr/local/bin/shopstream"]`,
		`VOLUME ["` + loadConfig(t, composeConfigPath).DataDir + `"]`,
		"CGO_ENABLED=0",
		"-X main.version=${VERSION}",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	users := regexp.MustCompile(`(?m)^USER (\S+)`).FindAllStringSubmatch(df, -1)
	if len(users) == 0 || users[len(users)-1][1] == "root" || strings.HasPrefix(users[len(users)-1][1], "0") {
		t.Errorf("Dockerfile: the final stage must run as a non-root USER (got %v)", users)
	}
}

// ------------------------------------------------------------ Kubernetes

type objectMeta struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type k8sHeader struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type podTemplate struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     struct {
		EnableServiceLinks *bool       `yaml:"enableServiceLinks"`
		Containers         []container `yaml:"containers"`
		Volumes            []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
			EmptyDir              *struct{} `yaml:"emptyDir"`
			PersistentVolumeClaim *struct{} `yaml:"persistentVolumeClaim"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type workload struct {
	k8sHeader `yaml:",inline"`
	Spec      struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template podTemplate `yaml:"template"`
	} `yaml:"spec"`
}

type service struct {
	k8sHeader `yaml:",inline"`
	Spec      struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Port       int `yaml:"port"`
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type configMap struct {
	k8sHeader `yaml:",inline"`
	Data      map[string]string `yaml:"data"`
}

type k8sObjects struct {
	all         []k8sHeader
	configMaps  map[string]configMap
	deployments []workload
	jobs        []workload
	services    []service
}

// The apiVersion each kind must use.
var apiVersions = map[string]string{
	"Namespace":  "v1",
	"ConfigMap":  "v1",
	"Service":    "v1",
	"Deployment": "apps/v1",
	"Job":        "batch/v1",
}

// loadK8s reads the files kustomization.yaml lists, and checks that it lists
// every manifest in deploy/k8s.
func loadK8s(t *testing.T) k8sObjects {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kz struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Resources  []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &kz); err != nil {
		t.Fatalf("deploy/k8s/kustomization.yaml: %v", err)
	}
	if kz.Kind != "Kustomization" || kz.APIVersion != "kustomize.config.k8s.io/v1beta1" {
		t.Errorf("kustomization.yaml: kind %q apiVersion %q", kz.Kind, kz.APIVersion)
	}
	onDisk, _ := filepath.Glob(filepath.Join(k8sDir, "*.y*ml"))
	for _, f := range onDisk {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kz.Resources, base) {
			t.Errorf("deploy/k8s/%s is not listed in kustomization.yaml resources", base)
		}
	}
	objs := k8sObjects{configMaps: map[string]configMap{}}
	for _, res := range kz.Resources {
		raw, err := os.ReadFile(filepath.Join(k8sDir, res))
		if err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", res, err)
			continue
		}
		docs, err := decodeAll(raw)
		if err != nil {
			t.Errorf("deploy/k8s/%s: %v", res, err)
			continue
		}
		for _, doc := range docs {
			var h k8sHeader
			if err := doc.Decode(&h); err != nil {
				t.Errorf("deploy/k8s/%s: %v", res, err)
				continue
			}
			if want, ok := apiVersions[h.Kind]; !ok {
				t.Errorf("deploy/k8s/%s: unexpected kind %q", res, h.Kind)
			} else if h.APIVersion != want {
				t.Errorf("deploy/k8s/%s: %s %s has apiVersion %q, want %q", res, h.Kind, h.Metadata.Name, h.APIVersion, want)
			}
			if h.Metadata.Name == "" {
				t.Errorf("deploy/k8s/%s: a %s has no metadata.name", res, h.Kind)
			}
			objs.all = append(objs.all, h)
			var err error
			switch h.Kind {
			case "ConfigMap":
				var cm configMap
				err = doc.Decode(&cm)
				objs.configMaps[cm.Metadata.Name] = cm
			case "Deployment", "Job":
				var w workload
				err = doc.Decode(&w)
				if h.Kind == "Deployment" {
					objs.deployments = append(objs.deployments, w)
				} else {
					objs.jobs = append(objs.jobs, w)
				}
			case "Service":
				var s service
				err = doc.Decode(&s)
				objs.services = append(objs.services, s)
			}
			if err != nil {
				t.Errorf("deploy/k8s/%s: %s: %v", res, h.Kind, err)
			}
		}
	}
	return objs
}

// podConfig finds the config file a container reads: --config PATH under a
// mount of a ConfigMap volume. It writes that ConfigMap key to a temp file
// and loads it with config.Load.
func podConfig(t *testing.T, objs k8sObjects, owner string, pod podTemplate, c container) (config.Config, bool) {
	t.Helper()
	path := configArg(append(append([]string{}, c.Command...), c.Args...))
	if path == "" {
		t.Errorf("%s container %s: no --config in %q", owner, c.Name, c.Args)
		return config.Config{}, false
	}
	for _, vm := range c.VolumeMounts {
		key, ok := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			if !vm.ReadOnly {
				t.Errorf("%s container %s mounts the config read-write", owner, c.Name)
			}
			cm, ok := objs.configMaps[v.ConfigMap.Name]
			if !ok {
				t.Errorf("%s mounts ConfigMap %s, which deploy/k8s does not define", owner, v.ConfigMap.Name)
				return config.Config{}, false
			}
			body, ok := cm.Data[key]
			if !ok {
				t.Errorf("%s reads %s, but ConfigMap %s has no key %q", owner, path, cm.Metadata.Name, key)
				return config.Config{}, false
			}
			f := filepath.Join(t.TempDir(), key)
			if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(f, nil, nil)
			if err != nil {
				t.Errorf("ConfigMap %s key %s does not load with config.Load:\n%v", cm.Metadata.Name, key, err)
				return cfg, false
			}
			return cfg, true
		}
	}
	t.Errorf("%s container %s reads --config %s, which is not in a mounted ConfigMap", owner, c.Name, path)
	return config.Config{}, false
}

func TestK8sConfigMapLoads(t *testing.T) {
	objs := loadK8s(t)
	if len(objs.configMaps) == 0 {
		t.Fatal("deploy/k8s defines no ConfigMap")
	}
	for name, cm := range objs.configMaps {
		for key, body := range cm.Data {
			if !strings.HasSuffix(key, ".yaml") {
				continue
			}
			f := filepath.Join(t.TempDir(), key)
			if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(f, nil, nil)
			if err != nil {
				t.Errorf("ConfigMap %s key %s does not load with config.Load:\n%v", name, key, err)
				continue
			}
			if cfg.Kafka.Embedded.Enabled || cfg.Topics.Create {
				t.Errorf("ConfigMap %s: production runs real brokers and only verifies topics (kafka.embedded.enabled and topics.create false)", name)
			}
		}
	}
}

func TestK8sDeploymentsProbeReadyzAndHealthz(t *testing.T) {
	objs := loadK8s(t)
	if len(objs.deployments) == 0 {
		t.Fatal("deploy/k8s defines no Deployment")
	}
	for _, d := range objs.deployments {
		owner := "Deployment " + d.Metadata.Name
		pod := d.Spec.Template
		for k, v := range d.Spec.Selector.MatchLabels {
			if pod.Metadata.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match its pod labels", owner, k, v)
			}
		}
		if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
			t.Errorf("%s: set enableServiceLinks: false; service links inject SHOPSTREAM_*_SERVICE_HOST/PORT variables that the config loader refuses", owner)
		}
		if len(pod.Spec.Containers) == 0 {
			t.Errorf("%s has no containers", owner)
		}
		for _, c := range pod.Spec.Containers {
			cfg, ok := podConfig(t, objs, owner, pod, c)
			if !ok {
				continue
			}
			_, httpPort := splitHostPort(t, cfg.HTTP.Addr)
			portByName := map[string]int{}
			for _, p := range c.Ports {
				portByName[p.Name] = p.ContainerPort
			}
			checkProbe := func(kind string, p *probe, path string) {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s container %s has no %s httpGet", owner, c.Name, kind)
					return
				}
				if p.HTTPGet.Path != path {
					t.Errorf("%s container %s %s path is %q, want %s", owner, c.Name, kind, p.HTTPGet.Path, path)
				}
				port := 0
				switch v := p.HTTPGet.Port.(type) {
				case int:
					port = v
				case string:
					port = portByName[v]
				}
				if port != httpPort {
					t.Errorf("%s container %s %s probes port %v (%d), but http.addr listens on %d", owner, c.Name, kind, p.HTTPGet.Port, port, httpPort)
				}
			}
			checkProbe("readinessProbe", c.ReadinessProbe, "/readyz")
			checkProbe("livenessProbe", c.LivenessProbe, "/healthz")
			for _, kind := range []string{"cpu", "memory"} {
				if c.Resources.Requests[kind] == "" {
					t.Errorf("%s container %s has no %s request", owner, c.Name, kind)
				}
			}
			if c.Resources.Limits["memory"] == "" {
				t.Errorf("%s container %s has no memory limit", owner, c.Name)
			}
			dataMounted := false
			for _, vm := range c.VolumeMounts {
				if vm.MountPath != cfg.DataDir {
					continue
				}
				for _, v := range pod.Spec.Volumes {
					if v.Name == vm.Name && (v.EmptyDir != nil || v.PersistentVolumeClaim != nil) {
						dataMounted = true
					}
				}
			}
			if !dataMounted {
				t.Errorf("%s container %s mounts no emptyDir or PVC at data_dir %s", owner, c.Name, cfg.DataDir)
			}
			a := pod.Metadata.Annotations
			if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] != "/metrics" || a["prometheus.io/port"] != strconv.Itoa(httpPort) {
				t.Errorf("%s: want pod annotations prometheus.io/scrape \"true\", path /metrics, port %d; got %v", owner, httpPort, a)
			}
		}
		selected := false
		for _, s := range objs.services {
			match := len(s.Spec.Selector) > 0
			for k, v := range s.Spec.Selector {
				if pod.Metadata.Labels[k] != v {
					match = false
				}
			}
			if match {
				selected = true
			}
		}
		if !selected {
			t.Errorf("%s: no Service selects its pods", owner)
		}
	}
}

func TestK8sTopicsJobCreatesTopics(t *testing.T) {
	objs := loadK8s(t)
	if len(objs.jobs) == 0 {
		t.Fatal("deploy/k8s defines no topics-create Job")
	}
	for _, j := range objs.jobs {
		owner := "Job " + j.Metadata.Name
		pod := j.Spec.Template
		if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
			t.Errorf("%s: set enableServiceLinks: false (see the Deployment test)", owner)
		}
		for _, c := range pod.Spec.Containers {
			if len(c.Args) < 2 || c.Args[0] != "topics" || c.Args[1] != "create" {
				t.Errorf("%s container %s runs %q, want topics create", owner, c.Name, c.Args)
			}
			podConfig(t, objs, owner, pod, c)
		}
	}
}
