package processors

import "slices"

// Refusal is a well-formed command a processor's rules refused (a second
// trial, an add over a line's cap), kept in the key's state so the REST
// edge waiting on the command answers with the refusal instead of waiting.
type Refusal struct {
	EventID string `json:"event_id,omitempty"`
	Type    string `json:"type,omitempty"`
	// Code is a machine-readable kind, the edge's error code.
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// String is the refusal as its dead letter gives it.
func (r Refusal) String() string { return r.Type + " refused: " + r.Reason }

// Refusals are a key's last MaxRefusals refusals, oldest first. Several,
// because commands racing on one key can be refused one after the other
// before their edges read the state.
type Refusals []Refusal

// MaxRefusals is how many refusals a key keeps.
const MaxRefusals = 16

// Add returns rs with r added, dropping the oldest beyond MaxRefusals; rs
// is not modified.
func (rs Refusals) Add(r Refusal) Refusals {
	keep := rs[max(0, len(rs)-MaxRefusals+1):]
	return append(slices.Clip(keep), r)
}

// Of returns the refusal of the command eventID, if it was refused.
func (rs Refusals) Of(eventID string) (Refusal, bool) {
	i := slices.IndexFunc(rs, func(r Refusal) bool { return r.EventID == eventID })
	if i < 0 {
		return Refusal{}, false
	}
	return rs[i], true
}
