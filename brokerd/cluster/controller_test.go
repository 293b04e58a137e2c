package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
)

// fakeStore is a ControllerStore over one fixed snapshot that records the
// writes.
type fakeStore struct {
	mu     sync.Mutex
	snap   Snapshot
	fenced []int32
	puts   []PartitionWrite
}

func (s *fakeStore) MetadataVersion(context.Context) (int64, error) { return s.snap.Version, nil }
func (s *fakeStore) Read(context.Context) (Snapshot, error)         { return s.snap, nil }
func (s *fakeStore) Announce(context.Context, int64) error          { return nil }
func (s *fakeStore) FenceBroker(_ context.Context, _ int64, id int32, _ int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fenced = append(s.fenced, id)
	return nil
}
func (s *fakeStore) DeletePartition(context.Context, int64, string, int32, int64) error { return nil }
func (s *fakeStore) DropTopic(context.Context, int64, string) error                     { return nil }
func (s *fakeStore) PutPartitions(_ context.Context, _ int64, ws []PartitionWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts = append(s.puts, ws...)
	return nil
}

// renewingStore makes every take-over of one lease fail, as when its
// holder renews between the controller's read and its take-over.
type renewingStore struct {
	*lease.MemStore
	renews string
}

func (s *renewingStore) Swap(ctx context.Context, expectRVN string, next lease.Record) error {
	if next.Name == s.renews && next.Holder != "broker/1/x" {
		return fmt.Errorf("swap: %w", lease.ErrConflict)
	}
	return s.MemStore.Swap(ctx, expectRVN, next)
}

// The loop's one decision of its own: a lapsed broker whose take-over
// fails renewed after all, is not fenced, and keeps its leadership; one
// whose take-over succeeds is fenced and its partition elected away.
func TestControllerStepFencesOrCountsARenewalAsAlive(t *testing.T) {
	for _, renews := range []bool{false, true} {
		t.Run(fmt.Sprintf("renews=%v", renews), func(t *testing.T) {
			ctx := context.Background()
			leases := &renewingStore{MemStore: lease.NewMemStore()}
			if renews {
				leases.renews = BrokerLease(1)
			}
			// Broker 1's lease lapses after a millisecond; broker 2's lasts.
			for id, d := range map[int32]time.Duration{1: time.Millisecond, 2: time.Minute} {
				rec := lease.Record{Name: BrokerLease(id), Holder: fmt.Sprintf("broker/%d/x", id), RVN: "r", Epoch: 1, Duration: d}
				if err := leases.Create(ctx, rec); err != nil {
					t.Fatal(err)
				}
			}
			store := &fakeStore{snap: Snapshot{Version: 1,
				Brokers:    []BrokerInfo{{ID: 1, SessionEpoch: 1}, {ID: 2, SessionEpoch: 1}},
				Topics:     []meta.Topic{{Name: "t", Partitions: 1, ReplicationFactor: 2}},
				Partitions: []PartitionState{{Topic: "t", Replicas: []int32{1, 2}, Leader: 1, LeaderEpoch: 3, ISR: []int32{1, 2}, LeaderSession: 1, Version: 5}},
			}}
			now := time.Unix(1_800_000_000, 0)
			c := NewController(ControllerOptions{Holder: "broker/2/y", SessionLease: time.Minute, Leases: leases, Store: store,
				Brokers: func() []BrokerInfo { return store.snap.Brokers }, Now: func() time.Time { return now }})
			l, err := lease.New(lease.Config{Name: ControllerLease, Holder: "broker/2/y", Duration: time.Minute, Store: leases})
			if err != nil {
				t.Fatal(err)
			}
			epoch, err := l.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c.stale, c.warned = true, map[string]bool{}
			if _, err := c.observe(ctx, store.snap.Brokers); err != nil { // first sighting
				t.Fatal(err)
			}
			now = now.Add(5 * time.Millisecond) // broker 1's RVN did not change for longer than its duration
			if err := c.step(ctx, l, epoch); err != nil {
				t.Fatal(err)
			}
			if renews {
				if len(store.fenced) != 0 || len(store.puts) != 0 {
					t.Fatalf("renewed broker: fenced %v, writes %+v; want none", store.fenced, store.puts)
				}
				return
			}
			if len(store.fenced) != 1 || store.fenced[0] != 1 {
				t.Fatalf("fenced %v, want [1]", store.fenced)
			}
			if len(store.puts) != 1 || store.puts[0].Next.Leader != 2 || store.puts[0].Next.LeaderEpoch != 4 || store.puts[0].ExpectVersion != 5 {
				t.Fatalf("writes %+v, want t/0 led by 2 at epoch 4 over version 5", store.puts)
			}
			if rec, _, _ := leases.Get(ctx, BrokerLease(1)); rec.Holder != "" {
				t.Fatalf("broker 1's lease after the step: %+v; want taken over and released", rec)
			}
		})
	}
}
