package server

// DeleteGroups (key 42), versions 0-2.
//
// Only Empty groups can be deleted (NON_EMPTY_GROUP otherwise); an
// unknown one is GROUP_ID_NOT_FOUND. The group's offsets and metadata
// become tombstones in __consumer_offsets.
//
// Authorization: DELETE on each group, GROUP_AUTHORIZATION_FAILED for it
// otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	deleteGroupsMin = 0
	deleteGroupsMax = 2
)

func (s *Server) handleDeleteGroups(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	authz := rc.askEach(auth.OpDelete, len(req.Groups), func(i int) auth.Resource { return auth.Group(req.Groups[i]) })
	rc.decide(ctx)
	for i, id := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		if !rc.allowedAt(authz, i) {
			rg.ErrorCode = rc.errCode(kerr.GroupAuthorizationFailed.Code)
		} else if s.groups == nil {
			rg.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
		} else {
			rg.ErrorCode = rc.errCode(errorCode(s.groups.DeleteGroup(id)))
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
