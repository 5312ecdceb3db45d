package cohort

import (
	"math"
	"testing"
	"time"
)

func TestWeekStartsOnMondayUTC(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), "2026-01-05"},     // Monday 00:00
		{time.Date(2026, 1, 11, 23, 59, 59, 0, time.UTC), "2026-01-05"}, // Sunday 23:59:59
		{time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC), "2026-01-12"},    // the next Monday
		{time.Date(2026, 1, 4, 23, 59, 59, 999e6, time.UTC), "2025-12-29"},
		// Monday 03:00 in India is Sunday 21:30 UTC: the week before.
		{time.Date(2026, 1, 12, 3, 0, 0, 0, ist), "2026-01-05"},
		// ISO week 1 of 2026 starts in 2025.
		{time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), "2025-12-29"},
		{time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), "2024-02-26"},
	} {
		got := Week(c.at)
		if got.Format(time.DateOnly) != c.want || got.Location() != time.UTC || got != got.Truncate(24*time.Hour) {
			t.Errorf("Week(%v) = %v, want %s 00:00 UTC", c.at, got, c.want)
		}
	}
}

func TestOverIsStrictlyAboveOneHundredDollars(t *testing.T) {
	for cents, want := range map[int64]bool{0: false, 9999: false, 10000: false, 10001: true, 1_000_000: true} {
		if Over(cents) != want {
			t.Errorf("Over(%d) = %v, want %v", cents, !want, want)
		}
	}
}

func TestCountsRateIsOverEndedTrials(t *testing.T) {
	c := Counts{Trials: 10, Converted: 3, Pending: 4}
	if c.Ended() != 6 || c.Rate() != 0.5 {
		t.Errorf("ended %d rate %v, want 6 and 0.5", c.Ended(), c.Rate())
	}
	if r := (Counts{Trials: 3, Pending: 3}).Rate(); !math.IsNaN(r) {
		t.Errorf("rate with every trial pending = %v, want NaN", r)
	}
	if r := (Counts{}).Rate(); !math.IsNaN(r) {
		t.Errorf("rate without trials = %v, want NaN", r)
	}
}

// The expected values were computed apart from this code, in Python with
// statistics.NormalDist (inv_cdf for the quantile, 2*(1-cdf(|z|)) for the
// p-value); the first also by hand (docs/analytics.md).
func TestCompareMatchesIndependentValues(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		x1, n1, x2, n2        int64
		diff, lo, hi, z, pval float64
	}{
		{60, 120, 90, 300, 0.2, 0.09659758037518992, 0.30340241962481007, 3.864367132317184, 0.00011137759605439612},
		{45, 100, 30, 100, 0.15, 0.017430493307564854, 0.2825695066924352, 2.1908902300206647, 0.02845973691631043},
		{520, 1000, 480, 1000, 0.04, -0.003791052091614601, 0.08379105209161467, 1.7888543819998333, 0.07363827012030244},
		{10, 10, 3, 10, 0.7, 0.41597423491067465, 0.9840257650893253, 3.281650616569468, 0.0010320139151629437},
		// Wald is not clipped: the upper bound passes 1 with so few trials.
		{1, 2, 0, 3, 0.5, -0.19295191217483876, 1.1929519121748386, 1.369306393762915, 0.17090352023079758},
		// Rates 1 and 0: the interval is a point, the test still has a
		// pooled variance.
		{5, 5, 0, 7, 1, 1, 1, 3.464101615137755, 0.0005320055051392103},
		// Pooled rate 0 or 1: nothing to test against.
		{0, 5, 0, 7, 0, 0, 0, nan, nan},
		{5, 5, 7, 7, 0, 0, 0, nan, nan},
		// A bucket without ended trials: nothing is defined.
		{0, 0, 3, 7, nan, nan, nan, nan, nan},
		{2, 4, 0, 0, nan, nan, nan, nan, nan},
	} {
		cmp := Compare(Counts{Trials: c.n1 + 2, Converted: c.x1, Pending: 2}, Counts{Trials: c.n2, Converted: c.x2})
		z, _ := PooledZTest(c.x1, c.n1, c.x2, c.n2)
		for _, v := range []struct {
			name      string
			got, want float64
		}{{"difference", cmp.Difference, c.diff}, {"ci low", cmp.Low, c.lo}, {"ci high", cmp.High, c.hi}, {"z", z, c.z}, {"p", cmp.PValue, c.pval}} {
			if !near(v.got, v.want) {
				t.Errorf("%d/%d vs %d/%d: %s = %v, want %v", c.x1, c.n1, c.x2, c.n2, v.name, v.got, v.want)
			}
		}
	}
}

func TestPValueOfAHugeDifferenceIsTinyNotZeroOrNegative(t *testing.T) {
	_, p := PooledZTest(900, 1000, 100, 1000)
	if !(p > 0 && p < 1e-100) {
		t.Errorf("p = %v, want a tiny positive value", p)
	}
}

func TestZ95IsTheNormalQuantile(t *testing.T) {
	// Phi(Z95) = 0.975: erfc(-x/sqrt 2)/2 = Phi(x).
	if phi := math.Erfc(-Z95/math.Sqrt2) / 2; math.Abs(phi-0.975) > 1e-15 {
		t.Errorf("Phi(Z95) = %v", phi)
	}
}

// near compares to 1e-12 relative (NaN equals NaN).
func near(got, want float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	return math.Abs(got-want) <= 1e-12*math.Max(1, math.Abs(want))
}
