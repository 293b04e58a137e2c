package replication

import (
	"errors"
	"math"
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
	logStart     int64 // as it last reported; -1 until then
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
			l.followers[r] = &follower{logStart: -1, lastCaughtUp: now, everCaughtUp: slices.Contains(isr, r)}
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

// FollowerFetch records that follower fetched at offset at now, holding
// records from logStart (the log start its fetch carried, Fetch v5+; -1:
// not reported, which keeps the low watermark at -1). It returns whether
// the high watermark or the followers' low watermark moved (the caller
// wakes waiters of either) and the follower to add to the ISR, if it just
// caught up (the caller persists the change, then calls ApplyISR).
func (l *Leader) FollowerFetch(id int32, offset, logStart int64, now time.Time) (moved bool, expand int32, ok bool) {
	f := l.followers[id]
	if f == nil || l.resigned {
		return false, 0, false
	}
	lowBefore := l.followersLogStart()
	f.logStart = logStart      // may go back: a follower that restarted its log
	f.leo = min(offset, l.leo) // may go back: a follower that truncated
	if offset >= f.lastFetchLEO {
		f.lastCaughtUp, f.everCaughtUp = now, true
	}
	f.lastFetchLEO = l.leo
	moved = l.advance() || l.followersLogStart() != lowBefore
	if !slices.Contains(l.isr, id) && f.leo >= l.hw && f.everCaughtUp {
		return moved, id, true
	}
	return moved, 0, false
}

// ReplicaPosition is a follower's log as the leader last heard of it.
type ReplicaPosition struct {
	ID       int32
	LogEnd   int64
	LogStart int64
}

// Holding returns the in-sync followers whose log, as their last fetch
// reported it, holds offset or ends at it (KIP-392: the replicas a
// consumer at offset may read from). Followers that never reported their
// log start are left out: they might have deleted what the consumer
// wants.
func (l *Leader) Holding(offset int64) []ReplicaPosition {
	var out []ReplicaPosition
	for _, id := range l.isr {
		if f := l.followers[id]; f != nil && f.leo >= offset && f.logStart >= 0 && f.logStart <= offset {
			out = append(out, ReplicaPosition{ID: id, LogEnd: f.leo, LogStart: f.logStart})
		}
	}
	return out
}

// LowWatermark is the offset below which no in-sync replica holds records
// any more: the minimum of leaderStart (the local log start) and the log
// start each follower in the ISR last reported, -1 while one of them has
// not reported yet. DeleteRecords answers once it reaches the asked
// offset, so that no replica that may be elected leader still serves
// what was deleted.
//
// Kafka (Partition.lowWatermarkIfLeader) takes the minimum over every
// assigned replica on a live broker, in the ISR or not. The ISR is what
// the leader knows here: the controller removes dead brokers from it, as
// Kafka fences them, and only its members can be elected cleanly. A live
// follower out of the ISR therefore does not hold DeleteRecords here, as
// it does in Kafka until it catches up; it takes the new start on its
// next fetch all the same.
func (l *Leader) LowWatermark(leaderStart int64) int64 {
	return min(leaderStart, l.followersLogStart())
}

// followersLogStart is the minimum log start over the ISR's followers
// (math.MaxInt64 when the leader is alone in it).
func (l *Leader) followersLogStart() int64 {
	low := int64(math.MaxInt64)
	for _, id := range l.isr {
		if f := l.followers[id]; f != nil {
			low = min(low, f.logStart)
		}
	}
	return low
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
// watermark or the followers' low watermark moved (a smaller ISR may
// commit more, and no longer waits for a removed follower's log start).
func (l *Leader) ApplyISR(isr []int32) bool {
	lowBefore := l.followersLogStart()
	l.isr = slices.Clone(isr)
	if !slices.Contains(l.isr, l.self) {
		l.isr = append(l.isr, l.self)
	}
	moved := l.advance()
	if len(l.isr) < l.minISR {
		l.failAll(ErrNotEnoughReplicas)
	}
	return moved || l.followersLogStart() != lowBefore
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
