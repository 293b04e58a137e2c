package remote

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/tiering/mototest"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, &moto)) }

// dynamoTable creates a fresh table shaped like the cluster's (hash key
// "pk") and returns a client whose requests reach moto one at a time, so
// racing conditional writes test our conditions, not moto's locking.
func dynamoTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	client := dynamodb.NewFromConfig(moto.SerialConfig())
	table := fmt.Sprintf("kafki-remote-%d", time.Now().UnixNano())
	_, err := client.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            &table,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamodb.NewTableExistsWaiter(client).Wait(t.Context(), &dynamodb.DescribeTableInput{TableName: &table}, time.Minute); err != nil {
		t.Fatal(err)
	}
	return client, table
}

// backend opens stores over one backing: each call of the returned
// function is a new instance (a restart, or another broker) on the same
// metadata.
type backend func(t *testing.T) func() Store

var backends = map[string]backend{
	"file": func(t *testing.T) func() Store {
		dir := t.TempDir()
		return func() Store {
			s, err := OpenFileStore(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	},
	"dynamo": func(t *testing.T) func() Store {
		client, table := dynamoTable(t)
		return func() Store { return NewDynamoStore(client, table, nil) }
	},
}

// forEachBackend runs test against FileStore and DynamoStore: both must
// keep the Store contract alike.
func forEachBackend(t *testing.T, test func(t *testing.T, open func() Store)) {
	for name, b := range backends {
		t.Run(name, func(t *testing.T) { test(t, b(t)) })
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

func TestStoreLifecycleAndFencing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		ctx := t.Context()
		s := open()
		mustOK(t, s.Create(ctx, seg("a", 0, 99, 5)))
		wantErr(t, "duplicate create", s.Create(ctx, seg("a", 0, 99, 5)), ErrExists)
		mustOK(t, s.Transition(ctx, tp, "a", 5, CopyStarted, CopyFinished))
		wantErr(t, "second commit", s.Transition(ctx, tp, "a", 5, CopyStarted, CopyFinished), ErrStateConflict)

		mustOK(t, s.Create(ctx, seg("dup", 50, 99, 5)))
		wantErr(t, "commit of covered range", s.Transition(ctx, tp, "dup", 5, CopyStarted, CopyFinished), ErrNoProgress)

		mustOK(t, s.Create(ctx, seg("b", 100, 199, 5)))
		mustOK(t, s.Fence(ctx, tp, 6))
		wantErr(t, "stale commit", s.Transition(ctx, tp, "b", 5, CopyStarted, CopyFinished), ErrStaleEpoch)
		wantErr(t, "stale delete mark", s.Transition(ctx, tp, "a", 5, CopyFinished, DeleteStarted), ErrStaleEpoch)
		wantErr(t, "stale create", s.Create(ctx, seg("c", 200, 299, 4)), ErrStaleEpoch)
		wantErr(t, "stale remove", s.Remove(ctx, tp, "nope", 5), ErrStaleEpoch)
		wantErr(t, "backwards transition", s.Transition(ctx, tp, "a", 6, CopyFinished, CopyStarted), ErrStateConflict)
		wantErr(t, "remove of a finished segment", s.Remove(ctx, tp, "a", 6), ErrStateConflict)
		wantErr(t, "transition of a missing segment", s.Transition(ctx, tp, "nope", 6, CopyStarted, CopyFinished), ErrNotFound)
		mustOK(t, s.Transition(ctx, tp, "b", 6, CopyStarted, CopyFinished))

		// A new instance (restart, or another broker) sees it all,
		// including the fence.
		s2 := open()
		segs, err := s2.List(ctx, tp)
		mustOK(t, err)
		fin := Finished(segs)
		if len(segs) != 3 || len(fin) != 2 || fin[0].ID != "a" || fin[1].ID != "b" {
			t.Fatalf("after reopen: %+v", segs)
		}
		if segs[1].ID != "dup" || segs[1].State != CopyStarted || segs[1].CreatedAt.IsZero() || segs[1].Objects[0].Key != ObjectKey(tp, "dup", KindLog) {
			t.Fatalf("record not kept whole: %+v", segs[1])
		}
		wantErr(t, "fence lost on reopen", s2.Fence(ctx, tp, 5), ErrStaleEpoch)
		mustOK(t, s2.Transition(ctx, tp, "a", 6, CopyFinished, DeleteStarted))
		mustOK(t, s2.Remove(ctx, tp, "a", 6))
		wantErr(t, "second remove", s2.Remove(ctx, tp, "a", 6), ErrNotFound)
		parts, err := s2.Partitions(ctx)
		if err != nil || len(parts) != 1 || parts[0] != tp {
			t.Fatalf("partitions: %v %v", parts, err)
		}
	})
}

// TestStoreFenceByWrite: any write at a newer epoch raises the fence, not
// only Fence; an equal epoch is still allowed.
func TestStoreFenceByWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		ctx := t.Context()
		s := open()
		mustOK(t, s.Create(ctx, seg("a", 0, 99, 6)))
		mustOK(t, s.Create(ctx, seg("b", 100, 199, 7)))
		wantErr(t, "commit at the older epoch", s.Transition(ctx, tp, "a", 6, CopyStarted, CopyFinished), ErrStaleEpoch)
		wantErr(t, "fence at the older epoch", s.Fence(ctx, tp, 6), ErrStaleEpoch)
		mustOK(t, s.Fence(ctx, tp, 7))
		mustOK(t, s.Transition(ctx, tp, "a", 7, CopyStarted, CopyFinished))
	})
}

// TestStoreFailedWriteChangesNothing: a write that fails neither creates
// the partition nor raises its fence.
func TestStoreFailedWriteChangesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		ctx := t.Context()
		s := open()
		wantErr(t, "transition on an empty store", s.Transition(ctx, tp, "x", 9, CopyStarted, CopyFinished), ErrNotFound)
		if parts, err := s.Partitions(ctx); err != nil || len(parts) != 0 {
			t.Fatalf("a failed write created a partition: %v %v", parts, err)
		}
		mustOK(t, s.Create(ctx, seg("a", 0, 99, 1)))
		wantErr(t, "remove at epoch 9", s.Remove(ctx, tp, "a", 9), ErrStateConflict)
		mustOK(t, s.Fence(ctx, tp, 2)) // would fail had the failed remove raised the fence to 9
	})
}

// TestStoreNoProgress: the rule looks at the finished segments as they
// are now; a range whose segment left COPY_FINISHED may be committed
// again, one still covered by a finished segment may not.
func TestStoreNoProgress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		ctx := t.Context()
		s := open()
		commit := func(id string, base, last int64) error {
			mustOK(t, s.Create(ctx, seg(id, base, last, 1)))
			return s.Transition(ctx, tp, id, 1, CopyStarted, CopyFinished)
		}
		mustOK(t, commit("a", 0, 99))
		mustOK(t, commit("b", 100, 199))
		mustOK(t, commit("c", 200, 299))
		wantErr(t, "same end", commit("c2", 250, 299), ErrNoProgress)
		// The newest goes (an audit found it damaged): its range is open again.
		mustOK(t, s.Transition(ctx, tp, "c", 1, CopyFinished, DeleteStarted))
		wantErr(t, "still covered by b", commit("b2", 150, 199), ErrNoProgress)
		mustOK(t, commit("c3", 200, 299))
		// An older one goes: the newest still bounds commits.
		mustOK(t, s.Transition(ctx, tp, "a", 1, CopyFinished, DeleteStarted))
		wantErr(t, "below c3", commit("a2", 0, 99), ErrNoProgress)
		// All go (retention): anything may be committed.
		mustOK(t, s.Transition(ctx, tp, "c3", 1, CopyFinished, DeleteStarted))
		mustOK(t, s.Transition(ctx, tp, "b", 1, CopyFinished, DeleteStarted))
		mustOK(t, commit("a3", 0, 49))
		wantErr(t, "below a3", commit("a4", 0, 49), ErrNoProgress)
		segs, err := s.List(ctx, tp)
		mustOK(t, err)
		if fin := Finished(segs); len(fin) != 1 || fin[0].ID != "a3" {
			t.Fatalf("finished: %+v", fin)
		}
	})
}

// TestStorePartitionsApart: partition 1's segments are not partition
// 10's (their keys share a prefix), and Partitions is sorted.
func TestStorePartitionsApart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		ctx := t.Context()
		s := open()
		tps := []TopicPartition{{"orders", 10}, {"orders", 1}, {"audit", 2}, {"orders", 2}}
		for i, p := range tps {
			sg := seg(fmt.Sprintf("s%d", i), 0, 9, 1)
			sg.TopicPartition = p
			mustOK(t, s.Create(ctx, sg))
		}
		mustOK(t, s.Fence(ctx, TopicPartition{"empty", 0}, 3))
		got, err := s.Partitions(ctx)
		mustOK(t, err)
		want := []TopicPartition{{"audit", 2}, {"empty", 0}, {"orders", 1}, {"orders", 2}, {"orders", 10}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("partitions %v, want %v", got, want)
		}
		segs, err := s.List(ctx, TopicPartition{"orders", 1})
		mustOK(t, err)
		if len(segs) != 1 || segs[0].ID != "s1" {
			t.Fatalf("orders-1: %+v", segs)
		}
		if segs, err := s.List(ctx, TopicPartition{"empty", 0}); err != nil || len(segs) != 0 {
			t.Fatalf("empty-0: %v %v", segs, err)
		}
	})
}

// TestStoreConcurrentWriters: concurrent uploads of distinct segments by
// the same leader all land; exactly one of the commits of one range wins.
// For DynamoDB the writers are spread over two stores (two brokers).
func TestStoreConcurrentWriters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		ctx := t.Context()
		stores := []Store{open()}
		if _, ok := stores[0].(*DynamoStore); ok {
			stores = append(stores, open())
		}
		var wg sync.WaitGroup
		var wins atomic.Int32
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(s Store, i int) {
				defer wg.Done()
				id := fmt.Sprintf("dup-%d", i)
				if err := s.Create(ctx, seg(id, 0, 99, 1)); err != nil {
					t.Error(err)
					return
				}
				switch err := s.Transition(ctx, tp, id, 1, CopyStarted, CopyFinished); {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, ErrNoProgress):
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
			mustOK(t, err)
			if len(segs) != 8 || len(Finished(segs)) != 1 {
				t.Fatalf("records: %d, finished %d", len(segs), len(Finished(segs)))
			}
		}
	})
}

// TestDynamoBrokersSeeEachOther: two stores on one table are two brokers;
// each sees the other's writes at once (List's cache included), and a new
// leader's fence stops the old one.
func TestDynamoBrokersSeeEachOther(t *testing.T) {
	ctx := t.Context()
	client, table := dynamoTable(t)
	a, b := NewDynamoStore(client, table, nil), NewDynamoStore(client, table, nil)

	mustOK(t, a.Create(ctx, seg("s1", 0, 99, 1)))
	mustOK(t, a.Transition(ctx, tp, "s1", 1, CopyStarted, CopyFinished))
	for i := 0; i < 2; i++ { // the second List is served from b's cache
		segs, err := b.List(ctx, tp)
		mustOK(t, err)
		if fin := Finished(segs); len(fin) != 1 || fin[0].ID != "s1" {
			t.Fatalf("b sees %+v", segs)
		}
	}
	// b becomes leader; a, deposed, can do nothing more.
	mustOK(t, b.Fence(ctx, tp, 2))
	wantErr(t, "deposed create", a.Create(ctx, seg("s2", 100, 199, 1)), ErrStaleEpoch)
	mustOK(t, b.Create(ctx, seg("s2", 100, 199, 2)))
	wantErr(t, "deposed commit", a.Transition(ctx, tp, "s2", 1, CopyStarted, CopyFinished), ErrStaleEpoch)
	mustOK(t, b.Transition(ctx, tp, "s2", 2, CopyStarted, CopyFinished))
	// The commit by b is visible to a, which listed (and cached) before.
	segs, err := a.List(ctx, tp)
	mustOK(t, err)
	if fin := Finished(segs); len(fin) != 2 || fin[1].ID != "s2" {
		t.Fatalf("a sees %+v", segs)
	}
	// And b's deletion too.
	mustOK(t, b.Transition(ctx, tp, "s1", 2, CopyFinished, DeleteStarted))
	mustOK(t, b.Remove(ctx, tp, "s1", 2))
	segs, err = a.List(ctx, tp)
	mustOK(t, err)
	if len(segs) != 1 || segs[0].ID != "s2" {
		t.Fatalf("a sees %+v after b's removal", segs)
	}
	// Callers own what List returns: changing it changes no later List.
	segs[0].State = DeleteStarted
	if again, _ := a.List(ctx, tp); again[0].State != CopyFinished {
		t.Fatalf("List shares its slice: %+v", again)
	}
}

// TestDynamoConcurrentMix races commits, deletions of the newest
// segment, removals and a fence over two brokers, then checks the
// invariants: finished segments' last offsets strictly increase, fend is
// their maximum, and no write at the old epoch landed after the fence.
func TestDynamoConcurrentMix(t *testing.T) {
	ctx := t.Context()
	client, table := dynamoTable(t)
	stores := []*DynamoStore{NewDynamoStore(client, table, nil), NewDynamoStore(client, table, nil)}
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
					err = s.Transition(ctx, tp, id, epoch, CopyStarted, CopyFinished)
				}
				if err == nil && rng.IntN(2) == 0 {
					// Delete the newest finished segment (the slow path).
					segs, lerr := s.List(ctx, tp)
					if lerr != nil {
						t.Error(lerr)
						return
					}
					if fin := Finished(segs); len(fin) > 0 {
						top := fin[len(fin)-1]
						err = s.Transition(ctx, tp, top.ID, epoch, CopyFinished, DeleteStarted)
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
				case err == nil, errors.Is(err, ErrNoProgress), errors.Is(err, ErrStateConflict),
					errors.Is(err, ErrNotFound), errors.Is(err, ErrStaleEpoch):
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
	fin := Finished(segs)
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
// deletion recomputes fend from a Scan; a commit landing between that
// Scan and the deletion's transaction must make the transaction fail (it
// would otherwise lower fend below the new commit), and the replanned
// deletion keeps fend at the new commit's end.
func TestDynamoNewestLeavesWhileCommit(t *testing.T) {
	ctx := t.Context()
	client, table := dynamoTable(t)
	a, b := NewDynamoStore(client, table, nil), NewDynamoStore(client, table, nil)
	for _, sg := range []Segment{seg("s1", 0, 99, 1), seg("s2", 100, 199, 1)} {
		mustOK(t, a.Create(ctx, sg))
		mustOK(t, a.Transition(ctx, tp, sg.ID, 1, CopyStarted, CopyFinished))
	}
	mustOK(t, b.Create(ctx, seg("s3", 200, 299, 1)))

	// a plans the deletion of s2 (the newest), scanning now...
	p, sg, err := a.snapshot(ctx, tp, "s2")
	mustOK(t, err)
	items, err := a.transitionPlan(ctx, tp, "s2", 1, CopyFinished, DeleteStarted)(p, sg)
	mustOK(t, err)
	// ...b commits s3 before a's transaction runs...
	mustOK(t, b.Transition(ctx, tp, "s3", 1, CopyStarted, CopyFinished))
	// ...so a's transaction must not land.
	_, err = client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if !raced(err) {
		t.Fatalf("stale deletion plan: %v", err)
	}
	mustOK(t, a.Transition(ctx, tp, "s2", 1, CopyFinished, DeleteStarted))
	mustOK(t, b.Create(ctx, seg("s4", 100, 199, 1)))
	wantErr(t, "commit below s3", b.Transition(ctx, tp, "s4", 1, CopyStarted, CopyFinished), ErrNoProgress)
	if p, err := a.readPart(ctx, tp); err != nil || p.fend != 299 {
		t.Fatalf("fend %d, want 299: %v", p.fend, err)
	}
}
