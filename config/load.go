package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable that sets a config key.
const EnvPrefix = "SHOPSTREAM_"

// reservedEnv are SHOPSTREAM_ prefixes that are not config keys: the
// deploy/local harness's ports, the test suites' server addresses, and the
// variables Kubernetes injects for a Service named shopstream.
var reservedEnv = []string{"SHOPSTREAM_LOCAL_", "SHOPSTREAM_TEST_", "SHOPSTREAM_SERVICE_", "SHOPSTREAM_PORT"}

// Error is one refused key: which key, where its value came from, and why.
type Error struct {
	Key    string
	Source string
	Reason string
}

func (e *Error) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("config key %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("config key %s (%s): %s", e.Key, e.Source, e.Reason)
}

// leaf is one settable key of Config.
type leaf struct {
	path  string
	index []int
	typ   reflect.Type
	doc   string
}

var durationType = reflect.TypeOf(time.Duration(0))

// leaves lists every key of Config in declaration order.
func leaves() []leaf {
	var out []leaf
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("yaml")
			path := prefix + name
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, path+".", idx)
				continue
			}
			out = append(out, leaf{path: path, index: idx, typ: f.Type, doc: f.Tag.Get("doc")})
		}
	}
	walk(reflect.TypeOf(Config{}), "", nil)
	return out
}

// Keys returns every config key, for documentation and suggestions.
func Keys() []string {
	ls := leaves()
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.path
	}
	return out
}

// EnvName is the environment variable for a key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// FlagName is the command-line flag for a key.
func FlagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// Flags holds the config keys set on a command line.
type Flags struct {
	set   map[string]string
	order []string
}

// RegisterFlags adds one flag per config key to fs, plus --config. The
// returned Flags collects what was set; pass it to Load after fs.Parse.
func RegisterFlags(fs *flag.FlagSet, defaultPath string) (*Flags, *string) {
	f := &Flags{set: map[string]string{}}
	path := fs.String("config", defaultPath, "YAML config file (deploy/config/*.yaml); empty means built-in all-in-one defaults")
	def := reflect.ValueOf(Default())
	for _, l := range leaves() {
		key := l.path
		record := func(v string) error {
			if _, seen := f.set[key]; !seen {
				f.order = append(f.order, key)
			}
			f.set[key] = v
			return nil
		}
		usage := fmt.Sprintf("%s (default %v; env %s)", l.doc, def.FieldByIndex(l.index), EnvName(key))
		if l.typ.Kind() == reflect.Bool {
			fs.BoolFunc(FlagName(key), usage, record)
		} else {
			fs.Func(FlagName(key), usage, record)
		}
	}
	return f, path
}

// Load builds the configuration from Default, then the file at path (if
// not empty), then environment variables from env (as os.Environ), then
// flags. It validates the result and returns every problem at once.
func Load(path string, env []string, flags *Flags) (Config, error) {
	cfg := Default()
	var errs []error
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: read %s: %w", path, err)
		}
		errs = append(errs, applyYAML(&cfg, path, raw)...)
	}
	errs = append(errs, applyEnv(&cfg, env)...)
	if flags != nil {
		for _, key := range flags.order {
			if err := set(&cfg, key, flags.set[key], "flag --"+FlagName(key)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		errs = cfg.validate()
	}
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	return cfg, nil
}

func applyEnv(cfg *Config, env []string) []error {
	byEnv := map[string]string{}
	for _, k := range Keys() {
		byEnv[EnvName(k)] = k
	}
	var errs []error
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || slices.ContainsFunc(reservedEnv, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		key, known := byEnv[name]
		if !known {
			errs = append(errs, &Error{Key: strings.ToLower(strings.TrimPrefix(name, EnvPrefix)), Source: "env " + name,
				Reason: "unknown key" + suggest(strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, EnvPrefix), "_", ".")))})
			continue
		}
		if err := set(cfg, key, value, "env "+name); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func applyYAML(cfg *Config, path string, raw []byte) []error {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return []error{fmt.Errorf("config: parse %s: %w", path, err)}
	}
	if len(doc.Content) == 0 {
		return nil // an empty file keeps the defaults
	}
	byPath := map[string]leaf{}
	for _, l := range leaves() {
		byPath[l.path] = l
	}
	var errs []error
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		where := func(n *yaml.Node) string { return fmt.Sprintf("%s line %d", path, n.Line) }
		if n.Kind != yaml.MappingNode {
			errs = append(errs, &Error{Key: strings.TrimSuffix(prefix, "."), Source: where(n), Reason: "expected a mapping of keys"})
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := prefix + k.Value
			if seen[key] {
				errs = append(errs, &Error{Key: key, Source: where(k), Reason: "set twice in the same mapping"})
				continue
			}
			seen[key] = true
			if l, ok := byPath[key]; ok {
				value, err := scalarValue(v, l)
				if err != nil {
					errs = append(errs, &Error{Key: key, Source: where(v), Reason: err.Error()})
					continue
				}
				if err := set(cfg, key, value, where(v)); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			if isSection(key) {
				walk(v, key+".")
				continue
			}
			errs = append(errs, &Error{Key: key, Source: where(k), Reason: "unknown key" + suggest(key)})
		}
	}
	walk(doc.Content[0], "")
	return errs
}

// scalarValue turns a YAML value into the string form set parses; lists
// become comma-joined.
func scalarValue(n *yaml.Node, l leaf) (string, error) {
	if l.typ.Kind() == reflect.Slice {
		if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
			return n.Value, nil
		}
		if n.Kind != yaml.SequenceNode {
			return "", errors.New("expected a list")
		}
		items := make([]string, len(n.Content))
		for i, c := range n.Content {
			if c.Kind != yaml.ScalarNode || strings.Contains(c.Value, ",") {
				return "", fmt.Errorf("list item %d is not a plain value", i+1)
			}
			items[i] = c.Value
		}
		return strings.Join(items, ","), nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", errors.New("expected a single value, not a list or mapping")
	}
	if n.Tag == "!!null" && l.typ.Kind() != reflect.String {
		return "", errors.New("has no value")
	}
	return n.Value, nil
}

func isSection(key string) bool {
	for _, k := range Keys() {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// set parses value into the field for key.
func set(cfg *Config, key, value, source string) error {
	var l leaf
	for _, c := range leaves() {
		if c.path == key {
			l = c
		}
	}
	if l.path == "" {
		return &Error{Key: key, Source: source, Reason: "unknown key" + suggest(key)}
	}
	field := reflect.ValueOf(cfg).Elem().FieldByIndex(l.index)
	bad := func(reason string) error { return &Error{Key: key, Source: source, Reason: reason} }
	switch {
	case l.typ == durationType:
		d, err := time.ParseDuration(value)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a duration (like 500ms, 10s, 5m)", value))
		}
		field.SetInt(int64(d))
	case l.typ.Kind() == reflect.String:
		field.SetString(value)
	case l.typ.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad(fmt.Sprintf("%q is not true or false", value))
		}
		field.SetBool(b)
	case l.typ.Kind() >= reflect.Int && l.typ.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, l.typ.Bits())
		if errors.Is(err, strconv.ErrRange) {
			return bad(fmt.Sprintf("%s is out of range for a %d-bit integer", value, l.typ.Bits()))
		}
		if err != nil {
			return bad(fmt.Sprintf("%q is not an integer", value))
		}
		field.SetInt(n)
	case l.typ.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a number", value))
		}
		field.SetFloat(f)
	case l.typ.Kind() == reflect.Slice:
		var items []string
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		field.Set(reflect.ValueOf(items))
	default:
		return bad("unsupported type " + l.typ.String())
	}
	return nil
}

// suggest names the closest known key, if one is close.
func suggest(key string) string {
	best, bestD := "", 4
	keys := Keys()
	sort.Strings(keys)
	for _, k := range keys {
		if d := distance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
