package server

// DescribeAcls (key 29), versions 1-3 (what Kafka 4.x serves: v0 was
// removed by KIP-896).
//
// Answers the bindings the filter selects, grouped by resource pattern,
// from the bindings this broker's authorizer decides with (in a cluster,
// at most one metadata poll behind writes through other brokers). A
// filter with an UNKNOWN element is INVALID_REQUEST; without an ACL
// authorizer (authorizer.class.name empty) SECURITY_DISABLED.
//
// Authorization: DESCRIBE on the cluster, CLUSTER_AUTHORIZATION_FAILED
// otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	describeACLsMin = 1
	describeACLsMax = 3
)

func (s *Server) handleDescribeACLs(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	if !rc.authorize(ctx, auth.OpDescribe, auth.Cluster()) {
		resp.ErrorCode = rc.errCode(kerr.ClusterAuthorizationFailed.Code)
		return resp
	}
	admin := s.aclAdmin()
	if admin == nil {
		resp.ErrorCode, resp.ErrorMessage = rc.errCode(kerr.SecurityDisabled.Code), &securityDisabled
		return resp
	}
	f := aclFilter(req.ResourceType, req.ResourceName, req.ResourcePatternType, req.Principal, req.Host, req.Operation, req.PermissionType)
	if err := f.Validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = rc.errCode(kerr.InvalidRequest.Code), errMsg(err)
		return resp
	}
	// Bindings come sorted by resource pattern: one group per run.
	for _, b := range admin.Describe(f) {
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != kmsg.ACLResourceType(b.Resource.Type) ||
			resp.Resources[n-1].ResourceName != b.Resource.Name || resp.Resources[n-1].ResourcePatternType != kmsg.ACLResourcePatternType(b.Resource.Pattern) {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName = kmsg.ACLResourceType(b.Resource.Type), b.Resource.Name
			res.ResourcePatternType = kmsg.ACLResourcePatternType(b.Resource.Pattern)
			resp.Resources = append(resp.Resources, res)
			n++
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host = b.Principal, b.Host
		a.Operation, a.PermissionType = kmsg.ACLOperation(b.Op), kmsg.ACLPermissionType(b.Permission)
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, a)
	}
	return resp
}
