package loadtest

import (
	"context"
	"time"
)

// Clock is the time source of pacing and latency measurement, injected so
// that tests can drive a stall deterministically.
type Clock interface {
	Now() time.Time
	// SleepUntil returns when t is reached or ctx ends (with ctx's error).
	SleepUntil(ctx context.Context, t time.Time) error
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now (with its monotonic reading).
func (SystemClock) Now() time.Time { return time.Now() }

// SleepUntil sleeps until t or until ctx ends.
func (SystemClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// minSleep is the shortest wait a Pacer sleeps for. Shorter gaps are sent
// at once: timers cannot sleep for tens of microseconds precisely, and a
// record sent slightly early is measured from its (later) intended time,
// which only under-reports by at most this much.
const minSleep = 200 * time.Microsecond

// Pacer hands out intended send times on a fixed schedule: record n is due
// at start + n/rate. The schedule never moves: when the caller falls
// behind (a blocked client, a stalled broker), Next returns past times at
// once until the caller catches up, so latency measured from the intended
// time includes the stall for every record that should have been sent
// during it (no coordinated omission). Rate 0 means unthrottled: Next
// returns the current time. A Pacer is used by one goroutine.
type Pacer struct {
	clock    Clock
	start    time.Time
	perNanos float64 // nanoseconds between records; 0 when unthrottled
	n        int64   // records handed out so far
}

// NewPacer starts a schedule of rate records/s at the clock's current time.
func NewPacer(clock Clock, rate float64) *Pacer {
	p := &Pacer{clock: clock, start: clock.Now()}
	if rate > 0 {
		p.perNanos = 1e9 / rate
	}
	return p
}

// Next waits until the next record is due and returns its intended send
// time. It returns ctx's error if ctx ends while waiting.
func (p *Pacer) Next(ctx context.Context) (time.Time, error) {
	if p.perNanos == 0 {
		p.n++
		return p.clock.Now(), ctx.Err()
	}
	due := p.start.Add(time.Duration(float64(p.n) * p.perNanos))
	p.n++
	if due.Sub(p.clock.Now()) >= minSleep {
		if err := p.clock.SleepUntil(ctx, due); err != nil {
			return due, err
		}
	}
	return due, nil
}

// Sent is how many intended send times Next has handed out.
func (p *Pacer) Sent() int64 { return p.n }
