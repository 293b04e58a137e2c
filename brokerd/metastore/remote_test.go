package metastore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kafki/kafki/tiering/remote"
	"github.com/kafki/kafki/tiering/remote/remotetest"
)

// TestRemoteContract: the DynamoDB store keeps remote.Store's contract,
// exactly as FileStore does (package remotetest), with two instances on
// one table as two brokers.
func TestRemoteContract(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) func() remote.Store {
		client, table := newTable(t)
		return func() remote.Store { return NewRemote(client, table, nil) }
	}, true)
}

var (
	tp      = remotetest.TP
	seg     = remotetest.Seg
	mustOK  = remotetest.MustOK
	wantErr = remotetest.WantErr
)

func TestDynamoBrokersSeeEachOther(t *testing.T) {
	ctx := t.Context()
	client, table := newTable(t)
	a, b := NewRemote(client, table, nil), NewRemote(client, table, nil)

	mustOK(t, a.Create(ctx, seg("s1", 0, 99, 1)))
	mustOK(t, a.Transition(ctx, tp, "s1", 1, remote.CopyStarted, remote.CopyFinished))
	for i := 0; i < 2; i++ { // the second List is served from b's cache
		segs, err := b.List(ctx, tp)
		mustOK(t, err)
		if fin := remote.Finished(segs); len(fin) != 1 || fin[0].ID != "s1" {
			t.Fatalf("b sees %+v", segs)
		}
	}
	// b becomes leader; a, deposed, can do nothing more.
	mustOK(t, b.Fence(ctx, tp, 2))
	wantErr(t, "deposed create", a.Create(ctx, seg("s2", 100, 199, 1)), remote.ErrStaleEpoch)
	mustOK(t, b.Create(ctx, seg("s2", 100, 199, 2)))
	wantErr(t, "deposed commit", a.Transition(ctx, tp, "s2", 1, remote.CopyStarted, remote.CopyFinished), remote.ErrStaleEpoch)
	mustOK(t, b.Transition(ctx, tp, "s2", 2, remote.CopyStarted, remote.CopyFinished))
	// The commit by b is visible to a, which listed (and cached) before.
	segs, err := a.List(ctx, tp)
	mustOK(t, err)
	if fin := remote.Finished(segs); len(fin) != 2 || fin[1].ID != "s2" {
		t.Fatalf("a sees %+v", segs)
	}
	// And b's deletion too.
	mustOK(t, b.Transition(ctx, tp, "s1", 2, remote.CopyFinished, remote.DeleteStarted))
	mustOK(t, b.Remove(ctx, tp, "s1", 2))
	segs, err = a.List(ctx, tp)
	mustOK(t, err)
	if len(segs) != 1 || segs[0].ID != "s2" {
		t.Fatalf("a sees %+v after b's removal", segs)
	}
	// Callers own what List returns: changing it changes no later List.
	segs[0].State = remote.DeleteStarted
	if again, _ := a.List(ctx, tp); again[0].State != remote.CopyFinished {
		t.Fatalf("List shares its slice: %+v", again)
	}
}

// TestDynamoConcurrentMix races commits, deletions of the newest
// segment, removals and a fence over two brokers, then checks the
// invariants: finished segments' last offsets strictly increase, fend is
// their maximum, and no write at the old epoch landed after the fence.
func TestDynamoConcurrentMix(t *testing.T) {
	ctx := t.Context()
	client, table := newTable(t)
	stores := []*Remote{NewRemote(client, table, nil), NewRemote(client, table, nil)}
	var (
		wg      sync.WaitGroup
		fenced  atomic.Bool
		staleOK atomic.Int32 // epoch-1 writes that succeeded after the fence returned
		ops     atomic.Int32
		started = make(chan struct{}) // closed once the writers are under way
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := stores[w%2]
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < 15; i++ {
				epoch := int32(1)
				if fenced.Load() && w%2 == 1 {
					epoch = 2
				}
				after := fenced.Load()
				last := int64(rng.IntN(5)*100 + 99)
				id := fmt.Sprintf("w%d-%d", w, i)
				err := s.Create(ctx, seg(id, last-99, last, epoch))
				if err == nil {
					err = s.Transition(ctx, tp, id, epoch, remote.CopyStarted, remote.CopyFinished)
				}
				if err == nil && rng.IntN(2) == 0 {
					// Delete the newest finished segment (the slow path).
					segs, lerr := s.List(ctx, tp)
					if lerr != nil {
						t.Error(lerr)
						return
					}
					if fin := remote.Finished(segs); len(fin) > 0 {
						top := fin[len(fin)-1]
						err = s.Transition(ctx, tp, top.ID, epoch, remote.CopyFinished, remote.DeleteStarted)
						if err == nil {
							err = s.Remove(ctx, tp, top.ID, epoch)
						}
					}
				}
				if ops.Add(1) == 8 {
					close(started)
				}
				switch {
				case err == nil && epoch == 1 && after:
					staleOK.Add(1)
				case err == nil, errors.Is(err, remote.ErrNoProgress), errors.Is(err, remote.ErrStateConflict),
					errors.Is(err, remote.ErrNotFound), errors.Is(err, remote.ErrStaleEpoch):
				default:
					t.Error(err)
				}
			}
		}(w)
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	select {
	case <-started:
	case <-allDone:
		t.Fatal("writers ended before the fence")
	}
	mustOK(t, stores[1].Fence(ctx, tp, 2))
	fenced.Store(true)
	wg.Wait()
	if n := staleOK.Load(); n != 0 {
		t.Fatalf("%d writes at epoch 1 succeeded after the fence to 2", n)
	}
	segs, err := stores[0].List(ctx, tp)
	mustOK(t, err)
	fin := remote.Finished(segs)
	for i := 1; i < len(fin); i++ {
		if fin[i].LastOffset <= fin[i-1].LastOffset {
			t.Fatalf("finished last offsets not increasing: %+v", fin)
		}
	}
	p, err := stores[0].readPart(ctx, tp)
	mustOK(t, err)
	if len(fin) == 0 && p.hasFend || len(fin) > 0 && (!p.hasFend || p.fend != fin[len(fin)-1].LastOffset) {
		t.Fatalf("fend %d (%v), finished %+v", p.fend, p.hasFend, fin)
	}
	if p.fence != 2 {
		t.Fatalf("fence %d, want 2", p.fence)
	}
}

// TestDynamoNewestLeavesWhileCommit: the newest finished segment's
// deletion recomputes fend from a Query; a commit landing between that
// Query and the deletion's transaction must make the transaction fail (it
// would otherwise lower fend below the new commit), and the replanned
// deletion keeps fend at the new commit's end.
func TestDynamoNewestLeavesWhileCommit(t *testing.T) {
	ctx := t.Context()
	client, table := newTable(t)
	a, b := NewRemote(client, table, nil), NewRemote(client, table, nil)
	for _, sg := range []remote.Segment{seg("s1", 0, 99, 1), seg("s2", 100, 199, 1)} {
		mustOK(t, a.Create(ctx, sg))
		mustOK(t, a.Transition(ctx, tp, sg.ID, 1, remote.CopyStarted, remote.CopyFinished))
	}
	mustOK(t, b.Create(ctx, seg("s3", 200, 299, 1)))

	// a plans the deletion of s2 (the newest), querying now...
	p, sg, err := a.snapshot(ctx, tp, "s2")
	mustOK(t, err)
	items, err := a.transitionPlan(ctx, tp, "s2", 1, remote.CopyFinished, remote.DeleteStarted)(p, sg)
	mustOK(t, err)
	// ...b commits s3 before a's transaction runs...
	mustOK(t, b.Transition(ctx, tp, "s3", 1, remote.CopyStarted, remote.CopyFinished))
	// ...so a's transaction must not land.
	_, err = client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if !raced(err) {
		t.Fatalf("stale deletion plan: %v", err)
	}
	mustOK(t, a.Transition(ctx, tp, "s2", 1, remote.CopyFinished, remote.DeleteStarted))
	mustOK(t, b.Create(ctx, seg("s4", 100, 199, 1)))
	wantErr(t, "commit below s3", b.Transition(ctx, tp, "s4", 1, remote.CopyStarted, remote.CopyFinished), remote.ErrNoProgress)
	if p, err := a.readPart(ctx, tp); err != nil || p.fend != 299 {
		t.Fatalf("fend %d, want 299: %v", p.fend, err)
	}
}
