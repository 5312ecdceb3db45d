package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/shopstream/shopstream/config"
)

// configError marks a refused configuration (exit status 2).
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// configFlags registers --config and one flag per config key on fs.
type configFlags struct {
	flags *config.Flags
	path  *string
}

func addConfigFlags(fs *flag.FlagSet, defaultPath string) configFlags {
	f, p := config.RegisterFlags(fs, defaultPath)
	return configFlags{flags: f, path: p}
}

// load reads the configuration after fs.Parse.
func (c configFlags) load() (config.Config, error) {
	cfg, err := config.Load(*c.path, os.Environ(), c.flags)
	if err != nil {
		return cfg, configError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	return cfg, nil
}
