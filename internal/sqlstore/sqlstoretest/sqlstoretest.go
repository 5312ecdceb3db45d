// Package sqlstoretest holds the tests every store role built on
// internal/sqlstore runs through its own Open, whatever the engine: a dead
// or silent server fails fast and says where, and an unusable SQLite file
// is refused with the reason.
package sqlstoretest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/realserver"
)

// Dead is a store role's Open against a server that does not answer. O is
// the role's Option type.
type Dead[O any] struct {
	// Server is how errors name the server's kind: "mysql" for
	// "mysql at host:port".
	Server string
	// Password is in the configuration Open uses; no error may print it.
	Password string
	// DefaultTimeout is the role's bound without the Timeout option.
	DefaultTimeout time.Duration
	// Timeout is the role's Timeout option.
	Timeout func(time.Duration) O
	// Open opens the store against the server at addr (host:port).
	Open func(ctx context.Context, addr string, opts ...O) (io.Closer, error)
}

// DeadServer checks that Open fails within its bound (plus 2 s of slack),
// naming the address and never the password: against a port nobody
// listens on (refused at once; the default timeout as the bound), and
// against a server that accepts and never speaks, where only a Timeout of
// 1 s ends it.
func DeadServer[O any](t *testing.T, d Dead[O]) {
	t.Helper()
	d.check(t, "127.0.0.1:1", d.DefaultTimeout)
	d.check(t, realserver.Silent(t), time.Second, d.Timeout(time.Second))
}

func (d Dead[O]) check(t *testing.T, addr string, bound time.Duration, opts ...O) {
	t.Helper()
	start := time.Now()
	s, err := d.Open(t.Context(), addr, opts...)
	took := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatalf("open against %s succeeded", addr)
	}
	t.Logf("%s: failed after %s: %v", addr, took.Round(time.Millisecond), err)
	if took > bound+2*time.Second {
		t.Errorf("open against %s took %s, bound %s", addr, took, bound)
	}
	if !strings.Contains(err.Error(), d.Server+" at "+addr) {
		t.Errorf("error does not name the address %s: %v", addr, err)
	}
	if strings.Contains(err.Error(), d.Password) {
		t.Errorf("error prints the password: %v", err)
	}
}

// UnusableSQLitePaths checks that open refuses a SQLite file it could not
// write, with an error naming the file and saying why: a file under a
// plain file, a directory where the file should be, a path containing
// '?', and (unless root, who writes anywhere) a file in a read-only
// directory. open opens the store on the file at path, whose base name is
// always name.
func UnusableSQLitePaths(t *testing.T, name string, open func(path string) error) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	taken := filepath.Join(dir, "taken", name)
	if err := os.MkdirAll(taken, 0o700); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		filepath.Join(file, name):       "cannot create its directory",  // its directory is a file
		taken:                           "cannot be opened for writing", // it is a directory
		filepath.Join(dir, "a?b", name): "not supported",
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "read-only")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		cases[filepath.Join(ro, name)] = "cannot be opened for writing"
	}
	for path, want := range cases {
		if err := open(path); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("sqlite file %s: got %v, want an error naming it and saying %q", path, err, want)
		}
	}
}
