package server

// Heartbeat (key 12), versions 0-4.
//
// Keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to
// rejoin, ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID that it was left behind.
//
// Authorization: READ on the group, GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	heartbeatMin = 0
	heartbeatMax = 4
)

func (s *Server) handleHeartbeat(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if !rc.authorize(ctx, auth.OpRead, auth.Group(req.Group)) {
		resp.ErrorCode = rc.errCode(kerr.GroupAuthorizationFailed.Code)
		return resp
	}
	if s.groups == nil {
		resp.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
		return resp
	}
	resp.ErrorCode = rc.errCode(s.groups.Heartbeat(req))
	return resp
}
