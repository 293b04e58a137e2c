package tiering

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafki/kafki/tiering/cleanup"
	"github.com/kafki/kafki/tiering/fetch"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

var errCrash = errors.New("injected crash")

// crashingMeta is a metadata store whose process "dies" at a chosen
// transition: that write and every later one fail, as nothing more is
// written by a dead broker.
type crashingMeta struct {
	remote.Store
	crashAt remote.State // the transition target that crashes
	dead    atomic.Bool
}

func (m *crashingMeta) Transition(ctx context.Context, tp remote.TopicPartition, id string, epoch int32, from, to remote.State) error {
	if to == m.crashAt {
		m.dead.Store(true)
	}
	if m.dead.Load() {
		return errCrash
	}
	return m.Store.Transition(ctx, tp, id, epoch, from, to)
}

func (m *crashingMeta) Remove(ctx context.Context, tp remote.TopicPartition, id string, epoch int32) error {
	if m.dead.Load() {
		return errCrash
	}
	return m.Store.Remove(ctx, tp, id, epoch)
}

// TestCrashBetweenUploadAndCommit: the objects are stored, the commit
// never happens. Nothing is served from them, and after the grace period
// the sweeper removes the record and every object.
func TestCrashBetweenUploadAndCommit(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			fs, err := remote.OpenFileStore(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			meta := &crashingMeta{Store: fs}
			e := newEnv(t, newStore(t, kind, nil), meta, smallReader)
			segs := e.writeSegments(2, 10, 3, 100)
			e.uploadAll(segs[:1], 1)

			meta.crashAt = remote.CopyFinished
			if _, err := e.tier.OnSegmentSealed(ctx, sealed(segs[1], 1)); !errors.Is(err, errCrash) {
				t.Fatalf("upload with crashed commit: %v", err)
			}
			if fin := e.finished(); len(fin) != 1 {
				t.Fatalf("%d finished segments after the crash, want 1", len(fin))
			}
			if _, err := e.tier.ReadRemote(ctx, tp, segs[1].Headers[0].BaseOffset, 1000); !errors.Is(err, fetch.ErrOffsetOutOfRange) {
				t.Fatalf("read of uncommitted segment: %v", err)
			}
			orphans := len(e.objects()) - 5
			if orphans != 5 {
				t.Fatalf("%d objects of the crashed upload, want 5 (the crash leaves them)", orphans)
			}

			// Restart: the metadata store works again.
			meta.crashAt = 0
			meta.dead.Store(false)
			if res, err := e.tier.Sweep(ctx, tp, 1); err != nil || res != (cleanup.SweepResult{}) {
				t.Fatalf("sweep within grace: %+v %v (must keep a possibly running upload)", res, err)
			}
			e.clock.advance(2 * time.Hour)
			res, err := e.tier.Sweep(ctx, tp, 1)
			if err != nil || res.AbandonedCopies != 1 {
				t.Fatalf("sweep: %+v %v", res, err)
			}
			objs := e.objects()
			if len(objs) != 5 {
				t.Fatalf("%d objects after the sweep, want the committed segment's 5", len(objs))
			}
			all, _ := e.meta.List(ctx, tp)
			if len(all) != 1 || all[0].State != remote.CopyFinished {
				t.Fatalf("records after sweep: %+v", all)
			}
			// The segment can be uploaded again and is then served.
			e.uploadAll(segs[1:], 1)
			res2, err := e.tier.ReadRemote(ctx, tp, segs[1].Headers[0].BaseOffset, 1<<20)
			if err != nil || !bytes.Equal(res2.Records, segs[1].Log) {
				t.Fatalf("re-uploaded segment: %v", err)
			}
		})
	}
}

// TestUnreferencedObjectsSwept: objects no record names (a crash before
// the record or after a partial cleanup) go after the grace period; the
// live segments' objects stay.
func TestUnreferencedObjectsSwept(t *testing.T) {
	ctx := context.Background()
	store := newStore(t, "local", nil)
	e := newEnv(t, store, nil, smallReader)
	// Local objects get the real modification time: use the real clock.
	e.clock.ns.Store(time.Now().UnixNano())
	segs := e.writeSegments(2, 5, 2, 10)
	e.uploadAll(segs, 1)
	stray := remote.ObjectKey(tp, "00000000000000000099-deadbeef", remote.KindLog)
	if err := store.Put(ctx, stray, bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, remote.PartitionPrefix(tp)+"junk", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	if res, err := e.tier.Sweep(ctx, tp, 1); err != nil || res.OrphanObjects != 0 {
		t.Fatalf("sweep within grace: %+v %v", res, err)
	}
	e.clock.advance(2 * time.Hour)
	if res, err := e.tier.Sweep(ctx, tp, 1); err != nil || res.OrphanObjects != 2 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	if n := len(e.objects()); n != 10 {
		t.Fatalf("%d objects left, want the 10 of the live segments", n)
	}
	_, all := allBatches(segs)
	if got := consumeAll(t, e.tier, segs[1].Next, 1<<20); !bytes.Equal(got, all) {
		t.Fatal("live segments damaged by the sweep")
	}
}

// failingDeletes is an object store whose Delete fails while armed: a
// broker crashing after marking a segment DELETE_STARTED.
type failingDeletes struct {
	objstore.Store
	armed atomic.Bool
}

func (f *failingDeletes) Delete(ctx context.Context, key string) error {
	if f.armed.Load() {
		return errCrash
	}
	return f.Store.Delete(ctx, key)
}

// TestCrashBetweenDeleteMarkAndObjectDeletion: retention marks the
// oldest segment, then "crashes" before deleting its objects. The segment
// is no longer served, and the next sweep finishes the delete.
func TestCrashBetweenDeleteMarkAndObjectDeletion(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			store := &failingDeletes{Store: newStore(t, kind, nil)}
			e := newEnv(t, store, nil, smallReader)
			segs := e.writeSegments(3, 10, 3, 100)
			e.uploadAll(segs, 1)
			total := int64(0)
			for _, s := range segs {
				total += int64(len(s.Log))
			}

			store.armed.Store(true)
			// retention.bytes that only the oldest segment exceeds.
			policy := cleanup.Policy{RetentionMs: -1, RetentionBytes: total - int64(len(segs[0].Log))}
			if _, err := e.tier.ApplyRetention(ctx, tp, 1, policy, 0); !errors.Is(err, errCrash) {
				t.Fatalf("retention with failing deletes: %v", err)
			}
			recs, _ := e.meta.List(ctx, tp)
			if len(recs) != 3 || recs[0].State != remote.DeleteStarted {
				t.Fatalf("records after the crash: %+v", recs)
			}
			if _, err := e.tier.ReadRemote(ctx, tp, 0, 1000); !errors.Is(err, fetch.ErrOffsetOutOfRange) {
				t.Fatalf("read of a segment being deleted: %v", err)
			}
			if start, _, _, _ := e.tier.RemoteBounds(ctx, tp); start != segs[1].Headers[0].BaseOffset {
				t.Fatalf("remote start %d, want %d", start, segs[1].Headers[0].BaseOffset)
			}
			if n := len(e.objects()); n != 15 {
				t.Fatalf("%d objects, want all 15 still there", n)
			}

			store.armed.Store(false)
			res, err := e.tier.Sweep(ctx, tp, 1)
			if err != nil || res.FinishedDeletes != 1 {
				t.Fatalf("sweep: %+v %v", res, err)
			}
			if n := len(e.objects()); n != 10 {
				t.Fatalf("%d objects after the sweep, want 10", n)
			}
			if recs, _ := e.meta.List(ctx, tp); len(recs) != 2 {
				t.Fatalf("records after the sweep: %+v", recs)
			}
		})
	}
}

// TestStaleEpochCommitRejected: a leader deposed during its upload
// cannot commit; its leftovers are swept by the new leader.
func TestStaleEpochCommitRejected(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			fs, err := remote.OpenFileStore(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			// The new leader (epoch 6) fences just before the old one's
			// commit.
			meta := &fencingMeta{Store: fs, fenceAt: 6}
			e := newEnv(t, newStore(t, kind, nil), meta, smallReader)
			segs := e.writeSegments(1, 10, 3, 100)
			_, err = e.tier.OnSegmentSealed(ctx, sealed(segs[0], 5))
			if !errors.Is(err, remote.ErrStaleEpoch) {
				t.Fatalf("upload by deposed leader: %v", err)
			}
			if fin := e.finished(); len(fin) != 0 {
				t.Fatalf("deposed leader committed: %+v", fin)
			}
			if _, err := e.tier.Sweep(ctx, tp, 5); !errors.Is(err, remote.ErrStaleEpoch) {
				t.Fatalf("sweep by deposed leader: %v", err)
			}
			e.clock.advance(2 * time.Hour)
			if _, err := e.tier.Sweep(ctx, tp, 6); err != nil {
				t.Fatal(err)
			}
			if n := len(e.objects()); n != 0 {
				t.Fatalf("%d objects left after the new leader's sweep", n)
			}
			// The new leader uploads the same segment.
			e.uploadAll(segs, 6)
			if fin := e.finished(); len(fin) != 1 || fin[0].LeaderEpoch != 6 {
				t.Fatalf("new leader's upload: %+v", fin)
			}
		})
	}
}

// fencingMeta raises the fence to fenceAt right before the first commit,
// as a new leader taking over mid-upload would.
type fencingMeta struct {
	remote.Store
	fenceAt int32
	done    atomic.Bool
}

func (m *fencingMeta) Transition(ctx context.Context, tp remote.TopicPartition, id string, epoch int32, from, to remote.State) error {
	if to == remote.CopyFinished && !m.done.Swap(true) {
		if err := m.Store.Fence(ctx, tp, m.fenceAt); err != nil {
			return err
		}
	}
	return m.Store.Transition(ctx, tp, id, epoch, from, to)
}
