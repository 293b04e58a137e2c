package server

// DescribeTopicPartitions (key 75), version 0 (KIP-966).
//
// The admin client's describeTopics (kafka-topics --describe in Kafka 3.8+)
// uses it instead of Metadata when the broker offers it: partition details
// paginated by a cursor, never creating topics. This broker is the only
// replica and leader (epoch 0) of every partition; eligible leader replicas
// are not kept, so ELR lists are empty.
//
// An empty topic list means every topic. Topics are answered sorted by name,
// each once. At most ResponsePartitionLimit partitions (capped at
// describeTopicPartitionsLimit; a non-positive limit means the cap) are
// answered; when more remain, NextCursor names the first partition left
// out, and a request carrying that cursor resumes there. A cursor naming a
// topic that is not in a non-empty request list is INVALID_REQUEST on every
// requested topic, as Kafka answers. Unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for illegal names) and
// count nothing toward the limit.
//
// Authorization, as Kafka: DESCRIBE on each topic; of every topic those not
// describable are left out, a named one is TOPIC_AUTHORIZATION_FAILED
// (whether or not it exists) and counts nothing toward the limit.

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"

	"github.com/kafki/kafki/brokerd/topics"
)

const (
	describeTopicPartitionsMin = 0
	describeTopicPartitionsMax = 0

	// describeTopicPartitionsLimit bounds one response, as Kafka's
	// max.request.partition.size.limit (default 2000) does.
	describeTopicPartitionsLimit = 2000
)

func (s *Server) handleDescribeTopicPartitions(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeTopicPartitionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)

	names, authz := rc.describable(ctx, s.describeTopicPartitionsNames(req), len(req.Topics) == 0)
	if c := req.Cursor; c != nil && len(req.Topics) > 0 && !containsSorted(names, c.Topic) {
		for _, name := range names {
			resp.Topics = append(resp.Topics, describeTopicPartitionsErr(rc, name, kerr.InvalidRequest.Code))
		}
		return resp
	}

	limit := int(req.ResponsePartitionLimit)
	if limit <= 0 || limit > describeTopicPartitionsLimit {
		limit = describeTopicPartitionsLimit
	}
	start := 0
	if req.Cursor != nil {
		start = sort.SearchStrings(names, req.Cursor.Topic)
	}
	for i := start; i < len(names); i++ {
		name := names[i]
		if !rc.allowedAt(authz, i) {
			resp.Topics = append(resp.Topics, describeTopicPartitionsErr(rc, name, kerr.TopicAuthorizationFailed.Code))
			continue
		}
		t := s.topics.Topic(name)
		if t == nil {
			code := kerr.UnknownTopicOrPartition.Code
			if topics.ValidateName(name) != nil {
				code = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, describeTopicPartitionsErr(rc, name, code))
			continue
		}
		if limit == 0 {
			// The previous topic used the last of the budget: resume here.
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name}
			break
		}
		first := int32(0)
		if req.Cursor != nil && i == start && name == req.Cursor.Topic && req.Cursor.Partition > 0 {
			first = req.Cursor.Partition
		}
		rt, next := s.describeTopicPartitionsTopic(t, first, limit)
		resp.Topics = append(resp.Topics, rt)
		limit -= len(rt.Partitions)
		if next >= 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: next}
			break
		}
	}
	return resp
}

// describable asks for DESCRIBE on each named topic. Of every topic
// (all), those not describable are dropped from names (not disclosed);
// otherwise authz holds the verdicts for rc.allowedAt.
func (rc *reqCtx) describable(ctx context.Context, names []string, all bool) (_ []string, authz []int) {
	authz = rc.askTopics(auth.OpDescribe, names)
	rc.decide(ctx)
	if authz == nil || !all {
		return names, authz
	}
	kept := names[:0]
	for i, n := range names {
		if rc.allowedAt(authz, i) {
			kept = append(kept, n)
		}
	}
	return kept, nil
}

// describeTopicPartitionsNames returns the requested topic names (every
// topic for an empty list), sorted and without duplicates.
func (s *Server) describeTopicPartitionsNames(req *kmsg.DescribeTopicPartitionsRequest) []string {
	var names []string
	if len(req.Topics) == 0 {
		for _, t := range s.topics.Topics() {
			names = append(names, t.Name)
		}
	} else {
		for _, rt := range req.Topics {
			names = append(names, rt.Topic)
		}
	}
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out
}

// describeTopicPartitionsTopic describes t's partitions from first on, at
// most limit of them. next is the first partition left out, or -1 when the
// topic was answered to its end.
func (s *Server) describeTopicPartitionsTopic(t *topics.Topic, first int32, limit int) (kmsg.DescribeTopicPartitionsResponseTopic, int32) {
	rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
	name := t.Name
	rt.Topic, rt.TopicID = &name, t.ID
	rt.IsInternal = topics.IsInternal(t.Name)
	n := int32(len(t.Partitions))
	for p := first; p < n; p++ {
		if len(rt.Partitions) == limit {
			return rt, p
		}
		dp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
		dp.Partition = p
		v := s.partitionView(t.Partitions[p])
		dp.LeaderID, dp.LeaderEpoch, dp.Replicas, dp.ISR = v.leader, v.epoch, v.replicas, v.isr
		dp.EligibleLeaderReplicas, dp.LastKnownELR = []int32{}, []int32{}
		dp.OfflineReplicas = []int32{}
		if v.offline != nil {
			dp.OfflineReplicas = v.offline
		}
		dp.ErrorCode = v.code
		rt.Partitions = append(rt.Partitions, dp)
	}
	return rt, -1
}

func describeTopicPartitionsErr(rc *reqCtx, name string, code int16) kmsg.DescribeTopicPartitionsResponseTopic {
	rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
	rt.Topic = &name
	rt.ErrorCode = rc.errCode(code)
	return rt
}

// containsSorted reports whether the sorted slice names holds name.
func containsSorted(names []string, name string) bool {
	i := sort.SearchStrings(names, name)
	return i < len(names) && names[i] == name
}
