package processors

import (
	"fmt"
	"time"

	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/topics"
)

// Output is the stream a processor emits its changes to, and their type
// (empty when each Verdict names its own).
type Output struct {
	Topic goka.Stream
	Type  string
}

// Edge declares the output in a group graph.
func (o Output) Edge() goka.Edge { return goka.Output(o.Topic, eventCodec{}) }

// DeadLetters declares the dead-letter topic of input in a group graph.
func DeadLetters(input goka.Stream) goka.Edge {
	return goka.Output(goka.Stream(topics.DeadLetterTopic(string(input))), topics.Codec{})
}

// Input is the edge of a group's input topic whose records are events of
// type typ carrying T, decoded by Lenient and counted in the runtime's
// metrics. Its callback dead-letters what
// does not decode or is of another type, applies the rest to the key's
// state S with apply, and carries out the verdict: store the new state,
// emit out, or dead-letter the record with the reason. apply is a plain
// function, testable alone. The graph declares DeadLetters(topic) and
// out.Edge() too.
func Input[S, T any](rt *Runtime, group goka.Group, topic goka.Stream, typ string, out Output, apply func(cur S, in In, data T) (S, Verdict)) goka.Edge {
	return rt.Input(string(group), topic, Lenient{}, handle(rt, out, func(cur S, in In, ev topics.Event) (S, Verdict) {
		data, ok := ev.Data.(T)
		if ev.Type != typ || !ok {
			return cur, Rejected("event type %q does not belong on %s, which carries %q", ev.Type, in.Pos.Topic, typ)
		}
		return apply(cur, in, data)
	}))
}

// Events is Input for a topic that carries several event types: apply
// gets the whole event, tells the types apart and rejects the ones that do
// not belong.
func Events[S any](rt *Runtime, group goka.Group, topic goka.Stream, out Output, apply func(cur S, in In, ev topics.Event) (S, Verdict)) goka.Edge {
	return rt.Input(string(group), topic, Lenient{}, handle(rt, out, apply))
}

func handle[S any](rt *Runtime, out Output, apply func(S, In, topics.Event) (S, Verdict)) goka.ProcessCallback {
	return func(ctx goka.Context, msg any) {
		d, ok := msg.(Decoded)
		if !ok {
			ctx.Fail(fmt.Errorf("processors: %s input %s is not decoded by processors.Lenient (got %T)", ctx.Group(), ctx.Topic(), msg))
		}
		if d.Err != nil {
			rt.deadLetter(ctx, d.Raw, d.Err.Error())
			return
		}
		in := In{ID: d.Event.ID, Key: ctx.Key(), At: d.Event.OccurredAt, Pos: positionOf(ctx)}
		cur, _ := ctx.Value().(S)
		next, v := apply(cur, in, d.Event)
		switch v.Outcome {
		case Reject:
			rt.deadLetter(ctx, d.Raw, v.Reason)
		case Refuse:
			ctx.SetValue(next)
			rt.deadLetter(ctx, d.Raw, v.Reason)
		case Store:
			ctx.SetValue(next)
		case Change:
			ctx.SetValue(next)
			emit(ctx, out, in, v)
		case Reemit:
			emit(ctx, out, in, v)
		}
	}
}

func positionOf(ctx goka.Context) Position {
	return Position{Topic: string(ctx.Topic()), Partition: ctx.Partition(), Offset: ctx.Offset()}
}

// emit writes the output of input in with an id derived from in's, at in's
// event time, so replaying the input reproduces the output exactly. It
// builds the event itself: topics.New would draw a random id per record
// only for it to be replaced.
func emit(ctx goka.Context, out Output, in In, v Verdict) {
	typ := out.Type
	if v.Type != "" {
		typ = v.Type
	}
	version, ok := topics.SchemaVersion(typ)
	if !ok {
		ctx.Fail(fmt.Errorf("processors: %s emits unknown event type %q", ctx.Group(), typ))
	}
	key := ctx.Key()
	if v.Key != "" {
		key = v.Key
	}
	ctx.Emit(out.Topic, key, topics.Event{
		ID: OutputID(string(ctx.Group()), in.ID), Type: typ, Version: version,
		OccurredAt: in.At, Key: key, Data: v.Out,
	})
}

// deadLetter sends the record in hand to its input's dead-letter topic.
// Its id and time derive from the record, so rejecting it again after a
// crash writes the same dead letter.
func (r *Runtime) deadLetter(ctx goka.Context, raw []byte, reason string) {
	pos := positionOf(ctx)
	at := ctx.Timestamp()
	if at.IsZero() {
		at = time.Now()
	}
	group := string(ctx.Group())
	ev, err := topics.New(topics.TypeDeadLetter, ctx.Key(), topics.DeadLetter{
		Reason: reason, Source: group, Topic: pos.Topic, Partition: pos.Partition, Offset: pos.Offset, Original: raw,
	}, topics.WithID(DeadLetterID(group, pos)), topics.At(at))
	if err != nil {
		ctx.Fail(fmt.Errorf("processors: %s dead letter for %s/%d/%d: %w", group, pos.Topic, pos.Partition, pos.Offset, err))
	}
	r.log.Warn("dead-lettered a record", "group", group, "topic", pos.Topic, "partition", pos.Partition, "offset", pos.Offset, "reason", reason)
	ctx.Emit(goka.Stream(topics.DeadLetterTopic(pos.Topic)), ctx.Key(), ev)
}
