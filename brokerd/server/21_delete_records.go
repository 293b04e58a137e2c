package server

// DeleteRecords (key 21), versions 0-2 (KIP-107; kafka-delete-records,
// kadm DeleteRecords).
//
// Per partition, on its leader: the log start moves up to the asked
// offset (-1: the high watermark) and the answer's LowWatermark is the
// new log start. The start is logical: it may fall inside a batch or a
// segment; reads below it fail with OFFSET_OUT_OF_RANGE, ListOffsets
// earliest returns it, and segments are deleted once entirely below it
// (storage.Log.AdvanceLogStart, durable before the answer). Asking for
// less than the current start changes nothing and answers the current
// start. Errors, per partition:
//
//   - UNKNOWN_TOPIC_OR_PARTITION: no such topic or partition here.
//   - INVALID_TOPIC_EXCEPTION: an internal topic (__consumer_offsets), as
//     Kafka's ReplicaManager refuses (Topic.isInternal); the group
//     coordinator trims its own history.
//   - NOT_LEADER_OR_FOLLOWER (or FENCED/UNKNOWN_LEADER_EPOCH): this broker
//     does not lead the partition now.
//   - OFFSET_OUT_OF_RANGE: offset above the high watermark, or below -1.
//   - POLICY_VIOLATION: a topic whose cleanup.policy lacks "delete" (as
//     Kafka), and, here only, a topic with remote.storage.enable=true:
//     its log start is the remote tier's, and deleting records there
//     (remote segments below the offset, remote-aware ListOffsets) is
//     future work.
//   - KAFKA_STORAGE_ERROR: the checkpoint of the new start failed.
//
// Kafka answers only once every live replica's log start has reached the
// offset (DelayedDeleteRecords, bounded by TimeoutMillis). Kafki answers
// once the leader's start has moved, durably; followers take the
// leader's start after their next fetch (node fetcher followLogStart). A
// follower elected leader before that fetch still serves the deleted
// records, a window Kafka's wait closes.

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/topics"
)

const (
	deleteRecordsMin = 0
	deleteRecordsMax = 2
)

func (s *Server) handleDeleteRecords(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LowWatermark = -1
			low, code := s.deleteRecords(t.Topic, p.Partition, p.Offset)
			if code != 0 {
				rp.ErrorCode = rc.errCode(code)
			} else {
				rp.LowWatermark = low
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// deleteRecords serves one partition of a DeleteRecords request and
// returns the new log start, or a Kafka error code.
func (s *Server) deleteRecords(topic string, partition int32, offset int64) (int64, int16) {
	if topics.IsInternal(topic) {
		return -1, kerr.InvalidTopicException.Code
	}
	part := s.topics.Partition(topic, partition)
	if part == nil {
		return -1, kerr.UnknownTopicOrPartition.Code
	}
	if err := part.CheckLeader(-1); err != nil {
		return -1, errorCode(err)
	}
	st := part.Settings()
	if !strings.Contains(st.CleanupPolicy, "delete") && st.CleanupPolicy != "" {
		return -1, kerr.PolicyViolation.Code
	}
	if st.Log.RemoteStorage {
		s.log.Warn("DeleteRecords refused: not supported on tiered topics yet (remote.storage.enable=true)",
			"topic", topic, "partition", partition, "offset", offset)
		return -1, kerr.PolicyViolation.Code
	}
	hw := part.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, kerr.OffsetOutOfRange.Code
	}
	start, err := part.Log().AdvanceLogStart(offset)
	if err != nil {
		s.log.Error("DeleteRecords: advance log start", "topic", topic, "partition", partition, "offset", offset, "err", err)
		return -1, errorCode(err)
	}
	return start, 0
}
