package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shopstream/shopstream/config"
)

// configError marks a refused configuration (exit status 2).
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// loadConfig parses a command's flags (--config and one per config key),
// refuses stray arguments, and loads the configuration.
func loadConfig(c *command, args []string, stderr io.Writer) (config.Config, error) {
	fs := newFlagSet(c.name, c.usage, stderr)
	flags, path := config.RegisterFlags(fs, "")
	if err := parseFlags(fs, args); err != nil {
		return config.Config{}, err
	}
	if fs.NArg() > 0 {
		return config.Config{}, usageError{msg: "unexpected arguments: " + strings.Join(fs.Args(), " ")}
	}
	cfg, err := config.Load(*path, os.Environ(), flags)
	if err != nil {
		return cfg, configError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	return cfg, nil
}
