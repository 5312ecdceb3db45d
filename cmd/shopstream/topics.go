package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/topics"
)

func topicsCreateCommand() *command {
	c := &command{
		name:    "create",
		summary: "create every catalog topic that is missing, then verify all (idempotent)",
		usage: `shopstream topics create [--config FILE] [--<key> VALUE ...]

Creates the missing catalog topics with their declared partitions,
replication and configs, then verifies every topic. An existing topic with
other settings is reported with the setting, the expected and the actual
value, and the command fails. With the all-in-one config it talks to a
running all-in-one's embedded broker.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		cfg, cl, err := adminFor(c, args, stderr)
		if err != nil {
			return err
		}
		defer cl.Close()
		statuses, err := topics.Ensure(ctx, cl, catalogOf(cfg), true)
		if err != nil {
			return err
		}
		for _, s := range statuses {
			state := "exists, verified"
			switch {
			case s.Created:
				state = "created"
			case s.Widened:
				state = "exists, retention raised to the catalog's, verified"
			}
			fmt.Fprintf(stdout, "%-22s %s\n", s.Topic.Name, state)
		}
		return nil
	}
	return c
}

func topicsDescribeCommand() *command {
	c := &command{
		name:    "describe",
		summary: "list the catalog and check it against the brokers",
		usage: `shopstream topics describe [--config FILE] [--<key> VALUE ...]

Prints every catalog topic (partitions, replication, cleanup policy, key and
event types), then whether the brokers hold it as declared.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		cfg, cl, err := adminFor(c, args, stderr)
		if err != nil {
			return err
		}
		defer cl.Close()
		cat := catalogOf(cfg)
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION\tCLEANUP\tKEY\tEVENT TYPES")
		for _, t := range cat {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", t.Name, t.Partitions, t.Replication, t.Cleanup, t.Key, strings.Join(t.Types, ","))
		}
		tw.Flush()
		err = topics.Verify(ctx, cl, cat)
		var missing *topics.MissingError
		switch {
		case err == nil:
			fmt.Fprintln(stdout, "\nAll catalog topics exist with their declared settings.")
			return nil
		case errors.As(err, &missing):
			fmt.Fprintf(stdout, "\n%v\n", err)
			return errors.New("catalog topics are missing")
		default:
			return err
		}
	}
	return c
}

// adminFor parses the config flags and connects a client, failing with the
// broker addresses when they do not answer.
func adminFor(c *command, args []string, stderr io.Writer) (config.Config, *kgo.Client, error) {
	cfg, err := loadConfig(c, args, stderr)
	if err != nil {
		return cfg, nil, err
	}
	brokers := cfg.Kafka.Brokers
	if cfg.Kafka.Embedded.Enabled {
		brokers = []string{fmt.Sprintf("127.0.0.1:%d", cfg.Kafka.Embedded.Port)}
	}
	cl, err := kgo.NewClient(eventlog.ClientOpts(brokers, cfg.Kafka.ClientID+"-admin", cfg.Kafka.DialTimeout, nil)...)
	if err != nil {
		return cfg, nil, err
	}
	if err := eventlog.Ping(context.Background(), cl, brokers, min(cfg.Kafka.DialTimeout, 15*time.Second)); err != nil {
		cl.Close()
		return cfg, nil, err
	}
	return cfg, cl, nil
}

func catalogOf(cfg config.Config) []topics.Topic {
	return topics.Catalog(topics.Settings{Partitions: cfg.Topics.Partitions, Replication: cfg.Topics.Replication})
}
