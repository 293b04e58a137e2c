package poll

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	err := Within(t.Context(), 5*time.Second, "third call", func() error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls.Load() != 3 {
		t.Fatalf("err %v after %d calls, want nil after 3", err, calls.Load())
	}
}

func TestWithinReportsTheLastError(t *testing.T) {
	err := Within(t.Context(), 30*time.Millisecond, "leader 1", func() error { return errors.New("leader is 2, want 1") })
	if err == nil || !strings.Contains(err.Error(), "leader 1: not within") || !strings.Contains(err.Error(), "leader is 2, want 1") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline and the condition's last error", err)
	}
}

func TestUntilStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Until(ctx, time.Hour, func() error { return errFalse }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}
