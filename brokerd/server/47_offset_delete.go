package server

// OffsetDelete (key 47), version 0.
//
// Deletes committed offsets of a group; partitions of topics the group's
// members are subscribed to are refused with GROUP_SUBSCRIBED_TO_TOPIC.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/groups"
)

const (
	offsetDeleteMin = 0
	offsetDeleteMax = 0
)

func (s *Server) handleOffsetDelete(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if s.groups == nil {
		resp.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
		return resp
	}
	want := make([]groups.TopicPartitions, 0, len(req.Topics))
	for _, t := range req.Topics {
		tp := groups.TopicPartitions{Topic: t.Topic}
		for _, p := range t.Partitions {
			tp.Partitions = append(tp.Partitions, p.Partition)
		}
		want = append(want, tp)
	}
	codes, err := s.groups.DeleteOffsets(req.Group, want)
	if err != nil {
		resp.ErrorCode = rc.errCode(errorCode(err))
		return resp
	}
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, rc.errCode(codes[i][j])
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
