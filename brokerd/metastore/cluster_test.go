package metastore

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/lease"
)

// The controller's partition writes: version compare-and-set, fenced by
// the controller lease epoch, with one metadata version bumped per write.
func TestPartitionWritesAreFencedAndVersioned(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	createTopic(t, s, "orders", 4)
	c1 := acquire(t, s, cluster.ControllerLease, "broker-1")
	st := cluster.PartitionState{Topic: "orders", Partition: 3, Replicas: []int32{1, 2, 3}, Leader: 1, ISR: []int32{1, 2, 3}}
	if err := putPartition(t, s, c1.Epoch(), st, 0); err != nil {
		t.Fatal(err)
	}
	if err := putPartition(t, s, c1.Epoch(), st, 0); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	next, _ := cluster.Elect(st, func(b int32) bool { return b != 1 }, false)
	if err := putPartition(t, s, c1.Epoch(), next, 1); err != nil {
		t.Fatal(err)
	}
	if err := putPartition(t, s, c1.Epoch(), next, 1); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("write on a stale version: %v", err)
	}
	// A new controller takes over; the old one's write is refused.
	c1.Release(ctx)
	acquire(t, s, cluster.ControllerLease, "broker-2")
	stale := next.Clone()
	stale.ISR = []int32{2}
	if err := putPartition(t, s, c1.Epoch(), stale, 2); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("deposed controller's write: %v", err)
	}
	snap, err := New(s.client, s.table).Read(ctx) // a cold store: what is stored
	if err != nil || len(snap.Partitions) != 1 {
		t.Fatalf("partitions %v err %v", snap.Partitions, err)
	}
	g := snap.Partitions[0]
	if g.Topic != "orders" || g.Partition != 3 || g.Leader != 2 || g.LeaderEpoch != 1 || g.Version != 2 || len(g.ISR) != 2 {
		t.Fatalf("stored %+v", g)
	}
	v, err := s.MetadataVersion(ctx)
	if err != nil || v != 3 {
		t.Fatalf("metadata version %d err %v, want 3: the topic and two writes (refused writes must not bump it)", v, err)
	}
}

// A leader's ISR change is fenced by its broker session lease: once the
// controller took the session over (the broker was declared dead), the
// broker's write is refused even with the right partition version.
func TestISRWritesAreFencedBySessionLease(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	createTopic(t, s, "t", 1)
	ctrl := acquire(t, s, cluster.ControllerLease, "c")
	sess := acquire(t, s, cluster.BrokerLease(1), "broker/1/a")
	st := cluster.PartitionState{Topic: "t", Partition: 0, Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1, 2}, LeaderSession: sess.Epoch()}
	if err := putPartition(t, s, ctrl.Epoch(), st, 0); err != nil {
		t.Fatal(err)
	}
	shrunk, err := cluster.ShrinkISR(st, 1, 0, []int32{2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutISR(ctx, sess.Epoch(), shrunk, 1); err != nil {
		t.Fatalf("leader's ISR write: %v", err)
	}
	// The controller takes the session over (lease rule 2); the old
	// session's next write is refused.
	rec, _, err := s.Get(ctx, cluster.BrokerLease(1))
	if err != nil {
		t.Fatal(err)
	}
	fencer, _ := lease.New(lease.Config{Name: cluster.BrokerLease(1), Holder: "c/fence", Duration: time.Minute, Store: s})
	if ok, err := fencer.TakeOver(ctx, rec); err != nil || !ok {
		t.Fatalf("take over: %v %v", ok, err)
	}
	expanded, _ := cluster.ExpandISR(shrunk, 1, 0, 2)
	if err := s.PutISR(ctx, sess.Epoch(), expanded, 2); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("write under a taken-over session: %v", err)
	}
}

// Registrations, fencing of a registration, and the snapshot scan.
func TestRegistrationsAndSnapshot(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	ctrl := acquire(t, s, cluster.ControllerLease, "c")
	for id := int32(1); id <= 2; id++ {
		l := acquire(t, s, cluster.BrokerLease(id), fmt.Sprint(id))
		if err := s.Register(ctx, cluster.BrokerInfo{ID: id, Addr: fmt.Sprintf("h%d:9092", id), Rack: "az1", SessionEpoch: l.Epoch()}); err != nil {
			t.Fatal(err)
		}
		// A registration under a stale session epoch is refused.
		if err := s.Register(ctx, cluster.BrokerInfo{ID: id, Addr: "x:1", SessionEpoch: l.Epoch() + 1}); !errors.Is(err, lease.ErrConflict) {
			t.Fatalf("registration under a wrong epoch: %v", err)
		}
	}
	// Fencing checks the session epoch: a newer registration wins.
	if err := s.FenceBroker(ctx, ctrl.Epoch(), 2, 99); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("fence of a stale registration: %v", err)
	}
	if err := s.FenceBroker(ctx, ctrl.Epoch(), 2, 1); err != nil {
		t.Fatal(err)
	}
	// Many partitions in few transactions.
	createTopic(t, s, "big", 250)
	var writes []cluster.PartitionWrite
	for p := int32(0); p < 250; p++ {
		writes = append(writes, cluster.PartitionWrite{Next: cluster.PartitionState{Topic: "big", Partition: p, Replicas: []int32{1}, Leader: 1, ISR: []int32{1}}})
	}
	if err := s.PutPartitions(ctx, ctrl.Epoch(), writes); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Partitions) != 250 || len(snap.Brokers) != 2 {
		t.Fatalf("snapshot: %d partitions, %d brokers", len(snap.Partitions), len(snap.Brokers))
	}
	if b := snap.Brokers[1]; b.ID != 2 || !b.Fenced || b.Addr != "h2:9092" || b.Rack != "az1" {
		t.Fatalf("broker 2: %+v", b)
	}
	if b := snap.Brokers[0]; b.Fenced {
		t.Fatalf("broker 1 fenced: %+v", b)
	}
	// 2 registrations + 1 fence + the topic + 3 transactions of
	// partitions (97 fit beside the lease check, the version bump and
	// the topic's counter).
	if snap.Version != 7 {
		t.Fatalf("metadata version %d, want 7", snap.Version)
	}
}

// A write that lands while Read reads makes it read again, so a snapshot
// never mixes items from before and after a metadata change; a version
// that keeps moving bounds the rescans and still yields a snapshot.
func TestReadRereadsWhenMetadataMovesDuringTheRead(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	createTopic(t, s, "orders", 1)
	ctrl := acquire(t, s, cluster.ControllerLease, "c")
	st := cluster.PartitionState{Topic: "orders", Partition: 0, Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1, 2}}
	if err := putPartition(t, s, ctrl.Epoch(), st, 0); err != nil {
		t.Fatal(err)
	}
	scans, version := 0, int64(1)
	s.afterRead = func() {
		scans++
		if scans == 1 {
			next, _ := cluster.Elect(st, func(b int32) bool { return b != 1 }, false)
			if err := putPartition(t, s, ctrl.Epoch(), next, version); err != nil {
				t.Error(err)
			}
			version++
		}
	}
	snap, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if scans != 2 || snap.Version != 3 {
		t.Fatalf("%d scans, snapshot version %d: want a second scan at version 3", scans, snap.Version)
	}
	if p := snap.Partitions[0]; p.Leader != 2 || p.Version != 2 {
		t.Fatalf("partition %+v: the write made during the first scan is missing", p)
	}

	// A write after every scan: Read gives up after readAttempts scans.
	scans = 0
	s.afterRead = func() {
		scans++
		if err := putPartition(t, s, ctrl.Epoch(), snap.Partitions[0], version); err != nil {
			t.Error(err)
		}
		version++
	}
	if _, err := s.Read(ctx); err != nil || scans != readAttempts {
		t.Fatalf("Read under constant change: %d scans, err %v; want %d", scans, err, readAttempts)
	}
}
