package server

// LeaveGroup (key 13), versions 0-5; v3+ remove several members, by
// member id or group.instance.id, each with its own error.
//
// Authorization: READ on the group, GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/groups"
)

const (
	leaveGroupMin = 0
	leaveGroupMax = 5
)

func (s *Server) handleLeaveGroup(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if code := s.memberCode(ctx, rc, req.Group); code != 0 {
		resp.ErrorCode = rc.errCode(code)
		return resp
	}
	var leaving []groups.LeaveMember
	if req.Version < 3 {
		leaving = []groups.LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			leaving = append(leaving, groups.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID})
		}
	}
	code, codes := s.groups.LeaveGroup(req.Group, leaving)
	resp.ErrorCode = rc.errCode(code)
	if code != 0 {
		return resp
	}
	if req.Version < 3 {
		resp.ErrorCode = rc.errCode(codes[0])
		return resp
	}
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		rm.ErrorCode = rc.errCode(codes[i])
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
