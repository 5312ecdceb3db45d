package membership

import (
	"fmt"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Graph is the membership processor with DefaultRules; production runs it
// as Group, tests under names of their own.
func Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return DefaultRules.Graph(group, rt)
}

// Graph is the membership processor applying r.
//
// It carries out Apply's verdicts itself rather than through
// processors.Events, which emits one event type per processor and
// dead-letters without storing: membership emits three types, and a
// refusal is both stored and dead-lettered.
func (r Rules) Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return goka.DefineGroup(group,
		rt.Input(string(group), topics.MembershipCommands, processors.Lenient{}, r.process),
		processors.DeadLetters(topics.MembershipCommands),
		goka.Output(topics.MembershipEvents, topics.Codec{}),
		goka.Persist(Codec{}),
	)
}

// process is the input callback: decode (a bad record is dead-lettered),
// apply, and carry out the verdict.
func (r Rules) process(ctx goka.Context, msg any) {
	d, ok := msg.(processors.Decoded)
	if !ok {
		ctx.Fail(fmt.Errorf("membership: %s input %s is not decoded by processors.Lenient (got %T)", ctx.Group(), ctx.Topic(), msg))
	}
	pos := processors.Position{Topic: string(ctx.Topic()), Partition: ctx.Partition(), Offset: ctx.Offset()}
	if d.Err != nil {
		deadLetter(ctx, pos, d.Raw, d.Err.Error())
		return
	}
	in := processors.In{ID: d.Event.ID, Key: ctx.Key(), At: d.Event.OccurredAt, Pos: pos}
	cur, _ := ctx.Value().(Membership)
	next, v := r.Apply(cur, in, d.Event)
	switch v.Outcome {
	case processors.Reject:
		if v.Refused {
			ctx.SetValue(next)
		}
		deadLetter(ctx, pos, d.Raw, v.Reason)
	case processors.Change:
		ctx.SetValue(next)
		emit(ctx, in, v)
	case processors.Reemit:
		emit(ctx, in, v)
	}
}

// emit writes the event of a Change or Reemit with an id derived from the
// command's and at its event time, so a replay emits the same event.
func emit(ctx goka.Context, in processors.In, v Verdict) {
	version, ok := topics.SchemaVersion(v.Type)
	if !ok {
		ctx.Fail(fmt.Errorf("membership: %s emits unknown event type %q", ctx.Group(), v.Type))
	}
	ctx.Emit(topics.MembershipEvents, in.Key, topics.Event{
		ID: processors.OutputID(string(ctx.Group()), in.ID), Type: v.Type, Version: version,
		OccurredAt: in.At, Key: in.Key, Data: v.Out,
	})
}

// deadLetter sends the record in hand to membership.commands.dlq, with an
// id and a time derived from the record, as every processor does, so a
// record rejected again after a crash makes the same dead letter.
func deadLetter(ctx goka.Context, pos processors.Position, raw []byte, reason string) {
	at := ctx.Timestamp()
	if at.IsZero() {
		at = time.Now()
	}
	group := string(ctx.Group())
	ev, err := topics.New(topics.TypeDeadLetter, ctx.Key(), topics.DeadLetter{
		Reason: reason, Source: group, Topic: pos.Topic, Partition: pos.Partition, Offset: pos.Offset, Original: raw,
	}, topics.WithID(processors.DeadLetterID(group, pos)), topics.At(at))
	if err != nil {
		ctx.Fail(fmt.Errorf("membership: %s dead letter for %s/%d/%d: %w", group, pos.Topic, pos.Partition, pos.Offset, err))
	}
	ctx.Emit(goka.Stream(topics.DeadLetterTopic(pos.Topic)), ctx.Key(), ev)
}
