package server

// OffsetForLeaderEpoch (key 23), versions 2-4.
//
// For each partition: the largest leader epoch <= the asked one in the
// log's leader-epoch history, and the offset where it ended (the start of
// the next epoch, or the log end offset for the current one); (-1, -1) for
// an epoch older than the history (KIP-101, KIP-279). Consumers use it to
// detect log truncation after a leader change (KIP-320); followers will use
// it to find where to truncate. Only the leader answers; CurrentLeaderEpoch,
// when given, is checked against its epoch (FENCED_LEADER_EPOCH /
// UNKNOWN_LEADER_EPOCH).
//
// Authorization, as Kafka: CLUSTER_ACTION on the cluster (followers) or
// DESCRIBE on the topic, TOPIC_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	offsetForLeaderEpochMin = 2
	offsetForLeaderEpochMax = 4
)

func (s *Server) handleOffsetForLeaderEpoch(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	var authz []int
	cluster := -1
	if !s.allowAll {
		cluster = rc.ask(auth.OpClusterAction, auth.Cluster())
		authz = make([]int, len(req.Topics))
		for i, t := range req.Topics {
			authz[i] = rc.ask(auth.OpDescribe, auth.Topic(t.Topic))
		}
		rc.decide(ctx)
	}
	for ti, t := range req.Topics {
		denied := !rc.allowed(cluster) && !rc.allowedAt(authz, ti)
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LeaderEpoch, rp.EndOffset = -1, -1
			part := s.topics.Partition(t.Topic, p.Partition)
			var leaderErr error
			if part != nil {
				leaderErr = part.CheckLeader(p.CurrentLeaderEpoch)
			}
			switch {
			case denied:
				rp.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
			case part == nil:
				rp.ErrorCode = rc.errCode(kerr.UnknownTopicOrPartition.Code)
			case leaderErr != nil:
				rp.ErrorCode = rc.errCode(errorCode(leaderErr))
			default:
				rp.LeaderEpoch, rp.EndOffset = part.Log().EndOffsetForEpoch(p.LeaderEpoch)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
