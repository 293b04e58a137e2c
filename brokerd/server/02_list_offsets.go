package server

// ListOffsets (key 2), versions 1-10.
//
// Timestamps: -1 latest (the high watermark), -2 earliest (log start),
// -3 the record with the largest timestamp (v7+), -4 earliest local (v8+),
// -5 latest tiered (v9+, -1 when nothing is tiered); any other value finds
// the first offset whose timestamp is at or after it, or -1 when there is
// none. Earliest is the remote tier's start when it holds older data than
// the local log; by-timestamp lookups search the remote tier first (it holds
// the older offsets), then the local log.
//
// Authorization: DESCRIBE on each topic, TOPIC_AUTHORIZATION_FAILED on its
// partitions otherwise.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"

	"github.com/kafki/kafki/brokerd/topics"
)

const (
	listOffsetsMin = 1
	listOffsetsMax = 10
)

func (s *Server) handleListOffsets(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	authz := rc.askEach(auth.OpDescribe, len(req.Topics), func(i int) auth.Resource { return auth.Topic(req.Topics[i].Topic) })
	rc.decide(ctx)
	for ti, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.Timestamp, rp.Offset, rp.LeaderEpoch = -1, -1, -1
			if !rc.allowedAt(authz, ti) {
				rp.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
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
				s.listOffset(ctx, rc, part, p.Timestamp, req.IsolationLevel == 1, &rp)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// listOffset answers one partition of the request, which this broker
// leads, for timestamp ts.
// With readCommitted (isolation level 1) the latest offset is the last
// stable offset, as Kafka answers.
func (s *Server) listOffset(ctx context.Context, rc *reqCtx, part *topics.Partition, ts int64, readCommitted bool, rp *kmsg.ListOffsetsResponseTopicPartition) {
	l := part.Log()
	_, _, rp.LeaderEpoch = part.Role()
	switch ts {
	case -1:
		rp.Offset = part.HighWatermark()
		if readCommitted {
			rp.Offset = l.LastStableOffset(rp.Offset)
		}
	case -2:
		rp.Offset = part.LogStartOffset(ctx)
	case -4:
		rp.Offset = l.LogStartOffset()
	case -5:
		end, ok, err := part.RemoteEnd(ctx)
		if err != nil {
			rp.ErrorCode = rc.errCode(kerr.KafkaStorageError.Code)
		} else if ok {
			rp.Offset = end - 1
		}
	case -3:
		off, at, found, err := l.MaxTimestamp()
		if err != nil {
			rp.ErrorCode = rc.errCode(errorCode(err))
		} else if found {
			rp.Offset, rp.Timestamp = off, at
		}
	default:
		if ts < 0 {
			rp.ErrorCode = rc.errCode(kerr.InvalidRequest.Code)
			return
		}
		off, at, found, err := part.OffsetForTimestamp(ctx, ts)
		if errors.Is(err, topics.ErrRemoteUnavailable) {
			rp.ErrorCode = rc.errCode(kerr.KafkaStorageError.Code)
		} else if err != nil {
			rp.ErrorCode = rc.errCode(errorCode(err))
		} else if found && off < part.HighWatermark() {
			rp.Offset, rp.Timestamp = off, at
		}
	}
}
