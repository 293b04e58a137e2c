package server

// DeleteTopics (key 20), versions 1-6; v6 may name topics by id.
//
// The topic leaves the metadata store first, then its logs are closed and
// removed; requests in flight on it get UNKNOWN_TOPIC_OR_PARTITION. In a
// cluster the answer waits, within the request's timeout, until the
// controller has removed the topic's partitions (other brokers delete
// their copies as they see it), so the name can be reused at once.
//
// Authorization, as Kafka: DELETE on each topic, TOPIC_AUTHORIZATION_FAILED
// otherwise; a topic named by id also needs DESCRIBE, without which it is
// answered TOPIC_AUTHORIZATION_FAILED without its name.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"

	"github.com/kafki/kafki/brokerd/meta"
)

const (
	deleteTopicsMin = 1
	deleteTopicsMax = 6
)

func (s *Server) handleDeleteTopics(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for i := range req.TopicNames {
			targets = append(targets, target{name: &req.TopicNames[i]})
		}
	}
	// Resolve names first: authorization is by name.
	names := make([]string, len(targets)) // "": an unknown id
	byID := make([]bool, len(targets))
	for i, tg := range targets {
		if tg.name != nil && *tg.name != "" {
			names[i] = *tg.name
		} else if t := s.topics.TopicByID(meta.TopicID(tg.id)); t != nil {
			names[i], byID[i] = t.Name, true
		}
	}
	del, desc := s.deleteTopicsAuthz(ctx, rc, names, byID)
	for i, tg := range targets {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = tg.name, tg.id
		name := names[i]
		switch {
		case name == "":
			rt.ErrorCode = rc.errCode(kerr.UnknownTopicID.Code)
			resp.Topics = append(resp.Topics, rt)
			continue
		case !rc.allowedAt(desc, i):
			// Named by id and not describable: the name stays secret.
			rt.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
			resp.Topics = append(resp.Topics, rt)
			continue
		case byID[i]:
			rt.Topic = &names[i]
		}
		if !rc.allowedAt(del, i) {
			rt.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		if t := s.topics.Topic(name); t != nil {
			rt.TopicID = t.ID
		}
		if err := s.topics.DeleteTopic(ctx, name); err != nil {
			rt.ErrorCode = rc.errCode(errorCode(err))
			rt.ErrorMessage = errMsg(err)
		} else {
			s.metrics.DeleteTopic(name)
			if code := s.waitGone(ctx, name, req.TimeoutMillis); code != 0 {
				rt.ErrorCode = rc.errCode(code)
				rt.ErrorMessage = kmsg.StringPtr("the controller has not removed the topic's partitions yet; it will")
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// deleteTopicsAuthz asks for DELETE on each named topic, and DESCRIBE on
// those named by id; the verdicts are for rc.allowedAt.
func (s *Server) deleteTopicsAuthz(ctx context.Context, rc *reqCtx, names []string, byID []bool) (del, desc []int) {
	if s.allowAll {
		return nil, nil
	}
	del, desc = make([]int, len(names)), make([]int, len(names))
	for i, name := range names {
		del[i], desc[i] = -1, -1
		if name == "" {
			continue
		}
		del[i] = rc.ask(auth.OpDelete, auth.Topic(name))
		if byID[i] {
			desc[i] = rc.ask(auth.OpDescribe, auth.Topic(name))
		}
	}
	rc.decide(ctx)
	return del, desc
}
