package server_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

func TestOffsetForLeaderEpoch(t *testing.T) {
	b := testbroker.StartBroker(t)
	mustCreate(t, b, "ole", nil)
	c := dialRaw(t, b.Addr())
	if code, _ := produceCode(t, c, produceReq("ole", 0, 1, batch.Build(records(4, 10), batch.BuildOptions{})), 1); code != 0 {
		t.Fatalf("produce: %d", code)
	}
	ask := func(topic string, partition, current, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.SetVersion(4)
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = partition, current, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.roundTrip(req, 2).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
	}
	if p := ask("ole", 0, 0, 0); p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 4 {
		t.Fatalf("epoch 0: %+v", p)
	}
	if p := ask("ole", 0, -1, 5); p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 4 {
		t.Fatalf("epoch 5 (newer than history): %+v", p)
	}
	if p := ask("ole", 0, 1, 0); p.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Fatalf("current epoch from the future: %+v", p)
	}
	if p := ask("missing", 0, -1, 0); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %+v", p)
	}
	// Fetched batches carry the leader epoch the broker stamped.
	data, err := b.Topics().Partition("ole", 0).Log().Read(0, 1<<20, 4)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := batch.ParseHeader(data); h.PartitionLeaderEpoch != 0 {
		t.Fatalf("stored batch leader epoch %d, want 0", h.PartitionLeaderEpoch)
	}
}
