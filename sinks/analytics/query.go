package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/sinks/analytics/cohort"
)

// PrimeCohorts counts the trials rows by week and bucket, one indexed (or,
// on ClickHouse, pruned) pass over the weeks asked: whether a trial
// converted was decided when its events were written, so the query only
// compares its end with now.
func (s *sqlStore) PrimeCohorts(ctx context.Context, from, to, now time.Time) ([]CohortWeek, error) {
	from, to = cohort.Week(from), cohort.Week(to)
	// The store keeps seconds: a trial ending within now's second has ended.
	now = now.UTC().Truncate(time.Second)
	if to.Before(from) {
		return nil, nil
	}
	// A trial that ended before from started before it too: the bound
	// lets ClickHouse skip those by its sort key.
	rows, err := s.DB().QueryContext(ctx, `SELECT week, over_100, COUNT(*), SUM(ends_at <= ? AND version = 0), SUM(ends_at > ?)
		FROM trials`+s.d.final+` WHERE week >= ? AND week <= ? AND ends_at >= ?
		GROUP BY week, over_100 ORDER BY week, over_100`, now, now, from, to, from)
	if err != nil {
		return nil, fmt.Errorf("analytics: prime cohorts from %s: %w", s.where, err)
	}
	defer rows.Close()
	var weeks []CohortWeek
	for rows.Next() {
		var week time.Time
		var over int64
		var c cohort.Counts
		if err := rows.Scan(&week, &over, &c.Trials, &c.Converted, &c.Pending); err != nil {
			return nil, fmt.Errorf("analytics: prime cohorts from %s: %w", s.where, err)
		}
		week = week.UTC()
		if len(weeks) == 0 || !weeks[len(weeks)-1].Week.Equal(week) {
			weeks = append(weeks, CohortWeek{Week: week})
		}
		if w := &weeks[len(weeks)-1]; over != 0 {
			w.Over100 = c
		} else {
			w.UpTo100 = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: prime cohorts from %s: %w", s.where, err)
	}
	return weeks, nil
}

// EventCounts counts the distinct event ids stored, by type.
func (s *sqlStore) EventCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.DB().QueryContext(ctx, "SELECT type, COUNT(*) FROM events"+s.d.final+" GROUP BY type")
	if err != nil {
		return nil, fmt.Errorf("analytics: count events in %s: %w", s.where, err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var typ string
		var n int64
		if err := rows.Scan(&typ, &n); err != nil {
			return nil, fmt.Errorf("analytics: count events in %s: %w", s.where, err)
		}
		counts[typ] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: count events in %s: %w", s.where, err)
	}
	return counts, nil
}
