package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

// txnGroupConfig is txnConfig with groupTestConfig's fast rebalances.
func txnGroupConfig(c *config.Config) {
	txnConfig(c)
	groupTestConfig(c)
}

// txnProducer is a transactional id's producer id and epoch, as
// InitProducerId hands them out.
type txnProducer struct {
	id    string
	pid   int64
	epoch int16
}

func initTxnProducer(t *testing.T, cl *kgo.Client, id string) txnProducer {
	t.Helper()
	p := txnProducer{id: id}
	poll.Must(t, 10*time.Second, "InitProducerId "+id, func() error {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr(id)
		req.TransactionTimeoutMillis = 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			return err
		}
		p.pid, p.epoch = resp.ProducerID, resp.ProducerEpoch
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	return p
}

func (p txnProducer) addOffsets(t *testing.T, cl *kgo.Client, group string) int16 {
	t.Helper()
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = p.id, p.pid, p.epoch, group
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.ErrorCode
}

// commitOffset sends a TxnOffsetCommit of one partition; gen -1 and ""
// commit as a producer outside the group.
func (p txnProducer) commitOffset(t *testing.T, cl *kgo.Client, group string, gen int32, member, topic string, partition int32, offset int64) int16 {
	t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = p.id, group, p.pid, p.epoch
	req.Generation, req.MemberID = gen, member
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if req.Version < 3 {
		t.Fatalf("TxnOffsetCommit v%d: the member fields were not sent", req.Version)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (p txnProducer) end(t *testing.T, cl *kgo.Client, commit bool) {
	t.Helper()
	poll.Must(t, 10*time.Second, "EndTxn", func() error {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = p.id, p.pid, p.epoch, commit
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
}

// fetchOffset is OffsetFetch's answer for one partition, with
// require_stable or without.
func fetchOffset(t *testing.T, cl *kgo.Client, group, topic string, partition int32, stable bool) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group, req.RequireStable = group, stable
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("OffsetFetch: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	p := resp.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

// awaitStableOffset waits for the group's offset of the partition to be
// stable (the transaction's marker applied) and want.
func awaitStableOffset(t *testing.T, cl *kgo.Client, group, topic string, partition int32, want int64) {
	t.Helper()
	poll.Must(t, 10*time.Second, fmt.Sprintf("stable offset %d", want), func() error {
		got, code := fetchOffset(t, cl, group, topic, partition, true)
		if code != 0 || got != want {
			return fmt.Errorf("offset %d, %v", got, kerr.ErrorForCode(code))
		}
		return nil
	})
}

// joinAlone makes a one-member classic group and returns the member id
// and generation.
func joinAlone(t *testing.T, cl *kgo.Client, group string) (string, int32) {
	t.Helper()
	meta := kmsg.NewConsumerMemberMetadata()
	join := func(member string) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID = group, member
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 30000, 30000
		req.ProtocolType = "consumer"
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := join("")
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		resp = join(resp.MemberID)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("JoinGroup: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = group, resp.MemberID, resp.Generation
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: resp.MemberID, MemberAssignment: []byte{}}}
	sresp, err := sync.RequestWith(ctxT(t), cl)
	if err != nil || sresp.ErrorCode != 0 {
		t.Fatalf("SyncGroup: %v %v", err, kerr.ErrorForCode(sresp.ErrorCode))
	}
	return resp.MemberID, resp.Generation
}

// TestTxnOffsetCommitWire: offsets committed in a transaction become
// visible at its commit and never after an abort; while pending,
// OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT and
// without it the previous offset. Out-of-protocol commits are refused
// with Kafka's errors and change nothing.
func TestTxnOffsetCommitWire(t *testing.T) {
	b := startGroupBroker(t, testbroker.WithConfig(txnConfig))
	const topic, group = "txo", "txo-group"
	cl := txnClient(t, b.Addr())
	createTxnTopic(t, cl, topic, 2)
	produceValues(t, producer(t, b.Addr(), topic), topic, "v", 40)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1, LeaderEpoch: -1})
	if resp, err := kadm.NewClient(cl).CommitOffsets(ctxT(t), group, offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	initTxnProducer(t, cl, "txo-id") // the second init bumps the epoch
	p := initTxnProducer(t, cl, "txo-id")
	if p.epoch < 1 {
		t.Fatalf("epoch %d after two InitProducerId", p.epoch)
	}

	t.Run("TxnOffsetCommit without AddOffsetsToTxn", func(t *testing.T) {
		if code := p.commitOffset(t, cl, group, -1, "", topic, 0, 5); code != kerr.InvalidTxnState.Code {
			t.Fatalf("%v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
		}
	})
	if code := p.addOffsets(t, cl, group); code != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
	t.Run("stale epoch", func(t *testing.T) {
		stale := p
		stale.epoch--
		if code := stale.commitOffset(t, cl, group, -1, "", topic, 0, 5); code != kerr.ProducerFenced.Code && code != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("%v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(code))
		}
		if code := stale.addOffsets(t, cl, group); code != kerr.ProducerFenced.Code && code != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("AddOffsetsToTxn: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(code))
		}
	})
	t.Run("offset beyond the log end", func(t *testing.T) {
		if code := p.commitOffset(t, cl, group, -1, "", topic, 0, 1000); code != kerr.OffsetOutOfRange.Code {
			t.Fatalf("%v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(code))
		}
	})
	if code := p.commitOffset(t, cl, group, -1, "", topic, 0, 7); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	if off, code := fetchOffset(t, cl, group, topic, 0, true); code != kerr.UnstableOffsetCommit.Code || off != -1 {
		t.Fatalf("require_stable while pending: offset %d %v, want UNSTABLE_OFFSET_COMMIT", off, kerr.ErrorForCode(code))
	}
	if off, code := fetchOffset(t, cl, group, topic, 0, false); code != 0 || off != 1 {
		t.Fatalf("OffsetFetch while pending: offset %d %v, want the committed 1", off, kerr.ErrorForCode(code))
	}
	if off, code := fetchOffset(t, cl, group, topic, 1, true); code != 0 || off != -1 {
		t.Fatalf("require_stable of a partition without pending offsets: %d %v", off, kerr.ErrorForCode(code))
	}
	p.end(t, cl, true)
	awaitStableOffset(t, cl, group, topic, 0, 7)

	// The next transaction aborts: the offset stays 7.
	if code := p.addOffsets(t, cl, group); code != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
	if code := p.commitOffset(t, cl, group, -1, "", topic, 0, 9); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	p.end(t, cl, false)
	awaitStableOffset(t, cl, group, topic, 0, 7)

	t.Run("member of another generation", func(t *testing.T) {
		const g = "txo-members"
		member, gen := joinAlone(t, cl, g)
		if code := p.addOffsets(t, cl, g); code != 0 {
			t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
		}
		if code := p.commitOffset(t, cl, g, gen+1, member, topic, 0, 3); code != kerr.IllegalGeneration.Code {
			t.Fatalf("%v, want ILLEGAL_GENERATION", kerr.ErrorForCode(code))
		}
		if code := p.commitOffset(t, cl, g, gen, "someone-else", topic, 0, 3); code != kerr.UnknownMemberID.Code {
			t.Fatalf("%v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
		}
		if code := p.commitOffset(t, cl, g, gen, member, topic, 0, 4); code != 0 {
			t.Fatalf("the member's commit: %v", kerr.ErrorForCode(code))
		}
		p.end(t, cl, true)
		awaitStableOffset(t, cl, g, topic, 0, 4)
	})
}
