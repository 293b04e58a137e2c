package server

// ListGroups (key 16), versions 0-5; v4 filters by state, v5 by type
// (every group here is "classic").
//
// Authorization, as Kafka: with DESCRIBE on the cluster every group is
// listed, otherwise only those the principal may DESCRIBE.

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	listGroupsMin = 0
	listGroupsMax = 5
)

func (s *Server) handleListGroups(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if s.groups == nil {
		resp.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
		return resp
	}
	all := s.groups.ListGroups()
	var authz []int
	if !s.allowAll && !rc.authorize(ctx, auth.OpDescribe, auth.Cluster()) {
		authz = make([]int, len(all))
		for i, g := range all {
			authz[i] = rc.ask(auth.OpDescribe, auth.Group(g.Group))
		}
		rc.decide(ctx)
	}
	for i, g := range all {
		if !rc.allowedAt(authz, i) {
			continue
		}
		if len(req.StatesFilter) > 0 && !containsFold(req.StatesFilter, g.State.String()) {
			continue
		}
		if len(req.TypesFilter) > 0 && !containsFold(req.TypesFilter, "classic") {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.State.String(), "classic"
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
