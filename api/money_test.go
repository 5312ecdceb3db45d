package api

import "testing"

func TestParseCentsIsExact(t *testing.T) {
	ok := map[string]int64{"19.99": 1999, "20": 2000, "0.5": 50, ".5": 50, "100.00": 10000, "0": 0, "999999999999.99": 99999999999999}
	for in, want := range ok {
		if got, err := parseCents(in); err != nil || got != want {
			t.Errorf("parseCents(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", "-1", "1.999", "1e3", "abc", "1,5", "1.2.3", " 1", "9999999999999"} {
		if got, err := parseCents(bad); err == nil {
			t.Errorf("parseCents(%q) = %d, want an error", bad, got)
		}
	}
}
