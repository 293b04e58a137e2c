package lease

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manual monotonic clock: time moves only on Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

func mustLease(t *testing.T, store Store, clock Clock, holder string) *Lease {
	t.Helper()
	l, err := New(Config{Name: "controller", Holder: holder, Duration: 10 * time.Second, Margin: 2 * time.Second, Store: store, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestFreeLeaseIsTakenAtOnceWithEpochOne(t *testing.T) {
	store, clock := NewMemStore(), newFakeClock()
	a := mustLease(t, store, clock, "a")
	ok, _, err := a.TryAcquire(context.Background())
	if err != nil || !ok || a.Epoch() != 1 || !a.Valid() {
		t.Fatalf("ok %v err %v epoch %d valid %v", ok, err, a.Epoch(), a.Valid())
	}
	b := mustLease(t, store, clock, "b")
	ok, observed, _ := b.TryAcquire(context.Background())
	if ok || observed.Holder != "a" {
		t.Fatalf("second contender acquired a held lease: ok %v observed %+v", ok, observed)
	}
}

func TestHolderSelfFencesBeforeTakeoverIsPossible(t *testing.T) {
	store, clock := NewMemStore(), newFakeClock()
	a := mustLease(t, store, clock, "a")
	b := mustLease(t, store, clock, "b")
	a.TryAcquire(context.Background())
	_, observed, _ := b.TryAcquire(context.Background())
	// a stops renewing (paused). Just before duration-margin it is still
	// valid; at duration-margin it is not, while b may take over only at
	// duration after its observation.
	clock.Advance(8*time.Second - time.Nanosecond)
	if !a.Valid() {
		t.Fatal("holder invalid before duration-margin")
	}
	clock.Advance(time.Nanosecond)
	if a.Valid() {
		t.Fatal("holder still valid at duration-margin without renewing")
	}
	clock.Advance(2 * time.Second)
	ok, err := b.TakeOver(context.Background(), observed)
	if err != nil || !ok || b.Epoch() != 2 {
		t.Fatalf("takeover: ok %v err %v epoch %d", ok, err, b.Epoch())
	}
	// a wakes up: its renewal conflicts, it knows it lost.
	if err := a.Renew(context.Background()); !errors.Is(err, ErrLost) {
		t.Fatalf("stale holder renew: %v", err)
	}
	select {
	case <-a.Lost():
	default:
		t.Fatal("Lost not closed")
	}
}

func TestRenewalDefeatsTakeover(t *testing.T) {
	store, clock := NewMemStore(), newFakeClock()
	a := mustLease(t, store, clock, "a")
	b := mustLease(t, store, clock, "b")
	a.TryAcquire(context.Background())
	_, observed, _ := b.TryAcquire(context.Background())
	clock.Advance(3 * time.Second)
	if err := a.Renew(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(7 * time.Second)
	ok, err := b.TakeOver(context.Background(), observed)
	if err != nil || ok {
		t.Fatalf("took over a renewed lease: ok %v err %v", ok, err)
	}
	if !a.Valid() || a.Epoch() != 1 {
		t.Fatal("holder lost a lease it renewed")
	}
}

func TestAcquireWaitsAFullDuration(t *testing.T) {
	store, clock := NewMemStore(), newFakeClock()
	a := mustLease(t, store, clock, "a")
	a.TryAcquire(context.Background())
	b := mustLease(t, store, clock, "b")
	done := make(chan int64, 1)
	go func() {
		e, err := b.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- e
	}()
	for clock.pending() == 0 { // b is waiting on its clock
		time.Sleep(time.Millisecond)
	}
	clock.Advance(10*time.Second - time.Nanosecond)
	select {
	case <-done:
		t.Fatal("acquired before a full lease duration")
	default:
	}
	clock.Advance(time.Nanosecond)
	if e := <-done; e != 2 {
		t.Fatalf("epoch %d, want 2", e)
	}
}

func TestReleaseLetsNextTakeAtOnce(t *testing.T) {
	store, clock := NewMemStore(), newFakeClock()
	a := mustLease(t, store, clock, "a")
	a.TryAcquire(context.Background())
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Valid() {
		t.Fatal("valid after release")
	}
	b := mustLease(t, store, clock, "b")
	ok, _, _ := b.TryAcquire(context.Background())
	if !ok || b.Epoch() != 2 {
		t.Fatalf("after release: ok %v epoch %d", ok, b.Epoch())
	}
}

func TestFailedRenewalDoesNotExtendValidity(t *testing.T) {
	store, clock := NewMemStore(), newFakeClock()
	a := mustLease(t, store, clock, "a")
	a.TryAcquire(context.Background())
	clock.Advance(5 * time.Second)
	store.Fail = errors.New("throttled")
	if err := a.Renew(context.Background()); err == nil || errors.Is(err, ErrLost) {
		t.Fatalf("renew against failing store: %v", err)
	}
	clock.Advance(3 * time.Second)
	if a.Valid() {
		t.Fatal("still valid after duration-margin with only failed renewals")
	}
}

// countCalls is a Counter.
type countCalls struct {
	mu sync.Mutex
	n  int
}

func (c *countCalls) Inc() { c.mu.Lock(); c.n++; c.mu.Unlock() }

func (c *countCalls) get() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// Every renewal that does not extend the lease is counted: a store error
// (the outcome unknown) and the conflict that finds the lease lost; a
// successful renewal and a Renew of a lease no longer held are not.
func TestRenewFailuresAreCounted(t *testing.T) {
	store, clock := NewMemStore(), newFakeClock()
	failures := &countCalls{}
	a, err := New(Config{Name: "controller", Holder: "a", Duration: 10 * time.Second, Store: store, Clock: clock, RenewFailures: failures})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ok, _, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if err := a.Renew(ctx); err != nil || failures.get() != 0 {
		t.Fatalf("renew: %v, %d failures counted", err, failures.get())
	}
	store.Fail = errors.New("throttled")
	for i := 1; i <= 2; i++ {
		if err := a.Renew(ctx); err == nil {
			t.Fatal("renewed against a failing store")
		}
		if got := failures.get(); got != i {
			t.Fatalf("after %d failed renewals: %d counted", i, got)
		}
	}
	store.Fail = nil
	if err := a.Renew(ctx); err != nil || failures.get() != 2 {
		t.Fatalf("renew after the store is back: %v, %d failures counted", err, failures.get())
	}
	// Someone else takes the lease over: the next renewal conflicts.
	b := mustLease(t, store, clock, "b")
	_, observed, _ := b.TryAcquire(ctx)
	clock.Advance(observed.Duration)
	if ok, err := b.TakeOver(ctx, observed); !ok || err != nil {
		t.Fatalf("take over: %v %v", ok, err)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLost) || failures.get() != 3 {
		t.Fatalf("renew of a lease taken over: %v, %d failures counted", err, failures.get())
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLost) || failures.get() != 3 {
		t.Fatalf("renew of a lease not held: %v, %d failures counted (no write was attempted)", err, failures.get())
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{Holder: "a", Duration: time.Second, Store: NewMemStore()},
		{Name: "x", Holder: "a", Store: NewMemStore()},
		{Name: "x", Holder: "a", Duration: time.Second, Margin: time.Second, Store: NewMemStore()},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
