package groups

import "time"

// Clock is the coordinator's only source of time.
type Clock interface {
	Now() time.Time
}

// SystemClock reads the system clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
