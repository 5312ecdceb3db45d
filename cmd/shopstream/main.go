// Command shopstream is the one binary of the shopstream data plane. Each
// subcommand wires one shape: all-in-one runs every role in one process on
// embedded engines; the role commands run one role against real servers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// version is set at build time by the Makefile (-ldflags -X main.version).
var version = "dev"

// command is one subcommand. Commands with children are groups.
type command struct {
	name     string
	summary  string
	usage    string
	run      func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	children []*command
}

func commands() []*command {
	return []*command{
		allInOneCommand(),
		apiCommand(),
		ingestCommand(),
		migrateHistoryCommand(),
		paymentCommand(),
		processCommand(),
		reconcileCommand(),
		replayCommand(),
		shippingCommand(),
		sinkCommand(),
		{name: "topics", summary: "create or describe the topic catalog on the brokers", children: []*command{
			topicsCreateCommand(),
			topicsDescribeCommand(),
		}},
		versionCommand(),
	}
}

// usageError makes the command exit 2. printed means the flag package has
// already shown the message and the usage.
type usageError struct {
	msg     string
	printed bool
}

func (e usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args to a subcommand and returns the exit code: 0 ok,
// 1 failed, 2 bad usage or configuration.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	path := "shopstream"
	for {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			printGroup(stdout, path, cmds)
			if len(args) == 0 {
				return 2
			}
			return 0
		}
		c := find(cmds, args[0])
		if c == nil {
			fmt.Fprintf(stderr, "%s: unknown command %q\n\n", path, args[0])
			printGroup(stderr, path, cmds)
			return 2
		}
		path += " " + c.name
		args = args[1:]
		if len(c.children) == 0 {
			err := c.run(ctx, args, stdout, stderr)
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.As(err, new(usageError)), errors.As(err, new(configError)):
				var ue usageError
				if !errors.As(err, &ue) || !ue.printed {
					fmt.Fprintf(stderr, "%s: %v\n", path, err)
				}
				return 2
			default:
				fmt.Fprintf(stderr, "%s: %v\n", path, err)
				return 1
			}
		}
		cmds = c.children
	}
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printGroup(w io.Writer, path string, cmds []*command) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", path)
	sorted := append([]*command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", path)
}

// newFlagSet returns a flag set whose --help prints the command's usage.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n", strings.TrimSpace(usage))
		fmt.Fprintln(fs.Output(), "Flags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning a bad flag into a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{msg: err.Error(), printed: true}
}
