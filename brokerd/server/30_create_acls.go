package server

// CreateAcls (key 30), versions 1-3 (Kafka 4.x's range).
//
// Each creation is validated as Kafka's AclControlManager does (a
// concrete resource type, LITERAL or PREFIXED, a concrete operation,
// ALLOW or DENY, a non-empty name, "kafka-cluster" for the cluster, a
// Type:Name principal, a host): INVALID_REQUEST with a message for that
// creation otherwise. The valid ones are stored together (creating an
// existing binding succeeds) and take effect on this broker before the
// response, on the others within one metadata poll; a store failure is
// UNKNOWN_SERVER_ERROR on each. Without an ACL authorizer every creation
// is SECURITY_DISABLED.
//
// Authorization: ALTER on the cluster, CLUSTER_AUTHORIZATION_FAILED on
// every creation otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
)

const (
	createACLsMin = 1
	createACLsMax = 3
)

func (s *Server) handleCreateACLs(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewCreateACLsResponseResult()
	}
	fail := func(code int16, msg *string) *kmsg.CreateACLsResponse {
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
	var valid []acl.Binding
	var at []int
	for i, c := range req.Creations {
		b := acl.Binding{
			Resource:  auth.Resource{Type: auth.ResourceType(c.ResourceType), Name: c.ResourceName, Pattern: auth.PatternType(c.ResourcePatternType)},
			Principal: c.Principal, Host: c.Host, Op: auth.Operation(c.Operation), Permission: acl.Permission(c.PermissionType),
		}
		if err := b.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = rc.errCode(kerr.InvalidRequest.Code), errMsg(err)
			continue
		}
		valid, at = append(valid, b), append(at, i)
	}
	if err := admin.Create(ctx, valid); err != nil {
		s.log.Warn("create ACLs", "err", err)
		for _, i := range at {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = rc.errCode(aclErrCode(err)), errMsg(err)
		}
	}
	return resp
}
