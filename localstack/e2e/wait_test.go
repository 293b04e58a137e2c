package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// pollEvery is how often a condition on another process is checked: there
// is no event to wait on for a broker electing a leader or an emulator
// answering.
const pollEvery = 100 * time.Millisecond

// errFalse is the last error of a boolean condition that never held.
var errFalse = errors.New("condition still false")

// waitFor calls cond every pollEvery until it returns nil, ctx ends or
// timeout passes; the error names what was awaited and cond's last error.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %v: %w", what, timeout, err)
		case <-tick.C:
		}
	}
}

// must fails the test when cond does not hold within timeout.
func must(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := waitFor(t.Context(), timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}
