package metastore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
)

// placeAll writes every partition of topics (leader 1, ISR {1,2}).
func placeAll(t *testing.T, s *Store, epoch int64, topics []meta.Topic) {
	t.Helper()
	var writes []cluster.PartitionWrite
	for _, tp := range topics {
		for p := int32(0); p < tp.Partitions; p++ {
			writes = append(writes, cluster.PartitionWrite{Next: cluster.PartitionState{
				Topic: tp.Name, Partition: p, Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1, 2}}})
		}
	}
	if err := s.PutPartitions(t.Context(), epoch, writes); err != nil {
		t.Fatal(err)
	}
}

// The read of a metadata change costs what changed: after one partition
// of one topic moved, a broker's Read queries the topic items, the
// brokers and that topic's partitions, not the other topics'; and the
// snapshot still holds everything, the change included. A second store
// (another broker) with nothing cached reads it all and agrees.
func TestReadCostsWhatChanged(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table)
	ctx := t.Context()
	const topics, perTopic = 10, 40 // moto takes about 35 ms per partition write
	var all []meta.Topic
	for i := range topics {
		all = append(all, createTopic(t, s, fmt.Sprintf("t%02d", i), perTopic))
	}
	ctrl := acquire(t, s, cluster.ControllerLease, "c")
	placeAll(t, s, ctrl.Epoch(), all)
	first, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Partitions) != topics*perTopic || len(first.Topics) != topics {
		t.Fatalf("first read: %d topics, %d partitions", len(first.Topics), len(first.Partitions))
	}

	// Nothing moved: topic items and brokers only.
	before := s.ItemsRead()
	if _, err := s.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.ItemsRead() - before; got != topics {
		t.Fatalf("unchanged read returned %d items, want %d (the topic items)", got, topics)
	}

	// One election in t07.
	old := first.Partitions[7*perTopic+3]
	next, _ := cluster.Elect(old, func(b int32) bool { return b != 1 }, false)
	if err := putPartition(t, s, ctrl.Epoch(), next, old.Version); err != nil {
		t.Fatal(err)
	}
	before = s.ItemsRead()
	snap, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.ItemsRead()-before, int64(topics+perTopic); got != want {
		t.Fatalf("read after one change returned %d items, want %d (topic items + the changed topic's partitions)", got, want)
	}
	t.Logf("items read per metadata read with %d partitions in %d topics: first %d, unchanged %d, one partition changed %d",
		topics*perTopic, topics, topics*perTopic+topics, topics, topics+perTopic)
	if len(snap.Partitions) != topics*perTopic {
		t.Fatalf("%d partitions after the change", len(snap.Partitions))
	}
	got := snap.Partitions[7*perTopic+3]
	if got.Topic != "t07" || got.Partition != 3 || got.Leader != 2 || got.Version != old.Version+1 {
		t.Fatalf("changed partition reads %+v", got)
	}
	// A fresh store (another broker, cold cache) reads the same.
	other, err := New(client, table).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(other.Partitions) != fmt.Sprint(snap.Partitions) || fmt.Sprint(other.Topics) != fmt.Sprint(snap.Topics) {
		t.Fatal("a cold store's snapshot differs from the incremental one")
	}

	// A topic config change re-reads that topic only, and shows.
	if _, err := s.UpdateTopic(ctx, "t08", func(tp *meta.Topic) error { tp.Configs["retention.ms"] = "5"; return nil }); err != nil {
		t.Fatal(err)
	}
	before = s.ItemsRead()
	snap, err = s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.ItemsRead() - before; got != int64(topics+perTopic) {
		t.Fatalf("read after a config change returned %d items", got)
	}
	if snap.Topics[8].Configs["retention.ms"] != "5" {
		t.Fatalf("config change missing: %+v", snap.Topics[8])
	}
}

// A deleted topic stays a tombstone until the controller removed its
// partition states: brokers see it deleted at once (not in Topics, in
// Deleted), the controller still finds its partitions, and DropTopic
// then removes the remains. Writes to a dropped topic's partitions are
// refused, and a topic re-created under the name is not dropped.
func TestDeletedTopicLifecycle(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	orders := createTopic(t, s, "orders", 2)
	ctrl := acquire(t, s, cluster.ControllerLease, "c")
	placeAll(t, s, ctrl.Epoch(), []meta.Topic{orders})
	if err := s.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopic(ctx, "orders"); !errors.Is(err, meta.ErrUnknownTopic) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.UpdateTopic(ctx, "orders", func(*meta.Topic) error { return nil }); !errors.Is(err, meta.ErrUnknownTopic) {
		t.Fatalf("update of a deleted topic: %v", err)
	}
	if ts, err := s.Topics(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("topics after delete: %v %v", ts, err)
	}
	snap, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Topics) != 0 || fmt.Sprint(snap.Deleted) != "[orders]" || len(snap.Partitions) != 2 {
		t.Fatalf("snapshot after delete: topics %v deleted %v partitions %d", snap.Topics, snap.Deleted, len(snap.Partitions))
	}
	for _, p := range snap.Partitions {
		if err := s.DeletePartition(ctx, ctrl.Epoch(), p.Topic, p.Partition, p.Version); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DropTopic(ctx, ctrl.Epoch(), "orders"); err != nil {
		t.Fatal(err)
	}
	if snap, err = s.Read(ctx); err != nil || len(snap.Deleted)+len(snap.Partitions)+len(snap.Topics) != 0 {
		t.Fatalf("after drop: %+v %v", snap, err)
	}
	st := cluster.PartitionState{Topic: "orders", Partition: 0, Replicas: []int32{1}, Leader: 1, ISR: []int32{1}}
	if err := putPartition(t, s, ctrl.Epoch(), st, 0); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("write of a dropped topic's partition: %v", err)
	}
	createTopic(t, s, "orders", 1)
	if err := s.DropTopic(ctx, ctrl.Epoch(), "orders"); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("drop of a live topic: %v", err)
	}
	if ts, err := s.Topics(ctx); err != nil || len(ts) != 1 || ts[0].Partitions != 1 {
		t.Fatalf("re-created topic: %v %v", ts, err)
	}
}

// A fenced registration expires after FencedBrokerTTL (DynamoDB's TTL
// removes a broker that never comes back); registering again clears it.
func TestFencedRegistrationExpires(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	ctrl := acquire(t, s, cluster.ControllerLease, "c")
	sess := acquire(t, s, cluster.BrokerLease(4), "b4")
	b := cluster.BrokerInfo{ID: 4, Addr: "h4:9092", SessionEpoch: sess.Epoch()}
	if err := s.Register(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.FenceBroker(ctx, ctrl.Epoch(), 4, sess.Epoch()); err != nil {
		t.Fatal(err)
	}
	it, err := s.get(ctx, brokerKey(4))
	if err != nil {
		t.Fatal(err)
	}
	exp, _ := it[AttrTTL].(*types.AttributeValueMemberN)
	if want := strconv.FormatInt(now.Add(FencedBrokerTTL).Unix(), 10); exp == nil || exp.Value != want {
		t.Fatalf("expires_at %v, want %s", it[AttrTTL], want)
	}
	if err := s.Register(ctx, b); err != nil {
		t.Fatal(err)
	}
	if it, err = s.get(ctx, brokerKey(4)); err != nil || it[AttrTTL] != nil {
		t.Fatalf("re-registration kept the expiry: %v %v", it, err)
	}
}

// Malformed items (a bad attribute type, a bad key) fail the read with a
// message naming the item; nothing panics.
func TestMalformedItemsFailTheRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		item map[string]types.AttributeValue
		want string
	}{
		{"partition with a string leader", withAttrs(partitionKey("orders", 0), map[string]types.AttributeValue{
			attrReplicas: nums([]int32{1}), attrISR: nums([]int32{1}), attrLeader: str("one"), attrLeaderEpoch: num(0), attrVersion: num(1)}),
			`partition item orders/0000000000: leader missing or not a number`},
		{"partition outside its replicas", withAttrs(partitionKey("orders", 0), map[string]types.AttributeValue{
			attrReplicas: nums([]int32{1}), attrISR: nums([]int32{2}), attrLeader: num(1), attrLeaderEpoch: num(0), attrVersion: num(1)}),
			`ISR member 2 is not a replica`},
		{"partition with a bad key", withAttrs(key(partitionPK("orders"), "x"), nil), `bad number "x" in key`},
		{"broker without an address", withAttrs(brokerKey(3), map[string]types.AttributeValue{attrSessionEpoch: num(1)}),
			`broker item "0000000003": addr missing or not a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			createTopic(t, s, "orders", 1)
			if _, err := s.client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &s.table, Item: tc.item}); err != nil {
				t.Fatal(err)
			}
			// The topic's counter has not moved since the item was put
			// by hand; a fresh store has nothing cached, so it reads it.
			_, err := New(s.client, s.table).Read(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func withAttrs(it map[string]types.AttributeValue, attrs map[string]types.AttributeValue) map[string]types.AttributeValue {
	for k, v := range attrs {
		it[k] = v
	}
	return it
}
