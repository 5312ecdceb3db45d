package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := GroupDigits(n); got != want {
			t.Errorf("GroupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}

// lockedBuffer is a bytes.Buffer the drawing goroutine and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// On a terminal the line is redrawn in place and ended once; elsewhere
// each drawing is a line of its own. Either way Stop draws the last state.
func TestLineRedrawsInPlaceOnlyOnATerminal(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		var w lockedBuffer
		var mu sync.Mutex
		n := 0
		l := Start(&w, terminal, time.Millisecond, func() string {
			mu.Lock()
			defer mu.Unlock()
			n++
			return "step"
		})
		time.Sleep(20 * time.Millisecond)
		l.Stop()
		out := w.b.String()
		lines := strings.Count(out, "\n")
		switch {
		case n < 2:
			t.Fatalf("terminal %v: drawn %d times", terminal, n)
		case terminal && (lines != 1 || !strings.HasPrefix(out, "\rstep\x1b[K") || !strings.HasSuffix(out, "\rstep\x1b[K\n")):
			t.Errorf("terminal: %q", out)
		case !terminal && (lines != n || strings.Contains(out, "\r")):
			t.Errorf("not a terminal, %d drawings: %q", n, out)
		}
	}
}
