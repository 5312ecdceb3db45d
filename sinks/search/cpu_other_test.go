//go:build !linux

package search

import "time"

// threadCPU is 0: only Linux reports a thread's CPU time.
func threadCPU() time.Duration { return 0 }
