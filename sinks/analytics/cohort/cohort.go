// Package cohort holds the definitions of the Prime trial cohorts (DESIGN,
// flow 7; docs/analytics.md) and the statistics that compare their two
// spend buckets, as plain functions without I/O. The analytics store counts
// trials with these definitions; the API turns the counts into rates, the
// difference, its interval and the test.
package cohort

import (
	"math"
	"time"
)

// ThresholdCents splits the buckets: a spend at signup above it (over
// $100.00) or not (exactly $100.00, less, and no purchase). It is compared
// with the spend in the trial's own currency (see docs/analytics.md).
const ThresholdCents = 10000

// Week is the cohort of a trial started at t: the start of its ISO week,
// Monday 00:00 UTC.
func Week(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	// Weekday counts from Sunday; ISO weeks start on Monday.
	return day.AddDate(0, 0, -(int(day.Weekday())+6)%7)
}

// Over reports whether a spend at signup falls in the over-$100 bucket.
func Over(spendCents int64) bool { return spendCents > ThresholdCents }

// Counts are one bucket of one weekly cohort.
type Counts struct {
	// Trials started in the week.
	Trials int64
	// Converted are the trials that ended without a cancel during them.
	Converted int64
	// Pending are the trials that had not ended at the time asked.
	Pending int64
}

// Ended is the number of trials decided: the denominator of the rate.
func (c Counts) Ended() int64 { return c.Trials - c.Pending }

// Rate is the conversion rate among the ended trials; NaN when none ended.
func (c Counts) Rate() float64 { return Rate(c.Converted, c.Ended()) }

// Rate is x/n, NaN when n is not positive.
func Rate(x, n int64) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return float64(x) / float64(n)
}

// Z95 is the standard normal quantile of 0.975: a two-sided 95% interval is
// the estimate plus or minus Z95 standard errors.
const Z95 = 1.959963984540054

// Comparison sets the over-$100 bucket against the $100-or-less one. Every
// field is NaN when it is undefined (see Compare).
type Comparison struct {
	// Difference is the over rate minus the $100-or-less rate.
	Difference float64
	// Low and High bound its 95% Wald interval.
	Low, High float64
	// PValue is the two-sided p-value of the pooled two-proportion z-test
	// of equal rates.
	PValue float64
}

// Compare compares the ended trials of the two buckets: NaN everywhere when
// either bucket has no ended trial, and a NaN p-value when the pooled rate
// is 0 or 1 (every ended trial converted, or none did: no variance to test
// against).
func Compare(over, under Counts) Comparison {
	x1, n1, x2, n2 := over.Converted, over.Ended(), under.Converted, under.Ended()
	lo, hi := WaldCI95(x1, n1, x2, n2)
	_, p := PooledZTest(x1, n1, x2, n2)
	return Comparison{Difference: Rate(x1, n1) - Rate(x2, n2), Low: lo, High: hi, PValue: p}
}

// WaldCI95 is the 95% Wald interval of p1 - p2, the difference of the
// proportions x1/n1 and x2/n2: the difference plus or minus Z95 times
// sqrt(p1(1-p1)/n1 + p2(1-p2)/n2). It is NaN when n1 or n2 is 0, and a
// single point when both proportions are 0 or 1. It is not clipped to
// [-1, 1].
func WaldCI95(x1, n1, x2, n2 int64) (lo, hi float64) {
	p1, p2 := Rate(x1, n1), Rate(x2, n2)
	d := p1 - p2
	se := math.Sqrt(p1*(1-p1)/float64(n1) + p2*(1-p2)/float64(n2))
	return d - Z95*se, d + Z95*se
}

// PooledZTest tests p1 = p2 with the pooled proportion p = (x1+x2)/(n1+n2):
// z = (p1 - p2) / sqrt(p(1-p)(1/n1 + 1/n2)), and the two-sided p-value
// 2(1 - Phi(|z|)). Both are NaN when n1 or n2 is 0 or when p is 0 or 1.
func PooledZTest(x1, n1, x2, n2 int64) (z, p float64) {
	if n1 <= 0 || n2 <= 0 {
		return math.NaN(), math.NaN()
	}
	pool := Rate(x1+x2, n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return math.NaN(), math.NaN()
	}
	z = (Rate(x1, n1) - Rate(x2, n2)) / se
	// 2(1 - Phi(|z|)) = erfc(|z|/sqrt 2), without the cancellation of 1 - Phi
	// for large z.
	return z, math.Erfc(math.Abs(z) / math.Sqrt2)
}
