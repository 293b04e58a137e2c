package loadtest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeClock is a manual clock: SleepUntil jumps to the wake-up time.
type fakeClock struct{ now time.Time }

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.After(c.now) {
		c.now = t
	}
	return nil
}

func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

func TestPacerFollowsSchedule(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	p := NewPacer(clock, 1000) // one record per millisecond
	for n := 0; n < 50; n++ {
		due, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := start.Add(time.Duration(n) * time.Millisecond); !due.Equal(want) {
			t.Fatalf("record %d due at %v, want %v", n, due.Sub(start), want.Sub(start))
		}
		if clock.Now().Before(due) {
			t.Fatalf("record %d handed out at %v, before it was due (%v)", n, clock.Now().Sub(start), due.Sub(start))
		}
	}
	if p.Sent() != 50 {
		t.Fatalf("Sent = %d, want 50", p.Sent())
	}
}

// TestPacerDoesNotSlipAfterStall checks that a stall does not move the
// schedule: the records due during it are handed out at once afterwards,
// with their original (past) intended times.
func TestPacerDoesNotSlipAfterStall(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	p := NewPacer(clock, 1000)
	ctx := context.Background()
	if _, err := p.Next(ctx); err != nil {
		t.Fatal(err)
	}
	clock.advance(100 * time.Millisecond) // the caller was blocked
	for n := 1; n <= 100; n++ {
		before := clock.Now()
		due, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := start.Add(time.Duration(n) * time.Millisecond); !due.Equal(want) {
			t.Fatalf("record %d due at %v, want %v", n, due.Sub(start), want.Sub(start))
		}
		if !clock.Now().Equal(before) {
			t.Fatalf("record %d: pacer slept while behind schedule", n)
		}
	}
	// Caught up: the next record waits for its time again.
	due, _ := p.Next(ctx)
	if want := start.Add(101 * time.Millisecond); !due.Equal(want) || clock.Now().Before(want) {
		t.Fatalf("after catching up: due %v at clock %v, want both at %v", due.Sub(start), clock.Now().Sub(start), want.Sub(start))
	}
}

func TestPacerUnthrottledNeverSleeps(t *testing.T) {
	clock := newFakeClock()
	p := NewPacer(clock, 0)
	for range 1000 {
		due, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !due.Equal(clock.Now()) {
			t.Fatalf("unthrottled due %v, want now %v", due, clock.Now())
		}
	}
	if !clock.Now().Equal(newFakeClock().Now()) {
		t.Fatal("unthrottled pacer moved the clock")
	}
}

func TestPacerStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := NewPacer(SystemClock{}, 0.5) // one record every two seconds
	if _, err := p.Next(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	began := time.Now()
	if _, err := p.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel: %v, want context.Canceled", err)
	}
	if time.Since(began) > time.Second {
		t.Fatal("Next slept through a cancelled context")
	}
}

// TestNoCoordinatedOmission simulates a synchronous sender at 1000 rec/s
// for 2 s against a broker that answers at once except for one 500 ms
// stall at t=1 s, and checks the recorded latencies: measured from the
// intended send time, the 500 records due during the stall show latencies
// spread from 500 ms down to 0, so p90 is about 300 ms. Measured from the
// actual send time (coordinated omission), the stall would be one slow
// record and p90 near zero; the test computes that too, to show the
// difference is what is being tested.
func TestNoCoordinatedOmission(t *testing.T) {
	clock := newFakeClock()
	corrected, naive := NewRecorder(), NewRecorder()
	corrected.Measure()
	naive.Measure()
	p := NewPacer(clock, 1000)
	ctx := context.Background()
	stalled := false
	for n := 0; n < 2000; n++ {
		due, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sent := clock.Now()
		if !stalled && sent.Sub(newFakeClock().Now()) >= time.Second {
			clock.advance(500 * time.Millisecond) // the broker stalls on this record
			stalled = true
		}
		acked := clock.Now()
		corrected.Record(acked.Sub(due), 100)
		naive.Record(acked.Sub(sent), 100)
	}
	records, _, _, lat := corrected.Totals()
	if records != 2000 {
		t.Fatalf("recorded %d, want 2000", records)
	}
	if lat.Max < 499 || lat.Max > 501 {
		t.Fatalf("max %.1f ms, want ~500", lat.Max)
	}
	if lat.P90 < 250 || lat.P90 > 350 {
		t.Fatalf("corrected p90 %.1f ms, want ~300 (records due during the stall waited)", lat.P90)
	}
	if lat.P50 > 1 {
		t.Fatalf("corrected p50 %.3f ms, want ~0 (most records were on time)", lat.P50)
	}
	_, _, _, nl := naive.Totals()
	if nl.P90 > 1 || nl.Max < 499 {
		t.Fatalf("naive p90 %.3f max %.1f: the simulation does not exercise a stall", nl.P90, nl.Max)
	}
}
