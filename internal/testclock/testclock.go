// Package testclock is a clock a test moves by hand, for the code that
// takes its time from an injectable func() time.Time.
package testclock

import (
	"sync"
	"time"
)

// Clock starts where New puts it and moves only by Add.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New is a clock at now.
func New(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time; safe from any goroutine.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
