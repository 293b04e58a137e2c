// Package poll waits in tests (of brokerd, lambdas and loadtest) for a condition that no channel announces:
// state another goroutine or another process changes (a leader elected, a
// group stable, a file written). Where a test can wait on an event it
// should; this is for the rest, so that no test sleeps a fixed time.
//
// Every wait is bounded, and a wait that runs out reports the condition's
// last error, so a failure says what was still false.
package poll

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Interval is how often a condition is checked: short against the
// seconds a test waits, long enough not to starve what it waits for on
// two cores.
const Interval = 10 * time.Millisecond

// errFalse is the last error of a boolean condition that never held.
var errFalse = errors.New("condition still false")

// Until calls cond every interval until it returns nil or ctx ends, and
// returns nil or ctx's error joined with cond's last one.
func Until(ctx context.Context, interval time.Duration, cond func() error) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", context.Cause(ctx), err)
		case <-tick.C:
		}
	}
}

// Within is Until every Interval, bounded by timeout as well as by ctx;
// its error names what was awaited.
func Within(ctx context.Context, timeout time.Duration, what string, cond func() error) error {
	return WithinEvery(ctx, timeout, Interval, what, cond)
}

// WithinEvery is Within for a condition that costs other processes work
// (a request to every broker), checked every interval instead.
func WithinEvery(ctx context.Context, timeout, interval time.Duration, what string, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := Until(ctx, interval, cond); err != nil {
		return fmt.Errorf("%s: not within %v: %w", what, timeout, err)
	}
	return nil
}

// Must fails the test when cond does not return nil within timeout; what
// names the state awaited.
func Must(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Within(t.Context(), timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}

// True is Must for a condition without an error to report.
func True(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Must(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errFalse
	})
}
