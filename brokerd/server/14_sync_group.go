package server

// SyncGroup (key 14), versions 0-5.
//
// The leader's request carries the assignment; every member's request
// blocks until it is durable in __consumer_offsets, then returns that
// member's part. v5 checks the protocol type and name the client names.
//
// Authorization: READ on the group, GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	syncGroupMin = 0
	syncGroupMax = 5
)

func (s *Server) handleSyncGroup(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.SyncGroupRequest)
	if code := s.memberCode(ctx, rc, req.Group); code != 0 {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = rc.errCode(code)
		return resp
	}
	resp := s.groups.SyncGroup(ctx, req)
	resp.ErrorCode = rc.errCode(resp.ErrorCode)
	return resp
}
