// Package remotetest is the contract every remote.Store keeps, as tests
// that any implementation runs against itself (FileStore in package
// remote, the DynamoDB store in package metastore), so the two cannot
// drift apart.
package remotetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kafki/kafki/tiering/remote"
)

// Run runs the contract. Each call of backing gives a fresh, empty
// backing; each call of the function it returns is a new instance on that
// backing (a restart, or another broker). concurrent says whether two
// instances may write to one backing at once (two brokers on one
// DynamoDB table: yes; two FileStores on one directory: no, each broker
// has its own).
func Run(t *testing.T, backing func(t *testing.T) func() remote.Store, concurrent bool) {
	t.Run("LifecycleAndFencing", func(t *testing.T) { lifecycleAndFencing(t, backing(t)) })
	t.Run("FenceByWrite", func(t *testing.T) { fenceByWrite(t, backing(t)) })
	t.Run("FailedWriteChangesNothing", func(t *testing.T) { failedWriteChangesNothing(t, backing(t)) })
	t.Run("NoProgress", func(t *testing.T) { noProgress(t, backing(t)) })
	t.Run("PartitionsApart", func(t *testing.T) { partitionsApart(t, backing(t)) })
	t.Run("ConcurrentWriters", func(t *testing.T) { concurrentWriters(t, backing(t), concurrent) })
}

// TP is the partition the contract's segments belong to.
var TP = remote.TopicPartition{Topic: "orders", Partition: 3}

var tp = TP

// Seg is a segment of TP with one log object.
func Seg(id string, base, last int64, epoch int32) remote.Segment {
	return remote.Segment{
		TopicPartition: tp, ID: id, BaseOffset: base, LastOffset: last, LeaderEpoch: epoch,
		Objects: []remote.Object{{Kind: remote.KindLog, Key: remote.ObjectKey(tp, id, remote.KindLog), Size: 10}},
	}
}

// MustOK fails the test on err.
func MustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WantErr fails the test unless err is target.
func WantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

func lifecycleAndFencing(t *testing.T, open func() remote.Store) {
	ctx := t.Context()
	s := open()
	MustOK(t, s.Create(ctx, Seg("a", 0, 99, 5)))
	WantErr(t, "duplicate create", s.Create(ctx, Seg("a", 0, 99, 5)), remote.ErrExists)
	MustOK(t, s.Transition(ctx, tp, "a", 5, remote.CopyStarted, remote.CopyFinished))
	WantErr(t, "second commit", s.Transition(ctx, tp, "a", 5, remote.CopyStarted, remote.CopyFinished), remote.ErrStateConflict)

	MustOK(t, s.Create(ctx, Seg("dup", 50, 99, 5)))
	WantErr(t, "commit of covered range", s.Transition(ctx, tp, "dup", 5, remote.CopyStarted, remote.CopyFinished), remote.ErrNoProgress)

	MustOK(t, s.Create(ctx, Seg("b", 100, 199, 5)))
	MustOK(t, s.Fence(ctx, tp, 6))
	WantErr(t, "stale commit", s.Transition(ctx, tp, "b", 5, remote.CopyStarted, remote.CopyFinished), remote.ErrStaleEpoch)
	WantErr(t, "stale delete mark", s.Transition(ctx, tp, "a", 5, remote.CopyFinished, remote.DeleteStarted), remote.ErrStaleEpoch)
	WantErr(t, "stale create", s.Create(ctx, Seg("c", 200, 299, 4)), remote.ErrStaleEpoch)
	WantErr(t, "stale remove", s.Remove(ctx, tp, "nope", 5), remote.ErrStaleEpoch)
	WantErr(t, "backwards transition", s.Transition(ctx, tp, "a", 6, remote.CopyFinished, remote.CopyStarted), remote.ErrStateConflict)
	WantErr(t, "remove of a finished segment", s.Remove(ctx, tp, "a", 6), remote.ErrStateConflict)
	WantErr(t, "transition of a missing segment", s.Transition(ctx, tp, "nope", 6, remote.CopyStarted, remote.CopyFinished), remote.ErrNotFound)
	MustOK(t, s.Transition(ctx, tp, "b", 6, remote.CopyStarted, remote.CopyFinished))

	// A new instance (restart, or another broker) sees it all,
	// including the fence.
	s2 := open()
	segs, err := s2.List(ctx, tp)
	MustOK(t, err)
	fin := remote.Finished(segs)
	if len(segs) != 3 || len(fin) != 2 || fin[0].ID != "a" || fin[1].ID != "b" {
		t.Fatalf("after reopen: %+v", segs)
	}
	if segs[1].ID != "dup" || segs[1].State != remote.CopyStarted || segs[1].CreatedAt.IsZero() || segs[1].Objects[0].Key != remote.ObjectKey(tp, "dup", remote.KindLog) {
		t.Fatalf("record not kept whole: %+v", segs[1])
	}
	WantErr(t, "fence lost on reopen", s2.Fence(ctx, tp, 5), remote.ErrStaleEpoch)
	MustOK(t, s2.Transition(ctx, tp, "a", 6, remote.CopyFinished, remote.DeleteStarted))
	MustOK(t, s2.Remove(ctx, tp, "a", 6))
	WantErr(t, "second remove", s2.Remove(ctx, tp, "a", 6), remote.ErrNotFound)
	parts, err := s2.Partitions(ctx)
	if err != nil || len(parts) != 1 || parts[0] != tp {
		t.Fatalf("partitions: %v %v", parts, err)
	}
}

// FenceByWrite: any write at a newer epoch raises the fence, not
// only Fence; an equal epoch is still allowed.
func fenceByWrite(t *testing.T, open func() remote.Store) {
	ctx := t.Context()
	s := open()
	MustOK(t, s.Create(ctx, Seg("a", 0, 99, 6)))
	MustOK(t, s.Create(ctx, Seg("b", 100, 199, 7)))
	WantErr(t, "commit at the older epoch", s.Transition(ctx, tp, "a", 6, remote.CopyStarted, remote.CopyFinished), remote.ErrStaleEpoch)
	WantErr(t, "fence at the older epoch", s.Fence(ctx, tp, 6), remote.ErrStaleEpoch)
	MustOK(t, s.Fence(ctx, tp, 7))
	MustOK(t, s.Transition(ctx, tp, "a", 7, remote.CopyStarted, remote.CopyFinished))
}

// FailedWriteChangesNothing: a write that fails neither creates
// the partition nor raises its fence.
func failedWriteChangesNothing(t *testing.T, open func() remote.Store) {
	ctx := t.Context()
	s := open()
	WantErr(t, "transition on an empty store", s.Transition(ctx, tp, "x", 9, remote.CopyStarted, remote.CopyFinished), remote.ErrNotFound)
	if parts, err := s.Partitions(ctx); err != nil || len(parts) != 0 {
		t.Fatalf("a failed write created a partition: %v %v", parts, err)
	}
	MustOK(t, s.Create(ctx, Seg("a", 0, 99, 1)))
	WantErr(t, "remove at epoch 9", s.Remove(ctx, tp, "a", 9), remote.ErrStateConflict)
	MustOK(t, s.Fence(ctx, tp, 2)) // would fail had the failed remove raised the fence to 9
}

// NoProgress: the rule looks at the finished segments as they
// are now; a range whose segment left COPY_FINISHED may be committed
// again, one still covered by a finished segment may not.
func noProgress(t *testing.T, open func() remote.Store) {
	ctx := t.Context()
	s := open()
	commit := func(id string, base, last int64) error {
		MustOK(t, s.Create(ctx, Seg(id, base, last, 1)))
		return s.Transition(ctx, tp, id, 1, remote.CopyStarted, remote.CopyFinished)
	}
	MustOK(t, commit("a", 0, 99))
	MustOK(t, commit("b", 100, 199))
	MustOK(t, commit("c", 200, 299))
	WantErr(t, "same end", commit("c2", 250, 299), remote.ErrNoProgress)
	// The newest goes (an audit found it damaged): its range is open again.
	MustOK(t, s.Transition(ctx, tp, "c", 1, remote.CopyFinished, remote.DeleteStarted))
	WantErr(t, "still covered by b", commit("b2", 150, 199), remote.ErrNoProgress)
	MustOK(t, commit("c3", 200, 299))
	// An older one goes: the newest still bounds commits.
	MustOK(t, s.Transition(ctx, tp, "a", 1, remote.CopyFinished, remote.DeleteStarted))
	WantErr(t, "below c3", commit("a2", 0, 99), remote.ErrNoProgress)
	// All go (retention): anything may be committed.
	MustOK(t, s.Transition(ctx, tp, "c3", 1, remote.CopyFinished, remote.DeleteStarted))
	MustOK(t, s.Transition(ctx, tp, "b", 1, remote.CopyFinished, remote.DeleteStarted))
	MustOK(t, commit("a3", 0, 49))
	WantErr(t, "below a3", commit("a4", 0, 49), remote.ErrNoProgress)
	segs, err := s.List(ctx, tp)
	MustOK(t, err)
	if fin := remote.Finished(segs); len(fin) != 1 || fin[0].ID != "a3" {
		t.Fatalf("finished: %+v", fin)
	}
}

// PartitionsApart: partition 1's segments are not partition
// 10's (their keys share a prefix), and Partitions is sorted.
func partitionsApart(t *testing.T, open func() remote.Store) {
	ctx := t.Context()
	s := open()
	tps := []remote.TopicPartition{{Topic: "orders", Partition: 10}, {Topic: "orders", Partition: 1}, {Topic: "audit", Partition: 2}, {Topic: "orders", Partition: 2}}
	for i, p := range tps {
		sg := Seg(fmt.Sprintf("s%d", i), 0, 9, 1)
		sg.TopicPartition = p
		MustOK(t, s.Create(ctx, sg))
	}
	MustOK(t, s.Fence(ctx, remote.TopicPartition{Topic: "empty", Partition: 0}, 3))
	got, err := s.Partitions(ctx)
	MustOK(t, err)
	want := []remote.TopicPartition{{Topic: "audit", Partition: 2}, {Topic: "empty", Partition: 0}, {Topic: "orders", Partition: 1}, {Topic: "orders", Partition: 2}, {Topic: "orders", Partition: 10}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	segs, err := s.List(ctx, remote.TopicPartition{Topic: "orders", Partition: 1})
	MustOK(t, err)
	if len(segs) != 1 || segs[0].ID != "s1" {
		t.Fatalf("orders-1: %+v", segs)
	}
	if segs, err := s.List(ctx, remote.TopicPartition{Topic: "empty", Partition: 0}); err != nil || len(segs) != 0 {
		t.Fatalf("empty-0: %v %v", segs, err)
	}
}

// ConcurrentWriters: concurrent uploads of distinct segments by
// the same leader all land; exactly one of the commits of one range wins.
// With concurrent instances the writers are spread over two (two
// brokers).
func concurrentWriters(t *testing.T, open func() remote.Store, concurrent bool) {
	ctx := t.Context()
	stores := []remote.Store{open()}
	if concurrent {
		stores = append(stores, open())
	}
	var wg sync.WaitGroup
	var wins atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(s remote.Store, i int) {
			defer wg.Done()
			id := fmt.Sprintf("dup-%d", i)
			if err := s.Create(ctx, Seg(id, 0, 99, 1)); err != nil {
				t.Error(err)
				return
			}
			switch err := s.Transition(ctx, tp, id, 1, remote.CopyStarted, remote.CopyFinished); {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, remote.ErrNoProgress):
				t.Error(err)
			}
		}(stores[i%len(stores)], i)
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d commits of the same range succeeded, want 1", wins.Load())
	}
	for _, s := range stores {
		segs, err := s.List(ctx, tp)
		MustOK(t, err)
		if len(segs) != 8 || len(remote.Finished(segs)) != 1 {
			t.Fatalf("records: %d, finished %d", len(segs), len(remote.Finished(segs)))
		}
	}
}

// TestDynamoBrokersSeeEachOther: two stores on one table are two brokers;
// each sees the other's writes at once (List's cache included), and a new
// leader's fence stops the old one.
