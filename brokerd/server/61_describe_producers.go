package server

// DescribeProducers (key 61), version 0 (KIP-664; kafka-transactions.sh
// describe-producers and abort, kadm DescribeProducers).
//
// Per partition, on its leader: the producers its log keeps state for
// (storage.Log.Producers: idempotent and transactional, until they
// expire), each with its epoch, last sequence (-1 when its window is
// empty, as after a marker of a new epoch), the max timestamp of its
// newest batch and, for a producer with a transaction open in the
// partition, the offset of the transaction's first batch (-1 when none):
// a transaction that stays open pins the last stable offset, and
// kafka-transactions.sh abort --start-offset finds its producer here.
//
// CoordinatorEpoch is always -1: the log does not keep the coordinator
// epoch of the markers it appended (Kafka keeps it to fence a stale
// coordinator's WriteTxnMarkers). Kafka's admin client reads -1 as "none"
// and its abort then writes its marker with coordinator epoch 0.
//
// Errors, per partition, as Kafka's ReplicaManager.activeProducerState:
//
//   - TOPIC_AUTHORIZATION_FAILED: no READ on the topic.
//   - UNKNOWN_TOPIC_OR_PARTITION: no such topic or partition here.
//   - NOT_LEADER_OR_FOLLOWER: this broker does not lead the partition.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	describeProducersMin = 0
	describeProducersMax = 0
)

func (s *Server) handleDescribeProducers(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	authz := rc.askEach(auth.OpRead, len(req.Topics), func(i int) auth.Resource { return auth.Topic(req.Topics[i].Topic) })
	rc.decide(ctx)
	for ti, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		allowed := rc.allowedAt(authz, ti)
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = p
			if !allowed {
				rp.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
			} else {
				s.describeProducers(rc, t.Topic, &rp)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// describeProducers fills one partition's answer from its leader's log.
func (s *Server) describeProducers(rc *reqCtx, topic string, rp *kmsg.DescribeProducersResponseTopicPartition) {
	part := s.topics.Partition(topic, rp.Partition)
	if part == nil {
		rp.ErrorCode = rc.errCode(kerr.UnknownTopicOrPartition.Code)
		return
	}
	if err := part.CheckLeader(-1); err != nil {
		rp.ErrorCode = rc.errCode(errorCode(err))
		rp.ErrorMessage = errMsg(err)
		return
	}
	for _, ps := range part.Log().Producers() {
		ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
		ap.ProducerID = ps.ProducerID
		ap.ProducerEpoch = int32(ps.Epoch)
		ap.LastSequence = ps.LastSequence
		ap.LastTimestamp = ps.LastTimestamp
		ap.CoordinatorEpoch = -1
		ap.CurrentTxnStartOffset = ps.TxnStartOffset
		rp.ActiveProducers = append(rp.ActiveProducers, ap)
	}
}
