package replication

import (
	"errors"
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

func answered(t *testing.T, ch <-chan error) (error, bool) {
	t.Helper()
	select {
	case err := <-ch:
		return err, true
	default:
		return nil, false
	}
}

func TestHighWatermarkIsMinLEOOverISR(t *testing.T) {
	l := NewLeader(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 2, 10*time.Second, 0, 0, t0)
	l.Appended(10)
	w := l.Await(9)
	if l.HighWatermark() != 0 {
		t.Fatal("HW moved before followers fetched")
	}
	l.FollowerFetch(2, 10, -1, t0)
	if _, ok := answered(t, w); ok || l.HighWatermark() != 0 {
		t.Fatal("committed with follower 3 behind")
	}
	moved, _, _ := l.FollowerFetch(3, 6, -1, t0)
	if !moved || l.HighWatermark() != 6 {
		t.Fatalf("HW %d, want 6", l.HighWatermark())
	}
	if _, ok := answered(t, w); ok {
		t.Fatal("offset 9 answered at HW 6")
	}
	l.FollowerFetch(3, 10, -1, t0)
	if err, ok := answered(t, w); !ok || err != nil {
		t.Fatalf("offset 9 at HW 10: %v %v", err, ok)
	}
}

func TestLaggingFollowerLeavesAndRejoinsISR(t *testing.T) {
	lag := 10 * time.Second
	l := NewLeader(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 2, lag, 0, 0, t0)
	l.Appended(5)
	l.FollowerFetch(2, 0, -1, t0)
	l.FollowerFetch(3, 0, -1, t0)
	// 2 keeps up, 3 stops fetching.
	for s := 1; s <= 12; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		l.Appended(int64(5 + s))
		l.FollowerFetch(2, int64(5+s-1), -1, now)
	}
	now := t0.Add(12 * time.Second)
	if got := l.Laggards(now); !slices.Equal(got, []int32{3}) {
		t.Fatalf("laggards %v, want [3]", got)
	}
	hwBefore := l.HighWatermark()
	if !l.ApplyISR([]int32{1, 2}) || l.HighWatermark() <= hwBefore {
		t.Fatal("dropping the laggard must let the HW advance")
	}
	// 3 comes back, fetches from where it was: not yet in sync.
	if _, _, ok := l.FollowerFetch(3, 0, -1, now); ok {
		t.Fatal("follower far behind proposed for ISR")
	}
	_, id, ok := l.FollowerFetch(3, l.HighWatermark(), -1, now.Add(time.Second))
	if !ok || id != 3 {
		t.Fatal("caught-up follower not proposed for ISR")
	}
}

func TestMinISRAndResign(t *testing.T) {
	l := NewLeader(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 2, 10*time.Second, 0, 0, t0)
	l.Appended(3)
	w := l.Await(2)
	l.ApplyISR([]int32{1})
	if err, ok := answered(t, w); !ok || !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("waiter after ISR fell below min: %v %v", err, ok)
	}
	if !errors.Is(l.CanAccept(), ErrNotEnoughReplicas) {
		t.Fatal("accepting acks=all below min.insync.replicas")
	}
	l.ApplyISR([]int32{1, 2})
	w = l.Await(5)
	l.Resign()
	if err, ok := answered(t, w); !ok || !errors.Is(err, ErrLeadershipLost) {
		t.Fatalf("waiter after resign: %v %v", err, ok)
	}
	if _, ok := answered(t, l.Await(0)); !ok {
		t.Fatal("await after resign must answer at once")
	}
}

func TestSingleReplicaCommitsOnAppend(t *testing.T) {
	l := NewLeader(1, []int32{1}, []int32{1}, 1, time.Second, 0, 0, t0)
	w := l.Await(0)
	if !l.Appended(1) {
		t.Fatal("HW did not move")
	}
	if err, ok := answered(t, w); !ok || err != nil {
		t.Fatalf("%v %v", err, ok)
	}
}

// The high watermark never decreases, whatever the followers report.
func TestHighWatermarkMonotonic(t *testing.T) {
	l := NewLeader(1, []int32{1, 2}, []int32{1, 2}, 1, time.Second, 0, 0, t0)
	prev := int64(0)
	for i := 0; i < 200; i++ {
		l.Appended(int64(i))
		l.FollowerFetch(2, int64((i*7)%(i+1)), -1, t0.Add(time.Duration(i)*time.Millisecond))
		if hw := l.HighWatermark(); hw < prev {
			t.Fatalf("HW went back from %d to %d", prev, hw)
		} else {
			prev = hw
		}
	}
}

// A write appended before the ISR shrank below min.insync.replicas, whose
// waiter registers only after the shrink committed it (one produce request
// awaiting its partitions in turn), must not be answered as a success:
// only the leader holds it. Found by the chaos suite's network partition.
func TestAwaitAfterShrinkBelowMinISR(t *testing.T) {
	l := NewLeader(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 2, 10*time.Second, 0, 0, t0)
	l.Appended(5)
	l.ApplyISR([]int32{1}) // followers cut off: HW jumps to the leader's LEO
	if l.HighWatermark() != 5 {
		t.Fatalf("high watermark %d, want 5", l.HighWatermark())
	}
	if err, ok := answered(t, l.Await(4)); !ok || !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("late waiter below min ISR: %v %v, want ErrNotEnoughReplicas", err, ok)
	}
	l.ApplyISR([]int32{1, 2})
	if err, ok := answered(t, l.Await(4)); !ok || err != nil {
		t.Fatalf("late waiter with the ISR back at min: %v %v", err, ok)
	}
}

// TestLowWatermarkIsMinLogStartOverISR: the low watermark is the smallest
// log start among the leader and its in-sync followers, unknown (-1) until
// every in-sync follower has reported one, and FollowerFetch says when it
// moved so DeleteRecords waiters wake.
func TestLowWatermarkIsMinLogStartOverISR(t *testing.T) {
	l := NewLeader(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 1, 10*time.Second, 100, 100, t0)
	if got := l.LowWatermark(50); got != -1 {
		t.Fatalf("low watermark %d before followers reported, want -1", got)
	}
	if moved, _, _ := l.FollowerFetch(2, 100, 40, t0); moved {
		t.Fatal("moved with follower 3 still unknown")
	}
	if moved, _, _ := l.FollowerFetch(3, 100, 30, t0); !moved {
		t.Fatal("follower 3's first report did not move the low watermark")
	}
	if got := l.LowWatermark(50); got != 30 {
		t.Fatalf("low watermark %d, want follower 3's 30", got)
	}
	if got := l.LowWatermark(20); got != 20 {
		t.Fatalf("low watermark %d, want the leader's 20", got)
	}
	if moved, _, _ := l.FollowerFetch(3, 100, 30, t0); moved {
		t.Fatal("moved on an unchanged report")
	}
	if moved, _, _ := l.FollowerFetch(3, 100, 50, t0); !moved {
		t.Fatal("follower 3 reaching 50 did not move the low watermark")
	}
	if got := l.LowWatermark(50); got != 40 {
		t.Fatalf("low watermark %d, want follower 2's 40", got)
	}
	l.FollowerFetch(2, 100, 50, t0)
	if got := l.LowWatermark(50); got != 50 {
		t.Fatalf("low watermark %d, want 50", got)
	}
	if got := l.LowWatermark(60); got != 50 {
		t.Fatalf("low watermark %d with the leader at 60, want the followers' 50", got)
	}
}

// TestLowWatermarkCountsOnlyTheISR: a follower out of the ISR (dead, or
// lagging) does not hold the low watermark back; when it rejoins, its log
// start counts again.
func TestLowWatermarkCountsOnlyTheISR(t *testing.T) {
	l := NewLeader(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 1, 10*time.Second, 100, 100, t0)
	l.FollowerFetch(2, 100, 60, t0)
	l.FollowerFetch(3, 100, 10, t0)
	if got := l.LowWatermark(60); got != 10 {
		t.Fatalf("low watermark %d, want 10", got)
	}
	if !l.ApplyISR([]int32{1, 2}) {
		t.Fatal("dropping follower 3 did not report the low watermark moving")
	}
	if got := l.LowWatermark(60); got != 60 {
		t.Fatalf("low watermark %d without follower 3, want 60", got)
	}
	// A follower out of the ISR reports; nothing moves.
	if moved, _, _ := l.FollowerFetch(3, 50, 20, t0); moved {
		t.Fatal("an out-of-ISR follower's report moved the low watermark")
	}
	// It catches up and rejoins: its start counts again.
	_, id, ok := l.FollowerFetch(3, 100, 20, t0)
	if !ok || id != 3 {
		t.Fatalf("follower 3 not proposed for the ISR: %d %v", id, ok)
	}
	if !l.ApplyISR([]int32{1, 2, 3}) {
		t.Fatal("follower 3 rejoining did not report the low watermark moving")
	}
	if got := l.LowWatermark(60); got != 20 {
		t.Fatalf("low watermark %d after follower 3 rejoined, want 20", got)
	}
	// Alone in the ISR, the leader's own start is the low watermark.
	l.ApplyISR([]int32{1})
	if got := l.LowWatermark(70); got != 70 {
		t.Fatalf("low watermark %d with the leader alone, want 70", got)
	}
}

// Holding lists the in-sync followers whose reported log holds the
// offset (KIP-392 read replicas): not one behind it, not one that
// deleted it, not one that never reported its log start, not one out of
// the ISR.
func TestHoldingListsInSyncFollowersWithTheOffset(t *testing.T) {
	t0 := time.Unix(0, 0)
	l := NewLeader(1, []int32{1, 2, 3, 4, 5}, []int32{1, 2, 3, 4}, 1, 10*time.Second, 0, 0, t0)
	l.Appended(100)
	l.FollowerFetch(2, 100, 0, t0)  // caught up, holds [0, 100)
	l.FollowerFetch(3, 40, 0, t0)   // behind
	l.FollowerFetch(4, 100, 60, t0) // deleted below 60
	l.FollowerFetch(5, 100, 0, t0)  // not in the ISR (joins on this fetch only once applied)
	ids := func(ps []ReplicaPosition) []int32 {
		var out []int32
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	for offset, want := range map[int64][]int32{50: {2}, 70: {2, 4}, 40: {2, 3}, 100: {2, 4}, 101: nil} {
		if got := ids(l.Holding(offset)); !slices.Equal(got, want) {
			t.Errorf("Holding(%d) = %v, want %v", offset, got, want)
		}
	}
	if got := NewLeader(1, []int32{1, 2}, []int32{1, 2}, 1, time.Second, 0, 0, t0).Holding(0); got != nil {
		t.Errorf("a follower that never fetched is listed: %v", got)
	}
}
