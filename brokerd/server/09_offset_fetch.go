package server

// OffsetFetch (key 9), versions 0-9; v8+ fetch several groups at once.
//
// A null topic list (v2+) fetches every committed offset of the group.
// Partitions without a commit report offset -1. RequireStable (v7+) needs
// nothing: without transactions no offset is ever pending.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/groups"
)

const (
	offsetFetchMin = 0
	offsetFetchMax = 9
)

func (s *Server) handleOffsetFetch(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
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
		offs, code := s.fetchOffsets(req.Group, want)
		resp.ErrorCode = rc.errCode(code)
		for _, t := range groupByTopic(offs) {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t[0].Topic
			for _, o := range t {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
				rp.ErrorCode = code
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
		offs, code := s.fetchOffsets(g.Group, want)
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group = g.Group
		rg.ErrorCode = rc.errCode(code)
		for _, t := range groupByTopic(offs) {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = t[0].Topic
			for _, o := range t {
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
				rt.Partitions = append(rt.Partitions, rp)
			}
			rg.Topics = append(rg.Topics, rt)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func (s *Server) fetchOffsets(group string, want []groups.TopicPartitions) ([]groups.CommittedOffset, int16) {
	if s.groups == nil {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	offs, err := s.groups.FetchOffsets(group, want)
	if err != nil {
		return nil, errorCode(err)
	}
	return offs, 0
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
