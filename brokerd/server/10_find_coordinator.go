package server

// FindCoordinator (key 10), versions 0-6; v4+ batches keys.
//
// Group keys (type 0) are coordinated by the leader of the group's
// partition of __consumer_offsets (this broker on a single node); the first
// lookup creates __consumer_offsets, as in Kafka, and while that
// partition has no leader the answer is COORDINATOR_NOT_AVAILABLE, which
// clients retry. Transactional ids (type 1) likewise: the leader of the
// id's partition of __transaction_state (created by the first lookup)
// coordinates it. An empty group id or transactional id is
// INVALID_REQUEST, as in Kafka.
//
// Authorization, as Kafka: DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED
// otherwise) or on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED otherwise), per key.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/groups"
	"github.com/kafki/kafki/brokerd/topics"
)

// groupCoordinator returns the broker leading group's partition of
// __consumer_offsets.
func (s *Server) groupCoordinator(l *Listener, group string) (brokerAddr, bool) {
	t := s.topics.Topic(topics.OffsetsTopic)
	if t == nil || len(t.Partitions) == 0 {
		return brokerAddr{}, false
	}
	return s.leaderOf(l, topics.OffsetsTopic, groups.PartitionFor(group, int32(len(t.Partitions))))
}

// leaderOf returns the broker leading partition p of topic, as the
// applied metadata has it.
func (s *Server) leaderOf(l *Listener, topic string, p int32) (brokerAddr, bool) {
	st, ok := s.cluster.PartitionState(topic, p)
	if !ok || st.Leader == cluster.NoLeader {
		return brokerAddr{}, false
	}
	return s.brokerByID(l, st.Leader)
}

const (
	findCoordinatorMin = 0
	findCoordinatorMax = 6
)

func (s *Server) handleFindCoordinator(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	var authz []int
	if !s.allowAll {
		authz = make([]int, len(keys))
		for i, k := range keys {
			authz[i] = -1
			switch req.CoordinatorType {
			case 0:
				authz[i] = rc.ask(auth.OpDescribe, auth.Group(k))
			case 1:
				authz[i] = rc.ask(auth.OpDescribe, auth.TransactionalID(k))
			}
		}
		rc.decide(ctx)
	}
	for i, k := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Port = k, -1, -1
		switch {
		case !rc.allowedAt(authz, i) && req.CoordinatorType == 1:
			c.ErrorCode = rc.errCode(kerr.TransactionalIDAuthorizationFailed.Code)
		case !rc.allowedAt(authz, i):
			c.ErrorCode = rc.errCode(kerr.GroupAuthorizationFailed.Code)
		case req.CoordinatorType == 1 && k == "":
			c.ErrorCode = rc.errCode(kerr.InvalidRequest.Code)
			c.ErrorMessage = kmsg.StringPtr("empty transactional id")
		case req.CoordinatorType == 1:
			tc, code := s.txnCoordinator(rc)
			if code != 0 {
				c.ErrorCode = rc.errCode(code)
				break
			}
			if s.cluster == nil {
				c.NodeID, c.Host, c.Port = s.opts.NodeID, rc.conn.listener.Host, rc.conn.listener.Port
				break
			}
			ba, ok := s.leaderOf(rc.conn.listener, topics.TxnStateTopic, tc.PartitionFor(k))
			if !ok {
				c.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
				break
			}
			c.NodeID, c.Host, c.Port = ba.id, ba.host, ba.port
		case req.CoordinatorType != 0:
			c.ErrorCode = rc.errCode(kerr.InvalidRequest.Code)
			c.ErrorMessage = kmsg.StringPtr("unknown coordinator type")
		case k == "":
			c.ErrorCode = rc.errCode(kerr.InvalidRequest.Code)
			c.ErrorMessage = kmsg.StringPtr("empty group id")
		case s.groups == nil:
			c.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
		case s.ensureGroups(ctx) != nil:
			// Creating or loading __consumer_offsets failed (logged).
			c.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
			c.ErrorMessage = kmsg.StringPtr("the group coordinator's state is not available")
		case s.cluster != nil:
			ba, ok := s.groupCoordinator(rc.conn.listener, k)
			if !ok {
				c.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
				break
			}
			c.NodeID, c.Host, c.Port = ba.id, ba.host, ba.port
		default:
			c.NodeID, c.Host, c.Port = s.opts.NodeID, rc.conn.listener.Host, rc.conn.listener.Port
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if req.Version < 4 && len(resp.Coordinators) == 1 {
		c := resp.Coordinators[0]
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
		resp.Coordinators = nil
	}
	return resp
}

// ensureGroups opens the group coordinator's state, creating
// __consumer_offsets on first use. In a cluster another broker may have
// created the topic a moment ago: the create then fails as existing while
// this broker has not applied the topic yet, so it catches up with the
// cluster's metadata once and opens it.
func (s *Server) ensureGroups(ctx context.Context) error {
	err := s.groups.Ensure()
	if err != nil && s.cluster != nil && errors.Is(err, topics.ErrTopicExists) && s.cluster.Sync(ctx) == nil {
		err = s.groups.Ensure()
	}
	return err
}
