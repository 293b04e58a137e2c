package server

// DeleteAcls (key 31), versions 1-3 (Kafka 4.x's range).
//
// Each filter (ANY and MATCH pattern types allowed, as in Kafka) deletes
// every binding it selects among the store's current bindings, and lists
// them; a binding two filters select is listed under both. A filter with
// an UNKNOWN element is INVALID_REQUEST for that filter; the others go
// on. Deletions take effect on this broker before the response, on the
// others within one metadata poll. Without an ACL authorizer every filter
// is SECURITY_DISABLED.
//
// Authorization: ALTER on the cluster, CLUSTER_AUTHORIZATION_FAILED on
// every filter otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
)

const (
	deleteACLsMin = 1
	deleteACLsMax = 3
)

func (s *Server) handleDeleteACLs(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	fail := func(code int16, msg *string) *kmsg.DeleteACLsResponse {
		for i := range resp.Results {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = rc.errCode(code), msg
		}
		return resp
	}
	if !rc.authorize(ctx, auth.OpAlter, auth.Cluster()) {
		return fail(kerr.ClusterAuthorizationFailed.Code, nil)
	}
	admin := s.aclAdmin()
	if admin == nil {
		return fail(kerr.SecurityDisabled.Code, &securityDisabled)
	}
	var filters []acl.Filter
	var at []int
	for i, f := range req.Filters {
		af := aclFilter(f.ResourceType, f.ResourceName, f.ResourcePatternType, f.Principal, f.Host, f.Operation, f.PermissionType)
		if err := af.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = rc.errCode(kerr.InvalidRequest.Code), errMsg(err)
			continue
		}
		filters, at = append(filters, af), append(at, i)
	}
	if len(filters) == 0 {
		return resp
	}
	deleted, err := admin.Delete(ctx, filters)
	if err != nil {
		s.log.Warn("delete ACLs", "err", err)
		for _, i := range at {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = rc.errCode(aclErrCode(err)), errMsg(err)
		}
		return resp
	}
	for j, i := range at {
		for _, b := range deleted[j] {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName = kmsg.ACLResourceType(b.Resource.Type), b.Resource.Name
			m.ResourcePatternType = kmsg.ACLResourcePatternType(b.Resource.Pattern)
			m.Principal, m.Host = b.Principal, b.Host
			m.Operation, m.PermissionType = kmsg.ACLOperation(b.Op), kmsg.ACLPermissionType(b.Permission)
			resp.Results[i].MatchingACLs = append(resp.Results[i].MatchingACLs, m)
		}
	}
	return resp
}
