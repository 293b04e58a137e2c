package cluster

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/tiering/mototest"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, &moto)) }

func newStore(t *testing.T) *Store {
	t.Helper()
	client := dynamodb.NewFromConfig(moto.SerialConfig())
	table := fmt.Sprintf("kafki-cluster-%d", time.Now().UnixNano())
	if err := lease.EnsureTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	return &Store{Leases: &lease.DynamoStore{Client: client, Table: table}}
}

// The controller's partition writes: version compare-and-set, fenced by
// the controller lease epoch, with one metadata version bumped per write.
func TestPartitionWritesAreFencedAndVersioned(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	c1, _ := lease.New(lease.Config{Name: ControllerLease, Holder: "broker-1", Duration: time.Minute, Store: s.Leases})
	if _, err := c1.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	st := PartitionState{Topic: "orders", Partition: 3, Replicas: []int32{1, 2, 3}, Leader: 1, ISR: []int32{1, 2, 3}}
	if err := s.PutPartition(ctx, c1.Epoch(), st, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPartition(ctx, c1.Epoch(), st, 0); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	next, _ := Elect(st, func(b int32) bool { return b != 1 }, false)
	if err := s.PutPartition(ctx, c1.Epoch(), next, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPartition(ctx, c1.Epoch(), next, 1); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("write on a stale version: %v", err)
	}
	// A new controller takes over; the old one's write is refused.
	c1.Release(ctx)
	c2, _ := lease.New(lease.Config{Name: ControllerLease, Holder: "broker-2", Duration: time.Minute, Store: s.Leases})
	if _, err := c2.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	stale := next.Clone()
	stale.ISR = []int32{2}
	if err := s.PutPartition(ctx, c1.Epoch(), stale, 2); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("deposed controller's write: %v", err)
	}
	got, err := s.Partitions(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("partitions %v err %v", got, err)
	}
	g := got[0]
	if g.Topic != "orders" || g.Partition != 3 || g.Leader != 2 || g.LeaderEpoch != 1 || g.Version != 2 || len(g.ISR) != 2 {
		t.Fatalf("stored %+v", g)
	}
	v, err := s.MetadataVersion(ctx)
	if err != nil || v != 2 {
		t.Fatalf("metadata version %d err %v, want 2 (refused writes must not bump it)", v, err)
	}
}
