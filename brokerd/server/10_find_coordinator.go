package server

// FindCoordinator (key 10), versions 0-6; v4+ batches keys.
//
// Group keys (type 0) are coordinated by this broker, the only one; the
// first lookup creates __consumer_offsets, as in Kafka. There
// is no transaction coordinator yet, so transactional ids (type 1) get
// COORDINATOR_NOT_AVAILABLE with a message saying so. An empty group id is
// INVALID_REQUEST, as in Kafka.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	findCoordinatorMin = 0
	findCoordinatorMax = 6
)

func (s *Server) handleFindCoordinator(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	for _, k := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Port = k, -1, -1
		switch {
		case req.CoordinatorType == 1:
			c.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
			c.ErrorMessage = kmsg.StringPtr("Kafki has no transaction coordinator yet")
		case req.CoordinatorType != 0:
			c.ErrorCode = rc.errCode(kerr.InvalidRequest.Code)
			c.ErrorMessage = kmsg.StringPtr("unknown coordinator type")
		case k == "":
			c.ErrorCode = rc.errCode(kerr.InvalidRequest.Code)
			c.ErrorMessage = kmsg.StringPtr("empty group id")
		case s.groups == nil:
			c.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
		case s.groups.Ensure() != nil:
			// Creating or loading __consumer_offsets failed (logged).
			c.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
			c.ErrorMessage = kmsg.StringPtr("the group coordinator's state is not available")
		default:
			c.NodeID, c.Host, c.Port = s.cfg.NodeID, s.host, s.port
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
