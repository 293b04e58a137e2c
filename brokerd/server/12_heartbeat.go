package server

// Heartbeat (key 12), versions 0-4.
//
// Keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to
// rejoin, ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID that it was left behind.
//
// Authorization: READ on the group, GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	heartbeatMin = 0
	heartbeatMax = 4
)

func (s *Server) handleHeartbeat(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if code := s.memberCode(ctx, rc, req.Group); code != 0 {
		resp.ErrorCode = rc.errCode(code)
		return resp
	}
	resp.ErrorCode = rc.errCode(s.groups.Heartbeat(req))
	return resp
}
