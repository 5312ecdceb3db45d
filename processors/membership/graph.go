package membership

import (
	"github.com/lovoo/goka"

	"github.com/shopstream/shopstream/processors"
	"github.com/shopstream/shopstream/topics"
)

// Graph is the membership processor with DefaultRules; production runs it
// as Group, tests under names of their own.
func Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	return DefaultRules.Graph(group, rt)
}

// Graph is the membership processor applying r. It emits three event
// types (each Verdict names its own) and records a refused command in the
// table as it dead-letters it (processors.Refuse).
func (r Rules) Graph(group goka.Group, rt *processors.Runtime) *goka.GroupGraph {
	out := processors.Output{Topic: topics.MembershipEvents}
	return goka.DefineGroup(group,
		processors.Events(rt, group, topics.MembershipCommands, out, r.Apply),
		processors.DeadLetters(topics.MembershipCommands),
		out.Edge(),
		goka.Persist(Codec{}),
	)
}
