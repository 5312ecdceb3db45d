package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopstream/shopstream/app"
	"github.com/shopstream/shopstream/ops"
	"github.com/shopstream/shopstream/replay"
)

func replayCommand() *command {
	c := &command{
		name:    "replay",
		summary: "rebuild a sink's store or a processor's state from Kafka history",
		usage: `shopstream replay --target search|analytics|history|processor:<name> [--topics T1,T2] [--from start|OFFSET|TIME] [--to end|OFFSET|TIME] [--dry-run] [--config FILE] [--<key> VALUE ...]

Feeds one target from the records of its topics between --from and --to:
  search          listings into the search store (stores.search), through
                  the search sink's own apply path: versions keep the newest
  analytics       membership.events and order.events into the analytics
                  store (stores.analytics), deduplicated by event id, with
                  the events' own times: the cohorts of the live run
  history         final orders rebuilt from order.events (payment ids from
                  payment.events) into the history store (stores.history),
                  those older than history_migration.after, as migrated
  processor:NAME  a rebuild of processor NAME (` + strings.Join(app.ProcessorNames(), ", ") + `): its group's
                  offsets go back to --from, its changelog's records and
                  its local tables under data_dir/state are deleted; start
                  the processor after, it rebuilds from its input. Refused
                  while the group has live members.

--from and --to take 'start' (the oldest record), 'end' (the end of each
partition when the replay starts, the default of --to, so a replay always
terminates), an offset (the same in every partition) or an RFC 3339 time
(the first record produced at or after it, by ListOffsets by time).
--topics replays some of the target's topics only.

The replay reads with direct partition assignment and no consumer group:
it commits nothing and cannot disturb the live groups. Every target is
idempotent, so a replay over a live store changes nothing that was right,
and a failed replay is run again from the same --from. --dry-run prints
what would be read (each partition's start and end offsets and record
counts) or, for a processor, what would be reset, and writes nothing.
Progress goes to stderr: redrawn in place on a terminal, else a line every
--progress-every.

With the all-in-one config, stop the all-in-one first (the replay serves
its log itself), or pass --data-dir with a new directory to rebuild a
store there from the running all-in-one's broker.

Examples:
  shopstream replay --target search --dry-run
  shopstream replay --target analytics --from 2024-05-06T00:00:00Z --config deploy/config/local.yaml
  shopstream replay --target history --config deploy/config/local.yaml
  shopstream replay --target processor:inventory --config deploy/config/local.yaml`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		var target, topicList, from, to string
		var dryRun bool
		var every time.Duration
		cfg, pos, err := ingestConfig(c, args, stderr, func(fs *flag.FlagSet) {
			fs.StringVar(&target, "target", "", "what to feed: "+strings.Join(app.ReplayTargets(), ", "))
			fs.StringVar(&topicList, "topics", "", "comma-separated topics, some of the target's (default: all of them)")
			fs.StringVar(&from, "from", "start", "where to start: start, an offset, or an RFC 3339 time")
			fs.StringVar(&to, "to", "end", "where to stop (excluded): end, an offset, or an RFC 3339 time")
			fs.BoolVar(&dryRun, "dry-run", false, "print what would be read or reset, and write nothing")
			fs.DurationVar(&every, "progress-every", replay.DefaultEvery, "progress line interval when stderr is not a terminal (0: none)")
		})
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usageError{msg: "unexpected arguments: " + strings.Join(pos, " ")}
		}
		if target == "" {
			return usageError{msg: "name a --target: " + strings.Join(app.ReplayTargets(), ", ")}
		}
		fromPos, err := replay.ParsePosition(from)
		if err != nil {
			return usageError{msg: "--from: " + err.Error()}
		}
		toPos, err := replay.ParsePosition(to)
		if err != nil {
			return usageError{msg: "--to: " + err.Error()}
		}
		if strings.HasPrefix(target, app.ReplayProcessor) && toPos.Kind != replay.AtEnd {
			return usageError{msg: "--to does not apply to a processor rebuild: the processor reads on from --from"}
		}
		var topicNames []string
		for t := range strings.SplitSeq(topicList, ",") {
			if t = strings.TrimSpace(t); t != "" {
				topicNames = append(topicNames, t)
			}
		}
		log, err := ops.NewLogger(stderr, cfg.Log.Level, cfg.Log.Format)
		if err != nil {
			return configError{err}
		}
		ctx, stop := ops.SignalContext(ctx, log)
		defer stop()
		r, err := app.OpenReplay(ctx, cfg, log, app.ReplayRequest{Target: target, Topics: topicNames, DryRun: dryRun})
		if errors.Is(err, app.ErrReplayRequest) {
			return usageError{msg: err.Error()}
		}
		if err != nil {
			return err
		}
		defer r.Close()

		if r.Rebuild != nil {
			plan, err := replay.PlanRebuild(ctx, r.Admin, *r.Rebuild, fromPos)
			if err != nil {
				return err
			}
			if err := plan.Write(stdout); err != nil || dryRun {
				return err
			}
			if err := replay.RunRebuild(ctx, r.Admin, plan); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "rebuild of %s done: start the processor\n", r.Rebuild.Group)
			return nil
		}

		plan, err := replay.Resolve(ctx, r.Admin, r.Topics, fromPos, toPos)
		if err != nil {
			return err
		}
		if err := plan.Write(stdout); err != nil || dryRun {
			return err
		}
		opts := append(r.Options, replay.Label("replay "+target), replay.Logger(log))
		if tty := isTerminal(stderr); tty || every > 0 {
			opts = append(opts, replay.Progress(stderr, tty, every))
		}
		sum, err := replay.Run(ctx, r.KafkaOpts, plan, r.Apply, opts...)
		fmt.Fprintln(stdout, sum)
		if r.History != nil {
			fmt.Fprintln(stdout, r.History.Stats())
		}
		return err
	}
	return c
}
