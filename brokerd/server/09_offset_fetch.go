package server

// OffsetFetch (key 9), versions 0-9; v8+ fetch several groups at once.
//
// A null topic list (v2+) fetches every committed offset of the group.
// Partitions without a commit report offset -1. With RequireStable (v7+)
// a partition an open transaction has committed an offset of
// (TxnOffsetCommit, not yet visible) answers UNSTABLE_OFFSET_COMMIT and
// offset -1, as Kafka, and the client retries; without it the last
// visible offset is returned.
//
// Authorization, as Kafka: DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED
// for the group otherwise), DESCRIBE on each topic: a named topic's
// partitions are TOPIC_AUTHORIZATION_FAILED otherwise, and with all topics
// asked for the topics not describable are left out.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/groups"
)

const (
	offsetFetchMin = 0
	offsetFetchMax = 9
)

func (s *Server) handleOffsetFetch(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version < 8 {
		var want []groups.TopicPartitions
		if req.Topics != nil {
			want = []groups.TopicPartitions{}
			for _, t := range req.Topics {
				want = append(want, groups.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		offs, denied, code := s.fetchOffsets(ctx, rc, req.Group, want)
		resp.ErrorCode = rc.errCode(code)
		for _, t := range groupByTopic(offs) {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t[0].Topic
			for _, o := range t {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
				rp.ErrorCode = code
				switch {
				case denied[o.Topic]:
					rp.Offset, rp.LeaderEpoch, rp.Metadata = -1, -1, nil
					rp.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
				case req.RequireStable && o.Unstable:
					rp.Offset, rp.LeaderEpoch, rp.Metadata = -1, -1, nil
					rp.ErrorCode = rc.errCode(kerr.UnstableOffsetCommit.Code)
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, g := range req.Groups {
		var want []groups.TopicPartitions
		if g.Topics != nil {
			want = []groups.TopicPartitions{}
			for _, t := range g.Topics {
				want = append(want, groups.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		offs, denied, code := s.fetchOffsets(ctx, rc, g.Group, want)
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group = g.Group
		rg.ErrorCode = rc.errCode(code)
		for _, t := range groupByTopic(offs) {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = t[0].Topic
			for _, o := range t {
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
				switch {
				case denied[o.Topic]:
					rp.Offset, rp.LeaderEpoch, rp.Metadata = -1, -1, nil
					rp.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
				case req.RequireStable && o.Unstable:
					rp.Offset, rp.LeaderEpoch, rp.Metadata = -1, -1, nil
					rp.ErrorCode = rc.errCode(kerr.UnstableOffsetCommit.Code)
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			rg.Topics = append(rg.Topics, rt)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

// fetchOffsets returns a group's committed offsets of want (nil: all),
// once the caller may describe the group; denied are the topics of want it
// may not describe (their offsets are not to be disclosed); those of all
// topics are left out.
func (s *Server) fetchOffsets(ctx context.Context, rc *reqCtx, group string, want []groups.TopicPartitions) ([]groups.CommittedOffset, map[string]bool, int16) {
	if !rc.authorize(ctx, auth.OpDescribe, auth.Group(group)) {
		return nil, nil, kerr.GroupAuthorizationFailed.Code
	}
	if s.groups == nil {
		return nil, nil, kerr.CoordinatorNotAvailable.Code
	}
	offs, err := s.groups.FetchOffsets(group, want)
	if err != nil {
		return nil, nil, errorCode(err)
	}
	if s.allowAll {
		return offs, nil, 0
	}
	ask := map[string]int{}
	for _, o := range offs {
		if _, ok := ask[o.Topic]; !ok {
			ask[o.Topic] = rc.ask(auth.OpDescribe, auth.Topic(o.Topic))
		}
	}
	rc.decide(ctx)
	denied := map[string]bool{}
	kept := make([]groups.CommittedOffset, 0, len(offs))
	for _, o := range offs {
		switch {
		case rc.allowed(ask[o.Topic]):
			kept = append(kept, o)
		case want != nil:
			denied[o.Topic] = true
			kept = append(kept, o)
		}
	}
	return kept, denied, 0
}

// groupByTopic splits offsets into runs of one topic, keeping order.
func groupByTopic(offs []groups.CommittedOffset) [][]groups.CommittedOffset {
	var out [][]groups.CommittedOffset
	idx := map[string]int{}
	for _, o := range offs {
		i, ok := idx[o.Topic]
		if !ok {
			i = len(out)
			idx[o.Topic] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], o)
	}
	return out
}
