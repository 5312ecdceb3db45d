package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
)

func versionCommand() *command {
	c := &command{name: "version", summary: "print the version", usage: "shopstream version"}
	c.run = func(_ context.Context, args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c.name, c.usage, stderr)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "shopstream %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	return c
}
