package server

// CreatePartitions (key 37), versions 0-3.
//
// Grows a topic; the count can only increase (INVALID_PARTITIONS). Manual
// assignments may only name this broker.
//
// Authorization: ALTER on each topic, TOPIC_AUTHORIZATION_FAILED otherwise.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	createPartitionsMin = 0
	createPartitionsMax = 3
)

func (s *Server) handleCreatePartitions(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := map[string]int{}
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	authz := rc.askEach(auth.OpAlter, len(req.Topics), func(i int) auth.Resource { return auth.Topic(req.Topics[i].Topic) })
	rc.decide(ctx)
	for i, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		var err error
		code := int16(0)
		switch {
		case seen[t.Topic] > 1:
			code, err = kerr.InvalidRequest.Code, fmt.Errorf("topic %q appears more than once in the request", t.Topic)
		case !rc.allowedAt(authz, i):
			code, err = kerr.TopicAuthorizationFailed.Code, fmt.Errorf("not authorized to ALTER topic %q", t.Topic)
		default:
			for _, a := range t.Assignment {
				if len(a.Replicas) != 1 || a.Replicas[0] != s.opts.NodeID {
					code, err = kerr.InvalidReplicaAssignment.Code, fmt.Errorf("replicas %v, but the only broker is %d", a.Replicas, s.opts.NodeID)
				}
			}
			if err == nil {
				err = s.topics.CreatePartitions(ctx, t.Topic, t.Count, req.ValidateOnly)
				code = errorCode(err)
			}
			if err == nil && !req.ValidateOnly {
				if c := s.waitPlaced(ctx, t.Topic, t.Count, req.TimeoutMillis); c != 0 {
					code, err = c, fmt.Errorf("the controller has not placed the new partitions yet; it will")
				}
			}
		}
		if err != nil {
			rt.ErrorCode = rc.errCode(code)
			rt.ErrorMessage = errMsg(err)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
