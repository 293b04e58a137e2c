package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Clock is a monotonic clock. Now's values are only compared with each
// other (Sub, Before), never with another host's.
type Clock interface {
	Now() time.Time
	// After fires once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// RealClock uses the process's monotonic clock (time.Now carries one).
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// After implements Clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config describes one lease held by this process.
type Config struct {
	Name     string        // e.g. "controller" or "broker/1"
	Holder   string        // this process's identity; unique per incarnation
	Duration time.Duration // promise: renew at least this often
	// Margin is subtracted from Duration when deciding how long a renewal
	// keeps this holder valid; it absorbs clock-rate differences and the
	// time a request takes to land. Default Duration/5.
	Margin time.Duration
	Store  Store
	Clock  Clock // default RealClock
	// RenewFailures, when set, counts every Renew that did not extend
	// the lease: the store's errors (throttled, unreachable, unknown
	// outcome) and the conflicts that find the lease lost.
	RenewFailures Counter
}

// Counter counts events; a prometheus.Counter is one.
type Counter interface{ Inc() }

// ErrLost means the lease was taken over or released elsewhere.
var ErrLost = errors.New("lease lost")

// Lease is this process's view of one lease. Safe for concurrent use.
type Lease struct {
	cfg Config

	mu         sync.Mutex
	held       bool      // guarded by mu
	rvn        string    // the RVN this holder last wrote; guarded by mu
	epoch      int64     // guarded by mu
	validUntil time.Time // guarded by mu; monotonic
	lost       chan struct{}
}

// New validates cfg and returns a lease not yet held.
func New(cfg Config) (*Lease, error) {
	if cfg.Name == "" || cfg.Holder == "" || cfg.Store == nil {
		return nil, errors.New("lease: name, holder and store are required")
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("lease %s: duration %v must be positive", cfg.Name, cfg.Duration)
	}
	if cfg.Margin == 0 {
		cfg.Margin = cfg.Duration / 5
	}
	if cfg.Margin < 0 || cfg.Margin >= cfg.Duration {
		return nil, fmt.Errorf("lease %s: margin %v must be in [0, duration)", cfg.Name, cfg.Margin)
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	return &Lease{cfg: cfg, lost: make(chan struct{})}, nil
}

func newRVN() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Valid reports whether this process may act as the holder now: it holds
// the lease and its last renewal is recent enough on its own clock. Check
// it immediately before every externally visible action (an ack, a
// metadata write).
func (l *Lease) Valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held && l.cfg.Clock.Now().Before(l.validUntil)
}

// Epoch returns the fencing token of the current holding (0 if never held).
func (l *Lease) Epoch() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// Lost is closed when a renewal finds the lease taken or released.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// TryAcquire makes one attempt: it takes a free or released lease at once;
// for a lease held by someone else it returns the observed record, and the
// caller must wait rec.Duration before TakeOver(rec).
func (l *Lease) TryAcquire(ctx context.Context) (acquired bool, observed Record, err error) {
	rec, found, err := l.cfg.Store.Get(ctx, l.cfg.Name)
	if err != nil {
		return false, Record{}, fmt.Errorf("lease %s: read: %w", l.cfg.Name, err)
	}
	start := l.cfg.Clock.Now()
	next := Record{Name: l.cfg.Name, Holder: l.cfg.Holder, RVN: newRVN(), Duration: l.cfg.Duration}
	switch {
	case !found:
		next.Epoch = 1
		err = l.cfg.Store.Create(ctx, next)
	case rec.Holder == "":
		next.Epoch = rec.Epoch + 1
		err = l.cfg.Store.Swap(ctx, rec.RVN, next)
	default:
		return false, rec, nil
	}
	if errors.Is(err, ErrConflict) {
		return false, Record{}, nil
	}
	if err != nil {
		return false, Record{}, fmt.Errorf("lease %s: acquire: %w", l.cfg.Name, err)
	}
	l.install(next, start)
	return true, next, nil
}

// TakeOver replaces observed, which the caller read at least
// observed.Duration ago on this clock, if nobody wrote it since.
func (l *Lease) TakeOver(ctx context.Context, observed Record) (bool, error) {
	start := l.cfg.Clock.Now()
	next := Record{Name: l.cfg.Name, Holder: l.cfg.Holder, RVN: newRVN(), Epoch: observed.Epoch + 1, Duration: l.cfg.Duration}
	err := l.cfg.Store.Swap(ctx, observed.RVN, next)
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease %s: take over: %w", l.cfg.Name, err)
	}
	l.install(next, start)
	return true, nil
}

func (l *Lease) install(rec Record, start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		l.lost = make(chan struct{})
	}
	l.held, l.rvn, l.epoch = true, rec.RVN, rec.Epoch
	l.validUntil = start.Add(l.cfg.Duration - l.cfg.Margin)
}

// Acquire blocks until the lease is held or ctx ends, following rule 2:
// a held lease is taken over only after its RVN stayed unchanged for a
// whole lease duration.
func (l *Lease) Acquire(ctx context.Context) (epoch int64, err error) {
	for {
		ok, observed, err := l.TryAcquire(ctx)
		if err != nil {
			return 0, err
		}
		if ok {
			return l.Epoch(), nil
		}
		if observed.Name == "" {
			continue // lost a race on a free lease: look again
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-l.cfg.Clock.After(observed.Duration):
		}
		if ok, err := l.TakeOver(ctx, observed); err != nil || ok {
			return l.Epoch(), err
		}
	}
}

// Renew extends the lease. ErrLost when someone else wrote it.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	held, rvn, epoch := l.held, l.rvn, l.epoch
	l.mu.Unlock()
	if !held {
		return ErrLost
	}
	start := l.cfg.Clock.Now()
	next := Record{Name: l.cfg.Name, Holder: l.cfg.Holder, RVN: newRVN(), Epoch: epoch, Duration: l.cfg.Duration}
	err := l.cfg.Store.Swap(ctx, rvn, next)
	if err != nil && l.cfg.RenewFailures != nil {
		l.cfg.RenewFailures.Inc()
	}
	if errors.Is(err, ErrConflict) {
		l.markLost()
		return fmt.Errorf("lease %s: %w", l.cfg.Name, ErrLost)
	}
	if err != nil {
		// Unknown outcome: the write may have landed. Keep the old RVN
		// as expected value; if it did land, the next renewal conflicts
		// and we give the lease up, which is safe. Validity is not
		// extended.
		return fmt.Errorf("lease %s: renew: %w", l.cfg.Name, err)
	}
	l.install(next, start)
	return nil
}

func (l *Lease) markLost() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		l.held = false
		close(l.lost)
	}
}

// Release gives the lease up so another contender can take it at once.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	held, rvn, epoch := l.held, l.rvn, l.epoch
	l.mu.Unlock()
	if !held {
		return nil
	}
	l.markLost()
	err := l.cfg.Store.Swap(ctx, rvn, Record{Name: l.cfg.Name, RVN: newRVN(), Epoch: epoch, Duration: l.cfg.Duration})
	if err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("lease %s: release: %w", l.cfg.Name, err)
	}
	return nil
}

// Run renews the lease every Duration/3 until ctx ends or the lease is
// lost. Failed renewals are retried at the same pace; Valid turns false on
// its own once renewals stop succeeding.
func (l *Lease) Run(ctx context.Context, onError func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.cfg.Clock.After(l.cfg.Duration / 3):
		}
		if err := l.Renew(ctx); err != nil {
			if onError != nil {
				onError(err)
			}
			if errors.Is(err, ErrLost) {
				return
			}
		}
	}
}
