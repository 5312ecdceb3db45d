package ingest

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/progress"
)

// progressEvery bounds redraws to ten a second.
const progressEvery = 100 * time.Millisecond

// status is the status line of a file or a generator: records/s, how
// much is done of the total (bytes of a file, or records), and the time
// left. It is drawn in place (the caller asked for it, or stderr is a
// terminal).
type status struct {
	label   string
	total   int64
	bytes   bool // done and total count bytes, not records
	done    func() int64
	records func() int64
	start   time.Time
}

func startProgress(w io.Writer, label string, total int64, bytes bool, done, records func() int64) *progress.Line {
	p := &status{label: label, total: total, bytes: bytes, done: done, records: records, start: time.Now()}
	return progress.Start(w, true, progressEvery, func() string { return p.line(time.Now()) })
}

func (p *status) line(now time.Time) string {
	elapsed := now.Sub(p.start)
	done, recs := p.done(), p.records()
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(recs) / s
	}
	amount := func(n int64) string {
		if p.bytes {
			return formatBytes(n)
		}
		return progress.GroupDigits(n)
	}
	var b strings.Builder
	b.WriteString(p.label)
	if p.total > 0 {
		frac := min(float64(done)/float64(p.total), 1)
		const width = 24
		filled := int(frac * width)
		fmt.Fprintf(&b, " [%s%s] %3.0f%%  %s / %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), 100*frac, amount(done), amount(p.total))
		if !p.bytes {
			b.WriteString(" records")
		}
	} else {
		fmt.Fprintf(&b, "  %s", amount(done))
	}
	fmt.Fprintf(&b, "  %s rec/s", progress.GroupDigits(int64(rate)))
	if p.total > 0 && done > 0 && done < p.total {
		eta := time.Duration(float64(elapsed) * float64(p.total-done) / float64(done))
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	return b.String()
}
