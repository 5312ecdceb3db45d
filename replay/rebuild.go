package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Rebuild names a goka processor's state: what a rebuild resets so that
// the processor, restarted, builds its table again from its input.
type Rebuild struct {
	// Group is the processor's consumer group.
	Group string
	// Inputs are its input topics, whose group offsets go back to the
	// start.
	Inputs []string
	// Table is its table's changelog topic, whose records are deleted;
	// empty for a processor without a table.
	Table string
	// Dirs are the local copies of the table on this host, removed: the
	// processor's storage directory, and views of its table.
	Dirs []string
}

// RebuildPlan is a resolved Rebuild: what RunRebuild does, and what a dry
// run prints.
type RebuildPlan struct {
	Rebuild
	From Position
	// State is the group's state; Members its live members, which make
	// the rebuild refuse.
	State   string
	Members []string
	// Inputs' spans start where the group's offsets are set.
	Offsets Plan
	// Committed are the group's offsets now (absent: none committed).
	Committed map[string]map[int32]int64
	// Changelog spans the table's records to delete: [log start, end).
	Changelog []Span
	// Policy is the changelog's cleanup.policy. Kafka deletes records only
	// from a topic whose policy includes delete: a compacted changelog is
	// switched to "compact,delete" for the deletion and back after it.
	Policy string
	// Existing are the Dirs that exist.
	Existing []string
}

// PlanRebuild resolves r from the start position from: the group's
// offsets on every input, the changelog's records and the local tables.
func PlanRebuild(ctx context.Context, adm *kadm.Client, r Rebuild, from Position) (RebuildPlan, error) {
	p := RebuildPlan{Rebuild: r, From: from, Committed: map[string]map[int32]int64{}}
	if err := p.describeGroup(ctx, adm); err != nil {
		return p, err
	}
	var err error
	if p.Offsets, err = Resolve(ctx, adm, r.Inputs, from, End()); err != nil {
		return p, fmt.Errorf("replay: rebuild %s: %w", r.Group, err)
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, r.Group, r.Inputs...)
	if err != nil {
		return p, fmt.Errorf("replay: rebuild %s: read the group's offsets: %w", r.Group, err)
	}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			if p.Committed[o.Topic] == nil {
				p.Committed[o.Topic] = map[int32]int64{}
			}
			p.Committed[o.Topic][o.Partition] = o.At
		}
	})
	if r.Table != "" {
		if err := p.planChangelog(ctx, adm); err != nil {
			return p, err
		}
	}
	for _, d := range r.Dirs {
		if _, err := os.Stat(d); err == nil {
			p.Existing = append(p.Existing, d)
		} else if !errors.Is(err, os.ErrNotExist) {
			return p, fmt.Errorf("replay: rebuild %s: local table %s: %w", r.Group, d, err)
		}
	}
	return p, nil
}

func (p *RebuildPlan) describeGroup(ctx context.Context, adm *kadm.Client) error {
	groups, err := adm.DescribeGroups(ctx, p.Group)
	if err != nil {
		return fmt.Errorf("replay: rebuild %s: describe the group: %w", p.Group, err)
	}
	g := groups[p.Group]
	switch {
	case errors.Is(g.Err, kerr.GroupIDNotFound):
		p.State = "Dead"
	case g.Err != nil:
		return fmt.Errorf("replay: rebuild %s: describe the group: %w", p.Group, g.Err)
	default:
		p.State = g.State
	}
	p.Members = p.Members[:0]
	for _, m := range g.Members {
		p.Members = append(p.Members, m.ClientID+" at "+m.ClientHost)
	}
	return nil
}

func (p *RebuildPlan) planChangelog(ctx context.Context, adm *kadm.Client) error {
	ends, err := listed(adm.ListEndOffsets(ctx, p.Table))
	if err != nil {
		return fmt.Errorf("replay: rebuild %s: list the end of %s: %w", p.Group, p.Table, err)
	}
	starts, err := listed(adm.ListStartOffsets(ctx, p.Table))
	if err != nil {
		return fmt.Errorf("replay: rebuild %s: list the start of %s: %w", p.Group, p.Table, err)
	}
	for part, end := range ends[p.Table] {
		start, _ := starts.Lookup(p.Table, part)
		p.Changelog = append(p.Changelog, Span{Topic: p.Table, Partition: part, Start: start.Offset, End: end.Offset, LogStart: start.Offset, LogEnd: end.Offset})
	}
	slices.SortFunc(p.Changelog, func(a, b Span) int { return int(a.Partition - b.Partition) })
	configs, err := adm.DescribeTopicConfigs(ctx, p.Table)
	if err != nil {
		return fmt.Errorf("replay: rebuild %s: read the configs of %s: %w", p.Group, p.Table, err)
	}
	c, err := configs.On(p.Table, nil)
	if err == nil {
		err = c.Err
	}
	if err != nil {
		return fmt.Errorf("replay: rebuild %s: read the configs of %s: %w", p.Group, p.Table, err)
	}
	p.Policy = "delete" // Kafka's default
	for _, kv := range c.Configs {
		if kv.Key == "cleanup.policy" && kv.Value != nil {
			p.Policy = *kv.Value
		}
	}
	return nil
}

// Check refuses a rebuild under a running processor: its members would
// keep the old table and commit over the reset offsets.
func (p RebuildPlan) Check() error {
	if len(p.Members) > 0 {
		return fmt.Errorf("replay: rebuild %s: the group has %d live member(s) (%s): stop every instance of the processor first",
			p.Group, len(p.Members), strings.Join(p.Members, ", "))
	}
	return nil
}

// deletes reports whether the policy lets DeleteRecords delete.
func deletes(policy string) bool {
	for _, s := range strings.Split(policy, ",") {
		if strings.TrimSpace(s) == "delete" {
			return true
		}
	}
	return false
}

// Write prints the plan: what a dry run says the rebuild would do.
func (p RebuildPlan) Write(w io.Writer) error {
	fmt.Fprintf(w, "rebuild of processor group %s from %s (as of %s)\n", p.Group, p.From, p.Offsets.At.UTC().Format(time.RFC3339))
	if len(p.Members) > 0 {
		fmt.Fprintf(w, "  REFUSED: the group is %s with %d live member(s): %s\n", p.State, len(p.Members), strings.Join(p.Members, ", "))
	} else {
		fmt.Fprintf(w, "  group state %s, no live members\n", p.State)
	}
	fmt.Fprintln(w, "1. set the group's offsets:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   topic\tpartition\tcommitted\tnew\trecords to process")
	for _, s := range p.Offsets.Spans {
		committed := "none"
		if o, ok := p.Committed[s.Topic][s.Partition]; ok {
			committed = fmt.Sprint(o)
		}
		fmt.Fprintf(tw, "   %s\t%d\t%s\t%d\t%d\n", s.Topic, s.Partition, committed, s.Start, s.Offsets())
	}
	tw.Flush()
	if p.Table == "" {
		fmt.Fprintln(w, "2. no table: no changelog to clear")
	} else {
		fmt.Fprintf(w, "2. delete the records of changelog %s:\n", p.Table)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "   partition\tfrom\tto\trecords")
		for _, s := range p.Changelog {
			fmt.Fprintf(tw, "   %d\t%d\t%d\t%d\n", s.Partition, s.Start, s.End, s.Offsets())
		}
		tw.Flush()
		if !deletes(p.Policy) {
			fmt.Fprintf(w, "   cleanup.policy is %q: set to \"compact,delete\" for the deletion, then back\n", p.Policy)
		}
	}
	fmt.Fprintln(w, "3. remove the local tables:")
	if len(p.Existing) == 0 {
		fmt.Fprintln(w, "   none on this host")
	}
	for _, d := range p.Existing {
		fmt.Fprintf(w, "   %s\n", d)
	}
	_, err := fmt.Fprintln(w, "Then start the processor: it rebuilds its table from its input, re-emitting its outputs under the same event ids.")
	return err
}

// RunRebuild carries out the plan, checking first (again) that the group
// has no live members: it sets the group's offsets, deletes the
// changelog's records up to its end, and removes the local tables. Each
// step can be run again: a rebuild that failed part way is run again
// whole, before the processor starts.
func RunRebuild(ctx context.Context, adm *kadm.Client, p RebuildPlan) error {
	if err := p.describeGroup(ctx, adm); err != nil {
		return err
	}
	if err := p.Check(); err != nil {
		return err
	}
	offsets := kadm.Offsets{}
	for _, s := range p.Offsets.Spans {
		offsets.AddOffset(s.Topic, s.Partition, s.Start, -1)
	}
	if err := adm.CommitAllOffsets(ctx, p.Group, offsets); err != nil {
		return fmt.Errorf("replay: rebuild %s: set the group's offsets: %w", p.Group, err)
	}
	if p.Table != "" {
		if err := p.clearChangelog(ctx, adm); err != nil {
			return err
		}
	}
	for _, d := range p.Dirs {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("replay: rebuild %s: remove the local table %s: %w", p.Group, d, err)
		}
	}
	return nil
}

// clearChangelog deletes every record of the changelog, switching its
// cleanup policy to one that allows it for the time it takes.
func (p RebuildPlan) clearChangelog(ctx context.Context, adm *kadm.Client) (err error) {
	if !deletes(p.Policy) {
		if err := p.setPolicy(ctx, adm, "compact,delete"); err != nil {
			return err
		}
		defer func() {
			// Set it back even when the deletion failed or ctx ended.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if rerr := p.setPolicy(rctx, adm, p.Policy); rerr != nil {
				err = errors.Join(err, fmt.Errorf("%w: set it back to %q by hand before starting the processor", rerr, p.Policy))
			}
		}()
	}
	ends, err := listed(adm.ListEndOffsets(ctx, p.Table))
	if err != nil {
		return fmt.Errorf("replay: rebuild %s: list the end of %s: %w", p.Group, p.Table, err)
	}
	resp, err := adm.DeleteRecords(ctx, ends.Offsets())
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("replay: rebuild %s: delete the records of %s: %w", p.Group, p.Table, err)
	}
	return nil
}

func (p RebuildPlan) setPolicy(ctx context.Context, adm *kadm.Client, policy string) error {
	resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: kadm.StringPtr(policy)}}, p.Table)
	if err == nil {
		_, err = resp.On(p.Table, func(r *kadm.AlterConfigsResponse) error {
			if r.Err != nil {
				return fmt.Errorf("%w %s", r.Err, r.ErrMessage)
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("replay: rebuild %s: set cleanup.policy of %s to %q: %w", p.Group, p.Table, policy, err)
	}
	return nil
}
