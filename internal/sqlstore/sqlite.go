package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLite is an embedded database file and how to open it.
type SQLite struct {
	Path string
	// Params are the driver's DSN parameters, "?_pragma=...&_txlock=...":
	// the pragmas every connection runs, the transaction lock and how times
	// are written.
	Params string
	// MaxOpenConns bounds the pool.
	MaxOpenConns int
}

// OpenSQLite opens f, creating the file and its directory if needed, and
// checks that it answers within c.Timeout. The store is named
// "sqlite file <path>" in errors and "<prefix> sqlite file <path>" in
// schema errors.
func OpenSQLite(ctx context.Context, f SQLite, c Config) (*Store, error) {
	where := "sqlite file " + f.Path
	if strings.Contains(f.Path, "?") {
		return nil, fmt.Errorf("%s: %s: a path containing '?' is not supported", c.Prefix, where)
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o750); err != nil {
		return nil, fmt.Errorf("%s: %s: cannot create its directory: %w", c.Prefix, where, err)
	}
	// SQLite falls back to read-only on a file it cannot write, and reports
	// a missing directory vaguely; the OS says plainly what is wrong.
	file, err := os.OpenFile(f.Path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("%s: %s cannot be opened for writing: %w", c.Prefix, where, err)
	}
	file.Close()

	db, err := sql.Open("sqlite", f.Path+f.Params)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", c.Prefix, where, err)
	}
	db.SetMaxOpenConns(f.MaxOpenConns)
	if err := RoundTrip(ctx, db, c.Timeout); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %s cannot be opened: %w", c.Prefix, where, err)
	}
	return New(db, where, c.Prefix+" "+where, c), nil
}
