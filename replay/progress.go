package replay

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/progress"
)

// Snapshot is a replay's progress at one moment, in offsets of its plan.
type Snapshot struct {
	Elapsed time.Duration
	// Read is how many of the plan's offsets the replay has passed (each
	// record handed to the target, or skipped); Total is all of them.
	Read, Total int64
}

// Lag is how many offsets are left to read.
func (s Snapshot) Lag() int64 { return max(s.Total-s.Read, 0) }

// Rate is offsets read per second so far.
func (s Snapshot) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Read) / s.Elapsed.Seconds()
}

// ETA is the time left at the rate so far; false until there is a rate.
func (s Snapshot) ETA() (time.Duration, bool) {
	rate := s.Rate()
	if rate <= 0 {
		return 0, false
	}
	return time.Duration(float64(s.Lag()) / rate * float64(time.Second)), true
}

// Line is the progress line: a bar, the share done, the rate, the lag and
// the time left.
func (s Snapshot) Line(label string) string {
	const width = 24
	frac := 1.0
	if s.Total > 0 {
		frac = min(float64(s.Read)/float64(s.Total), 1)
	}
	filled := int(frac * width)
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s%s] %3.0f%%  %d/%d records  %.0f rec/s  lag %d", label,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), 100*frac, s.Read, s.Total, s.Rate(), s.Lag())
	if eta, ok := s.ETA(); ok && s.Lag() > 0 {
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// The progress line's pace: a terminal's line is redrawn in place several
// times a second; anything else (a log file, a pipe) gets a line now and
// then.
const (
	terminalEvery = 200 * time.Millisecond
	DefaultEvery  = 10 * time.Second
)

// startProgress draws snap's line on w until stopped: in place on a
// terminal, every `every` elsewhere.
func startProgress(w io.Writer, label string, terminal bool, every time.Duration, snap func() Snapshot) *progress.Line {
	if terminal {
		every = terminalEvery
	}
	return progress.Start(w, terminal, every, func() string { return snap().Line(label) })
}
