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
	l.FollowerFetch(2, 10, t0)
	if _, ok := answered(t, w); ok || l.HighWatermark() != 0 {
		t.Fatal("committed with follower 3 behind")
	}
	moved, _, _ := l.FollowerFetch(3, 6, t0)
	if !moved || l.HighWatermark() != 6 {
		t.Fatalf("HW %d, want 6", l.HighWatermark())
	}
	if _, ok := answered(t, w); ok {
		t.Fatal("offset 9 answered at HW 6")
	}
	l.FollowerFetch(3, 10, t0)
	if err, ok := answered(t, w); !ok || err != nil {
		t.Fatalf("offset 9 at HW 10: %v %v", err, ok)
	}
}

func TestLaggingFollowerLeavesAndRejoinsISR(t *testing.T) {
	lag := 10 * time.Second
	l := NewLeader(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 2, lag, 0, 0, t0)
	l.Appended(5)
	l.FollowerFetch(2, 0, t0)
	l.FollowerFetch(3, 0, t0)
	// 2 keeps up, 3 stops fetching.
	for s := 1; s <= 12; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		l.Appended(int64(5 + s))
		l.FollowerFetch(2, int64(5+s-1), now)
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
	if _, _, ok := l.FollowerFetch(3, 0, now); ok {
		t.Fatal("follower far behind proposed for ISR")
	}
	_, id, ok := l.FollowerFetch(3, l.HighWatermark(), now.Add(time.Second))
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
		l.FollowerFetch(2, int64((i*7)%(i+1)), t0.Add(time.Duration(i)*time.Millisecond))
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
