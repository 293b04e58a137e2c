package server

// OffsetDelete (key 47), version 0.
//
// Deletes committed offsets of a group; partitions of topics the group's
// members are subscribed to are refused with GROUP_SUBSCRIBED_TO_TOPIC.
//
// Authorization, as Kafka: DELETE on the group (GROUP_AUTHORIZATION_FAILED
// otherwise) and READ on each topic (its partitions
// TOPIC_AUTHORIZATION_FAILED otherwise).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/groups"
)

const (
	offsetDeleteMin = 0
	offsetDeleteMax = 0
)

func (s *Server) handleOffsetDelete(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	var authz []int
	g := -1
	if !s.allowAll {
		g = rc.ask(auth.OpDelete, auth.Group(req.Group))
		authz = make([]int, len(req.Topics))
		for i, t := range req.Topics {
			authz[i] = rc.ask(auth.OpRead, auth.Topic(t.Topic))
		}
		rc.decide(ctx)
	}
	switch {
	case !rc.allowed(g):
		resp.ErrorCode = rc.errCode(kerr.GroupAuthorizationFailed.Code)
		return resp
	case s.groups == nil:
		resp.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
		return resp
	}
	want := make([]groups.TopicPartitions, 0, len(req.Topics))
	for i, t := range req.Topics {
		if !rc.allowedAt(authz, i) {
			continue
		}
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
	next := 0 // index into codes of the next allowed topic
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		allowed := rc.allowedAt(authz, i)
		for j, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			code := kerr.TopicAuthorizationFailed.Code
			if allowed {
				code = codes[next][j]
			}
			rp.Partition, rp.ErrorCode = p.Partition, rc.errCode(code)
			rt.Partitions = append(rt.Partitions, rp)
		}
		if allowed {
			next++
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
