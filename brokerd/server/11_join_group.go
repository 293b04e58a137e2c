package server

// JoinGroup (key 11), versions 0-9.
//
// The request blocks until the group's join phase completes (every member
// rejoined, the rebalance timeout ended, or the initial rebalance delay of
// a new group passed); see package groups. v4+ members without an id get
// MEMBER_ID_REQUIRED with one first (KIP-394); v5+ carry group.instance.id
// (static membership, KIP-345); v9 sets SkipAssignment for a returning
// static leader.
//
// Authorization: READ on the group, GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	joinGroupMin = 0
	joinGroupMax = 9
)

func (s *Server) handleJoinGroup(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.JoinGroupRequest)
	if code := s.memberCode(ctx, rc, req.Group); code != 0 {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation = rc.errCode(code), -1
		return resp
	}
	resp := s.groups.JoinGroup(ctx, req, rc.clientID(), rc.clientHost())
	resp.ErrorCode = rc.errCode(resp.ErrorCode)
	return resp
}

// clientID is the request header's client id.
func (rc *reqCtx) clientID() string { return rc.hdr.clientID }

// clientHost is the client's address as Kafka reports member hosts:
// "/" and the IP.
func (rc *reqCtx) clientHost() string { return "/" + rc.session().Host() }
