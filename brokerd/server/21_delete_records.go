package server

// DeleteRecords (key 21), versions 0-2 (KIP-107; kafka-delete-records,
// kadm DeleteRecords).
//
// Per partition, on its leader: the log start moves up to the asked
// offset (-1: the high watermark), durably, and the answer waits until
// every in-sync replica's log start has reached the offset too (Kafka's
// DelayedDeleteRecords): followers report their log start in each fetch
// (Fetch v5+ LogStartOffset) after taking the leader's from the fetch
// before (replication/follower followLogStart), so no replica that may be elected
// leader still serves the deleted records once the client has its
// answer. The answer's LowWatermark is then the low watermark, the
// smallest log start over the leader and its in-sync followers
// (topics.Partition.AwaitLowWatermark; on a single node, the new log
// start). Kafka counts every replica on a live broker, in the ISR or not;
// here a follower out of the ISR does not hold the answer (see
// replication.Leader.LowWatermark), and takes the new start when it
// fetches again.
//
// The start is logical: it may fall inside a batch or a segment; reads
// below it fail with OFFSET_OUT_OF_RANGE, ListOffsets earliest returns
// it, and segments are deleted once entirely below it
// (storage.Log.AdvanceLogStart). Asking for less than the current start
// changes nothing and answers the current low watermark. Every partition
// of the request waits within one deadline, TimeoutMillis from when the
// leaders' starts have moved. Errors, per partition:
//
//   - TOPIC_AUTHORIZATION_FAILED: no DELETE on the topic (asked first, as
//     Kafka).
//   - UNKNOWN_TOPIC_OR_PARTITION: no such topic or partition here.
//   - INVALID_TOPIC_EXCEPTION: an internal topic (__consumer_offsets), as
//     Kafka's ReplicaManager refuses (Topic.isInternal); the group
//     coordinator trims its own history.
//   - NOT_LEADER_OR_FOLLOWER (or FENCED/UNKNOWN_LEADER_EPOCH): this broker
//     does not lead the partition now, or stopped leading it (or its
//     session lease lapsed) while waiting.
//   - OFFSET_OUT_OF_RANGE: offset above the high watermark, or below -1.
//   - POLICY_VIOLATION: a topic whose cleanup.policy lacks "delete" (as
//     Kafka), and, here only, a topic with remote.storage.enable=true:
//     its log start is the remote tier's, and deleting records there
//     (remote segments below the offset, remote-aware ListOffsets) is
//     future work.
//   - KAFKA_STORAGE_ERROR: the checkpoint of the new start failed.
//   - REQUEST_TIMED_OUT: an in-sync follower did not report the new start
//     within TimeoutMillis (as Kafka's expired DelayedDeleteRecords). The
//     leader's start has moved all the same, and the follower takes it on
//     its next fetch; LowWatermark is the low watermark so far (Kafka
//     answers the one it had when the request arrived).

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"

	"github.com/kafki/kafki/brokerd/topics"
)

const (
	deleteRecordsMin = 0
	deleteRecordsMax = 2
)

func (s *Server) handleDeleteRecords(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	// Move every leader's start first, then wait for the replicas of all
	// of them within one deadline (a partition whose replicas are done
	// answers even after the deadline: AwaitLowWatermark checks first).
	type wait struct {
		topic, partition int // indexes into resp
		part             *topics.Partition
		offset           int64
	}
	var waits []wait
	authz := rc.askEach(auth.OpDelete, len(req.Topics), func(i int) auth.Resource { return auth.Topic(req.Topics[i].Topic) })
	rc.decide(ctx)
	for ti, t := range req.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LowWatermark = -1
			if !rc.allowedAt(authz, ti) {
				rp.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			part, offset, code := s.deleteRecords(t.Topic, p.Partition, p.Offset)
			if code != 0 {
				rp.ErrorCode = rc.errCode(code)
			} else {
				waits = append(waits, wait{len(resp.Topics), len(rt.Partitions), part, offset})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
	defer cancel()
	for _, w := range waits {
		rp := &resp.Topics[w.topic].Partitions[w.partition]
		low, err := w.part.AwaitLowWatermark(wctx, w.offset)
		switch {
		case err == nil:
			rp.LowWatermark = low
		case errors.Is(err, topics.ErrLowWatermarkTimeout):
			rp.ErrorCode = rc.errCode(kerr.RequestTimedOut.Code)
			rp.LowWatermark = low
		default:
			rp.ErrorCode = rc.errCode(errorCode(err))
		}
	}
	return resp
}

// deleteRecords moves the log start of one partition of a DeleteRecords
// request on its leader, and returns the partition and the offset its low
// watermark must reach, or a Kafka error code.
func (s *Server) deleteRecords(topic string, partition int32, offset int64) (*topics.Partition, int64, int16) {
	if topics.IsInternal(topic) {
		return nil, -1, kerr.InvalidTopicException.Code
	}
	part := s.topics.Partition(topic, partition)
	if part == nil {
		return nil, -1, kerr.UnknownTopicOrPartition.Code
	}
	if err := part.CheckLeader(-1); err != nil {
		return nil, -1, errorCode(err)
	}
	st := part.Settings()
	if !strings.Contains(st.CleanupPolicy, "delete") && st.CleanupPolicy != "" {
		return nil, -1, kerr.PolicyViolation.Code
	}
	if st.Log.RemoteStorage {
		s.log.Warn("DeleteRecords refused: not supported on tiered topics yet (remote.storage.enable=true)",
			"topic", topic, "partition", partition, "offset", offset)
		return nil, -1, kerr.PolicyViolation.Code
	}
	hw := part.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return nil, -1, kerr.OffsetOutOfRange.Code
	}
	if _, err := part.Log().AdvanceLogStart(offset); err != nil {
		s.log.Error("DeleteRecords: advance log start", "topic", topic, "partition", partition, "offset", offset, "err", err)
		return nil, -1, errorCode(err)
	}
	return part, offset, 0
}
