package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var bin string

// TestMain builds the real binary once; these tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shopstream-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "shopstream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runBin(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func TestEverySubcommandHasHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"all-in-one", "--help"}, {"topics", "--help"}, {"topics", "create", "--help"}, {"topics", "describe", "--help"}, {"version", "--help"}} {
		code, out, errOut := runBin(t, nil, args...)
		if code != 0 || !strings.Contains(out+errOut, "Usage: shopstream") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if code, _, errOut := runBin(t, nil, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d %s", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runBin(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "shopstream ") {
		t.Errorf("exit %d %q", code, out)
	}
}

func TestBadConfigurationExitsTwoWithTheKey(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("kafka:\n  brokerz: [x:1]\n"), 0o644)
	unreadable := filepath.Join(dir, "unreadable.yaml")
	os.WriteFile(unreadable, []byte("log:\n  level: info\n"), 0o000)
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown key", nil, []string{"all-in-one", "--config", unknown}, "config key kafka.brokerz (" + unknown + " line 2): unknown key (did you mean kafka.brokers?)"},
		{"bad port flag", nil, []string{"all-in-one", "--http.addr", "127.0.0.1:70000", "--data-dir", dir}, "config key http.addr: \"127.0.0.1:70000\": port 70000 is not between 0 and 65535"},
		{"bad env", []string{"SHOPSTREAM_KAFKA_EMBEDDED_PORT=nine"}, []string{"all-in-one", "--data-dir", dir}, "config key kafka.embedded.port (env SHOPSTREAM_KAFKA_EMBEDDED_PORT): \"nine\" is not an integer"},
		{"missing file", nil, []string{"topics", "describe", "--config", filepath.Join(dir, "nope.yaml")}, "no such file or directory"},
		{"unknown flag", nil, []string{"all-in-one", "--kafka.brokerz", "x"}, "flag provided but not defined: -kafka.brokerz"},
	}
	if os.Geteuid() != 0 { // root reads any file
		cases = append(cases, struct {
			name string
			env  []string
			args []string
			want string
		}{"unreadable file", nil, []string{"all-in-one", "--config", unreadable}, "permission denied"})
	}
	for _, c := range cases {
		code, _, errOut := runBin(t, c.env, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant it to contain %q", c.name, code, errOut, c.want)
		}
	}
}

// startAllInOne runs the binary on free ports with dir as data dir and
// returns once /readyz answers 200, with the HTTP address.
func startAllInOne(t testing.TB, dir string, stderr io.Writer, extra ...string) (*exec.Cmd, string) {
	cmd, addr, _ := startAllInOneKafka(t, dir, stderr, extra...)
	return cmd, addr
}

// startAllInOneKafka is startAllInOne that also returns the embedded
// broker's bootstrap address.
func startAllInOneKafka(t testing.TB, dir string, stderr io.Writer, extra ...string) (*exec.Cmd, string, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"all-in-one", "--data-dir", dir, "--kafka.embedded.port", "0", "--http.addr", "127.0.0.1:0"}, extra...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	addr, kafka := "", ""
	sc := bufio.NewScanner(stdout)
	httpLine := regexp.MustCompile(`http\s+http://(\S+)`)
	kafkaLine := regexp.MustCompile(`kafka bootstrap\s+(\S+)`)
	for addr == "" && sc.Scan() {
		if m := kafkaLine.FindStringSubmatch(sc.Text()); m != nil {
			kafka = m[1]
		}
		if m := httpLine.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no http address printed")
	}
	go io.Copy(io.Discard, stdout)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, addr, kafka
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready in 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// all-in-one comes up on free ports, answers /readyz, and one SIGTERM
// shuts it down cleanly with exit 0.
func TestAllInOneRunsAndStopsOnSigterm(t *testing.T) {
	var stderr bytes.Buffer
	cmd, _ := startAllInOne(t, t.TempDir(), &stderr, "--log.format", "json")
	cmd.Process.Signal(syscall.SIGTERM)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit 15s after SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped cleanly"`) {
		t.Errorf("JSON logs lack the clean stop:\n%s", stderr.String())
	}
}
