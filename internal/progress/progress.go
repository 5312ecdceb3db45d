// Package progress draws a status line while long work runs (a file
// ingest, a replay): redrawn in place on a terminal, one line now and then
// anywhere else (a log, a pipe), and the final state when the work ends.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// IsTerminal reports whether f is a terminal (a character device), where a
// line redrawn in place belongs.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Line redraws the line line returns every interval until Stop.
type Line struct {
	w        io.Writer
	terminal bool
	line     func() string
	quit     chan struct{}
	exited   chan struct{}
}

// Start draws line on w every interval: in place when terminal, else as a
// new line each time.
func Start(w io.Writer, terminal bool, every time.Duration, line func() string) *Line {
	l := &Line{w: w, terminal: terminal, line: line, quit: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(l.exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-l.quit:
				return
			case <-t.C:
				l.draw(false)
			}
		}
	}()
	return l
}

func (l *Line) draw(last bool) {
	s := l.line()
	switch {
	case l.terminal && last:
		fmt.Fprint(l.w, "\r"+s+"\x1b[K\n")
	case l.terminal:
		fmt.Fprint(l.w, "\r"+s+"\x1b[K")
	default:
		fmt.Fprintln(l.w, s)
	}
}

// Stop draws the final state and ends the line.
func (l *Line) Stop() {
	close(l.quit)
	<-l.exited
	l.draw(true)
}

// GroupDigits writes n with thousands separators: 1,234,567.
func GroupDigits(n int64) string {
	if n < 0 {
		return "-" + GroupDigits(-n)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
