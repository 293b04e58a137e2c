package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

// describeProducersRaw asks DescribeProducers v0 for partitions of topic
// and returns the answer's partitions.
func describeProducersRaw(t *testing.T, c *rawConn, topic string, partitions ...int32) []kmsg.DescribeProducersResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = topic, partitions
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req, 9).(*kmsg.DescribeProducersResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != len(partitions) {
		t.Fatalf("DescribeProducers response: %+v", resp)
	}
	return resp.Topics[0].Partitions
}

// TestDescribeProducers: the leader lists an idempotent producer and a
// transactional one, the latter with the first offset of its open
// transaction until the commit's marker; an unknown partition and a
// follower answer Kafka's errors.
func TestDescribeProducers(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(txnConfig))
	const topic = "dp"
	admin := txnClient(t, b.Addr())
	createTxnTopic(t, admin, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	idem := txnClient(t, b.Addr(), kgo.DefaultProduceTopic(topic))
	for i := 0; i < 3; i++ {
		if err := idem.ProduceSync(ctx, &kgo.Record{Value: []byte("idempotent")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	p := txnClient(t, b.Addr(), kgo.TransactionalID("dp-producer"), kgo.DefaultProduceTopic(topic))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(admin)
	describe := func() []kadm.DescribedProducer {
		t.Helper()
		d, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		part := d[topic].Partitions[0]
		if part.Err != nil {
			t.Fatalf("DescribeProducers: %v", part.Err)
		}
		return part.ActiveProducers.Sorted()
	}
	ps := describe()
	if len(ps) != 2 {
		t.Fatalf("producers %+v, want the idempotent and the transactional one", ps)
	}
	var txnPID int64 = -1
	for _, pr := range ps {
		switch pr.CurrentTxnStartOffset {
		case -1: // the idempotent producer: three batches of one record
			if pr.LastSequence != 2 || pr.ProducerEpoch != 0 || pr.CoordinatorEpoch != -1 || pr.LastTimestamp <= 0 {
				t.Errorf("idempotent producer %+v, want last sequence 2, epoch 0, coordinator epoch -1", pr)
			}
		case 3: // the transaction's batch follows the three records
			txnPID = pr.ProducerID
			if pr.LastSequence != 0 {
				t.Errorf("transactional producer %+v, want last sequence 0", pr)
			}
		default:
			t.Errorf("producer %+v: unexpected transaction start offset", pr)
		}
	}
	if txnPID < 0 {
		t.Fatalf("no producer with its transaction open at offset 3: %+v", ps)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	poll.Must(t, 10*time.Second, "commit marker written", func() error {
		for _, pr := range describe() {
			if pr.ProducerID == txnPID && pr.CurrentTxnStartOffset != -1 {
				return fmt.Errorf("after the commit: %+v, want no open transaction", pr)
			}
		}
		return nil
	})

	c := dialRaw(t, b.Addr())
	if r := describeProducersRaw(t, c, topic, 7); r[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("partition 7 of a 1-partition topic: %+v, want UNKNOWN_TOPIC_OR_PARTITION", r[0])
	}
	if r := describeProducersRaw(t, c, "dp-missing", 0); r[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %+v, want UNKNOWN_TOPIC_OR_PARTITION", r[0])
	}
	b.Topics().Partition(topic, 0).BecomeFollower(2, 1)
	if r := describeProducersRaw(t, c, topic, 0); r[0].ErrorCode != kerr.NotLeaderForPartition.Code || len(r[0].ActiveProducers) != 0 {
		t.Fatalf("on a follower: %+v, want NOT_LEADER_OR_FOLLOWER", r[0])
	}
}

// TestDescribeProducersACL: READ on the topic is needed, as in Kafka.
func TestDescribeProducersACL(t *testing.T) {
	e := newACLEnv(t, anonymous)
	const topic = "dp-acl"
	e.createTopics(topic)
	ask := func() int16 {
		req := kmsg.NewPtrDescribeProducersRequest()
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		return e.request(req).(*kmsg.DescribeProducersResponse).Topics[0].Partitions[0].ErrorCode
	}
	if code := ask(); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("without READ: %v, want TOPIC_AUTHORIZATION_FAILED", kerr.ErrorForCode(code))
	}
	e.with(func() {
		if code := ask(); code != 0 {
			t.Fatalf("with READ: %v", kerr.ErrorForCode(code))
		}
	}, topicACL(e.who, kadm.ACLPatternLiteral, []string{topic}, kadm.OpRead))
	if code := ask(); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("READ revoked: %v, want TOPIC_AUTHORIZATION_FAILED", kerr.ErrorForCode(code))
	}
}
