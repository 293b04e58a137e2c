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

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	offsetForLeaderEpochMin = 2
	offsetForLeaderEpochMax = 4
)

func (s *Server) handleOffsetForLeaderEpoch(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, t := range req.Topics {
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
