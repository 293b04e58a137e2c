package replication

import (
	"errors"
	"slices"
	"sort"
	"time"
)

// Errors a waiting produce request can end with.
var (
	// ErrNotEnoughReplicas: the ISR is below min.insync.replicas
	// (NOT_ENOUGH_REPLICAS before the append, NOT_ENOUGH_REPLICAS_AFTER_APPEND
	// after it).
	ErrNotEnoughReplicas = errors.New("in-sync replicas below min.insync.replicas")
	// ErrLeadershipLost: this broker stopped leading before the write
	// was committed (NOT_LEADER_OR_FOLLOWER); the write may or may not
	// survive, and the producer retries.
	ErrLeadershipLost = errors.New("leadership lost before the write was committed")
)

type follower struct {
	leo          int64
	lastFetchLEO int64 // leader LEO at this follower's previous fetch
	lastCaughtUp time.Time
	everCaughtUp bool
}

type waiter struct {
	offset int64 // answered when hw > offset
	done   chan error
}

// Leader is the leader-side state of one partition for one leader epoch.
// Not safe for concurrent use: the owner serialises calls.
type Leader struct {
	self      int32
	replicas  []int32
	isr       []int32
	minISR    int
	lagMax    time.Duration
	leo       int64
	hw        int64
	followers map[int32]*follower
	waiters   []waiter // sorted by offset
	resigned  bool
}

// NewLeader starts leading at now with the persisted ISR, the local log
// end offset and the high watermark known so far (the new leader's HW may
// lag the old one's; it catches up as followers fetch).
func NewLeader(self int32, replicas, isr []int32, minISR int, lagMax time.Duration, leo, hw int64, now time.Time) *Leader {
	l := &Leader{
		self: self, replicas: slices.Clone(replicas), isr: slices.Clone(isr),
		minISR: minISR, lagMax: lagMax, leo: leo, hw: min(hw, leo),
		followers: map[int32]*follower{},
	}
	if !slices.Contains(l.isr, self) {
		l.isr = append(l.isr, self)
	}
	for _, r := range replicas {
		if r != self {
			// Followers in the ISR get one lag period's grace to fetch.
			l.followers[r] = &follower{lastCaughtUp: now, everCaughtUp: slices.Contains(isr, r)}
		}
	}
	return l
}

// HighWatermark is the offset below which records are committed.
func (l *Leader) HighWatermark() int64 { return l.hw }

// ISR returns the current in-sync replicas, sorted.
func (l *Leader) ISR() []int32 {
	out := slices.Clone(l.isr)
	slices.Sort(out)
	return out
}

// CanAccept reports whether an acks=all produce may be appended now.
func (l *Leader) CanAccept() error {
	if l.resigned {
		return ErrLeadershipLost
	}
	if len(l.isr) < l.minISR {
		return ErrNotEnoughReplicas
	}
	return nil
}

// Appended records a local append: the leader's LEO moved to leo. It
// returns whether the high watermark moved (a single-replica ISR commits
// at once).
func (l *Leader) Appended(leo int64) bool {
	if leo > l.leo {
		l.leo = leo
	}
	return l.advance()
}

// Await returns a channel answered when the record at lastOffset is
// committed (nil) or cannot be (an error).
func (l *Leader) Await(lastOffset int64) <-chan error {
	done := make(chan error, 1)
	switch {
	case l.resigned:
		done <- ErrLeadershipLost
	case lastOffset < l.hw && len(l.isr) < l.minISR:
		// Committed, but by an ISR smaller than min.insync.replicas (it
		// shrank before this waiter registered): as in advance, and as
		// Kafka checks whenever a write reaches the high watermark.
		done <- ErrNotEnoughReplicas
	case lastOffset < l.hw:
		done <- nil
	default:
		i := sort.Search(len(l.waiters), func(i int) bool { return l.waiters[i].offset > lastOffset })
		l.waiters = slices.Insert(l.waiters, i, waiter{lastOffset, done})
	}
	return done
}

// FollowerFetch records that follower fetched at offset at now. It
// returns whether the high watermark moved and the follower to add to the
// ISR, if it just caught up (the caller persists the change, then calls
// ApplyISR).
func (l *Leader) FollowerFetch(id int32, offset int64, now time.Time) (hwMoved bool, expand int32, ok bool) {
	f := l.followers[id]
	if f == nil || l.resigned {
		return false, 0, false
	}
	f.leo = min(offset, l.leo) // may go back: a follower that truncated
	if offset >= f.lastFetchLEO {
		f.lastCaughtUp, f.everCaughtUp = now, true
	}
	f.lastFetchLEO = l.leo
	hwMoved = l.advance()
	if !slices.Contains(l.isr, id) && f.leo >= l.hw && f.everCaughtUp {
		return hwMoved, id, true
	}
	return hwMoved, 0, false
}

// Laggards returns the ISR followers not caught up within lagMax at now;
// the caller persists their removal, then calls ApplyISR.
func (l *Leader) Laggards(now time.Time) []int32 {
	var out []int32
	for _, id := range l.isr {
		if f := l.followers[id]; f != nil && now.Sub(f.lastCaughtUp) > l.lagMax {
			out = append(out, id)
		}
	}
	return out
}

// ApplyISR installs an ISR that has been persisted. It fails waiters if
// the ISR fell below min.insync.replicas and returns whether the high
// watermark moved (a smaller ISR may commit more).
func (l *Leader) ApplyISR(isr []int32) bool {
	l.isr = slices.Clone(isr)
	if !slices.Contains(l.isr, l.self) {
		l.isr = append(l.isr, l.self)
	}
	moved := l.advance()
	if len(l.isr) < l.minISR {
		l.failAll(ErrNotEnoughReplicas)
	}
	return moved
}

// SetMinISR applies a changed min.insync.replicas to later writes.
func (l *Leader) SetMinISR(n int) { l.minISR = n }

// Resign ends this leadership: every waiter fails.
func (l *Leader) Resign() {
	l.resigned = true
	l.failAll(ErrLeadershipLost)
}

func (l *Leader) failAll(err error) {
	for _, w := range l.waiters {
		w.done <- err
	}
	l.waiters = nil
}

// advance recomputes the high watermark as the minimum LEO over the ISR
// and answers the waiters it commits.
func (l *Leader) advance() bool {
	hw := l.leo
	for _, id := range l.isr {
		if f := l.followers[id]; f != nil && f.leo < hw {
			hw = f.leo
		}
	}
	if hw <= l.hw {
		return false
	}
	l.hw = hw
	// As in Kafka, a write committed by an ISR smaller than
	// min.insync.replicas is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	// it is in the log, but not as durable as the producer asked.
	var result error
	if len(l.isr) < l.minISR {
		result = ErrNotEnoughReplicas
	}
	n := 0
	for n < len(l.waiters) && l.waiters[n].offset < hw {
		l.waiters[n].done <- result
		n++
	}
	l.waiters = l.waiters[n:]
	return true
}
