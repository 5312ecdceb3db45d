package replay

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParsePosition(t *testing.T) {
	at := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want Position
	}{
		{"start", Start()},
		{" Earliest ", Start()},
		{"end", End()},
		{"latest", End()},
		{"0", Offset(0)},
		{"1234", Offset(1234)},
		{"2024-05-06T00:00:00Z", Time(at)},
		{"2024-05-06T02:00:00+02:00", Time(at)},
	} {
		got, err := ParsePosition(c.in)
		if err != nil || got.Kind != c.want.Kind || got.Offset != c.want.Offset || !got.Time.Equal(c.want.Time) {
			t.Errorf("ParsePosition(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "-1", "yesterday", "2024-05-06", "12abc"} {
		if p, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) = %+v, want an error", bad, p)
		}
	}
	if s := Time(at).String(); s != "2024-05-06T00:00:00Z" {
		t.Errorf("String of a time position %q", s)
	}
}

func TestSpanOf(t *testing.T) {
	// A partition holding offsets 100..199 (older ones deleted), whose
	// records from offset 150 on were produced at or after the time asked.
	b := Bounds{LogStart: 100, End: 200, FromTime: 150, ToTime: 180}
	for _, c := range []struct {
		name       string
		from, to   Position
		start, end int64
	}{
		{"everything", Start(), End(), 100, 200},
		{"from an offset", Offset(120), End(), 120, 200},
		{"an offset before the log start reads from it", Offset(5), End(), 100, 200},
		{"an offset past the end is empty", Offset(500), End(), 200, 200},
		{"to an offset", Start(), Offset(130), 100, 130},
		{"an end before the start is empty", Offset(160), Offset(140), 160, 160},
		{"from a time", Time(time.Now()), End(), 150, 200},
		{"between two times", Time(time.Now()), Time(time.Now()), 150, 180},
		{"to the start is nothing", Start(), Start(), 100, 100},
	} {
		start, end := SpanOf(c.from, c.to, b)
		if start != c.start || end != c.end {
			t.Errorf("%s: [%d, %d), want [%d, %d)", c.name, start, end, c.start, c.end)
		}
	}
	// No record at or after the time: the span starts (or ends) at the end.
	late := Bounds{LogStart: 0, End: 40, FromTime: -1, ToTime: -1}
	if start, end := SpanOf(Time(time.Now()), End(), late); start != 40 || end != 40 {
		t.Errorf("a time after the last record: [%d, %d), want [40, 40)", start, end)
	}
	if start, end := SpanOf(Start(), Time(time.Now()), late); start != 0 || end != 40 {
		t.Errorf("to a time after the last record: [%d, %d), want [0, 40)", start, end)
	}
	// An empty partition.
	if start, end := SpanOf(Offset(3), End(), Bounds{FromTime: -1, ToTime: -1}); start != 0 || end != 0 {
		t.Errorf("an empty partition: [%d, %d)", start, end)
	}
}

func TestPlanCountsAndPrints(t *testing.T) {
	p := Plan{From: Start(), To: End(), At: time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC), Spans: []Span{
		{Topic: "membership.events", Partition: 0, Start: 0, End: 10, LogEnd: 10},
		{Topic: "order.events", Partition: 0, Start: 5, End: 25, LogStart: 5, LogEnd: 25},
		{Topic: "order.events", Partition: 1, Start: 7, End: 7, LogEnd: 7},
	}}
	if n := p.Offsets(); n != 30 {
		t.Errorf("Offsets %d, want 30", n)
	}
	if ts := p.Topics(); strings.Join(ts, ",") != "membership.events,order.events" {
		t.Errorf("Topics %v", ts)
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"replay of membership.events, order.events from start to end", "  order.events       0          5      25   20       5          25", "total: 30 records in 3 partitions"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}

func TestProgressMath(t *testing.T) {
	s := Snapshot{Elapsed: 4 * time.Second, Read: 400, Total: 1000}
	if s.Lag() != 600 || s.Rate() != 100 {
		t.Errorf("lag %d, rate %v; want 600, 100", s.Lag(), s.Rate())
	}
	if eta, ok := s.ETA(); !ok || eta != 6*time.Second {
		t.Errorf("ETA %v %v, want 6s", eta, ok)
	}
	line := s.Line("replay search")
	for _, want := range []string{"replay search [#########...............]  40%", "400/1000 records", "100 rec/s", "lag 600", "ETA 6s"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if _, ok := (Snapshot{Total: 10}).ETA(); ok {
		t.Errorf("an ETA before anything was read")
	}
	done := Snapshot{Elapsed: time.Second, Read: 10, Total: 10}
	if l := done.Line("x"); !strings.Contains(l, "100%") || strings.Contains(l, "ETA") || !strings.Contains(l, "lag 0") {
		t.Errorf("finished line %q", l)
	}
	if l := (Snapshot{}).Line("x"); !strings.Contains(l, "100%") {
		t.Errorf("an empty plan is done: %q", l)
	}
}

func TestProgressLines(t *testing.T) {
	var b syncBuffer
	p := startProgress(&b, "replay", false, time.Millisecond, func() Snapshot { return Snapshot{Elapsed: time.Second, Read: 1, Total: 2} })
	for !strings.Contains(b.String(), "\n") {
		time.Sleep(time.Millisecond)
	}
	p.Stop()
	if out := b.String(); strings.Contains(out, "\r") || !strings.HasSuffix(out, "\n") {
		t.Errorf("a log gets plain lines: %q", out)
	}
	b = syncBuffer{}
	p = startProgress(&b, "replay", true, time.Hour, func() Snapshot { return Snapshot{Read: 2, Total: 2} })
	p.Stop()
	if out := b.String(); !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "\x1b[K\n") {
		t.Errorf("a terminal's line is redrawn in place and ended: %q", out)
	}
}

// syncBuffer is a bytes.Buffer the progress goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
