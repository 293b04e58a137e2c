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
//
// Authorization, as Kafka: READ on the group (every partition
// GROUP_AUTHORIZATION_FAILED otherwise), then READ on each topic (its
// partitions TOPIC_AUTHORIZATION_FAILED otherwise; the others are
// committed).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	offsetCommitMin = 0
	offsetCommitMax = 9
)

func (s *Server) handleOffsetCommit(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.OffsetCommitRequest)
	if req.Version == 0 {
		req.Generation = -1
	}
	var denied []kmsg.OffsetCommitRequestTopic
	if !s.allowAll {
		g := rc.ask(auth.OpRead, auth.Group(req.Group))
		names := make([]string, len(req.Topics))
		for i, t := range req.Topics {
			names[i] = t.Topic
		}
		authz := rc.askTopics(auth.OpRead, names)
		rc.decide(ctx)
		if !rc.allowed(g) {
			return offsetCommitAll(rc, req.ResponseKind().(*kmsg.OffsetCommitResponse), req.Topics, kerr.GroupAuthorizationFailed.Code)
		}
		var kept []kmsg.OffsetCommitRequestTopic
		for i, t := range req.Topics {
			if rc.allowedAt(authz, i) {
				kept = append(kept, t)
			} else {
				denied = append(denied, t)
			}
		}
		req.Topics = kept
	}
	var resp *kmsg.OffsetCommitResponse
	switch {
	case len(req.Topics) == 0 && len(denied) > 0:
		// Nothing left to commit.
		resp = req.ResponseKind().(*kmsg.OffsetCommitResponse)
	case s.groups == nil:
		resp = offsetCommitAll(rc, req.ResponseKind().(*kmsg.OffsetCommitResponse), req.Topics, kerr.CoordinatorNotAvailable.Code)
	default:
		resp = s.groups.OffsetCommit(req)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				rc.errCode(p.ErrorCode)
			}
		}
	}
	return offsetCommitAll(rc, resp, denied, kerr.TopicAuthorizationFailed.Code)
}

// offsetCommitAll answers every partition of ts with code, in resp.
func offsetCommitAll(rc *reqCtx, resp *kmsg.OffsetCommitResponse, ts []kmsg.OffsetCommitRequestTopic, code int16) *kmsg.OffsetCommitResponse {
	for _, t := range ts {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, rc.errCode(code)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
