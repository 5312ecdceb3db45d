package ingest

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressEvery bounds redraws to ten a second.
const progressEvery = 100 * time.Millisecond

// IsTerminal reports whether f is a terminal (a character device), where a
// progress line belongs; a pipe or a file gets none.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress redraws one status line: records/s, how much is done of the
// total (bytes of a file, or records), and the time left.
type progress struct {
	w       io.Writer
	label   string
	total   int64
	bytes   bool // done and total count bytes, not records
	done    func() int64
	records func() int64
	start   time.Time
	quit    chan struct{}
	exited  chan struct{}
}

func startProgress(w io.Writer, label string, total int64, bytes bool, done, records func() int64) *progress {
	p := &progress{w: w, label: label, total: total, bytes: bytes, done: done, records: records,
		start: time.Now(), quit: make(chan struct{}), exited: make(chan struct{})}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.exited)
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			fmt.Fprint(p.w, "\r"+p.line(time.Now())+"\x1b[K")
		}
	}
}

// stop draws the final state and ends the line.
func (p *progress) stop() {
	close(p.quit)
	<-p.exited
	fmt.Fprint(p.w, "\r"+p.line(time.Now())+"\x1b[K\n")
}

func (p *progress) line(now time.Time) string {
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
		return groupDigits(n)
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
	fmt.Fprintf(&b, "  %s rec/s", groupDigits(int64(rate)))
	if p.total > 0 && done > 0 && done < p.total {
		eta := time.Duration(float64(elapsed) * float64(p.total-done) / float64(done))
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// groupDigits writes n with thousands separators: 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
