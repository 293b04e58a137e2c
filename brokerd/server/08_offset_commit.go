package server

// OffsetCommit (key 8), versions 0-9 (v10, topic ids, belongs to the new
// consumer protocol).
//
// Generation -1 with no member id commits for a group without group
// management, allowed while the group is Empty (and creating it when it
// does not exist). A commit with generation >= 0 to a group that does not
// exist gets GROUP_ID_NOT_FOUND from v9 and ILLEGAL_GENERATION before, as
// from Kafka's coordinator. Each partition is checked
// (UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE above
// offset.metadata.max.bytes, OFFSET_OUT_OF_RANGE for a negative offset or
// one beyond the log end where this broker knows the end: standalone, or
// the partition's leader); the valid ones are appended to
// __consumer_offsets before the response.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	offsetCommitMin = 0
	offsetCommitMax = 9
)

func (s *Server) handleOffsetCommit(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.OffsetCommitRequest)
	if req.Version == 0 {
		req.Generation = -1
	}
	var resp *kmsg.OffsetCommitResponse
	if s.groups == nil {
		resp = req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.CoordinatorNotAvailable.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	} else {
		resp = s.groups.OffsetCommit(req)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			rc.errCode(p.ErrorCode)
		}
	}
	return resp
}
