package server

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
)

// What the ACL APIs (29_describe_acls.go, 30_create_acls.go,
// 31_delete_acls.go) and KIP-430's authorized operations share.

// aclAdmin is an authorizer that keeps ACL bindings (acl.Authorizer).
// With any other authorizer (the default, allow-all) the ACL APIs answer
// SECURITY_DISABLED, as Kafka without an authorizer.
type aclAdmin interface {
	Describe(acl.Filter) []acl.Binding
	Create(context.Context, []acl.Binding) error
	Delete(context.Context, []acl.Filter) ([][]acl.Binding, error)
}

func (s *Server) aclAdmin() aclAdmin {
	a, _ := s.authz.(aclAdmin)
	return a
}

// aclErrCode is the code of a failed ACL store operation: INVALID_REQUEST
// for a binding or filter that is not valid, else UNKNOWN_SERVER_ERROR
// (the store failed; the message says how).
func aclErrCode(err error) int16 {
	if errors.Is(err, acl.ErrInvalid) {
		return kerr.InvalidRequest.Code
	}
	return kerr.UnknownServerError.Code
}

// securityDisabled is the message of SECURITY_DISABLED.
var securityDisabled = "no authorizer is configured on the broker (authorizer.class.name)"

// aclFilter converts a protocol filter; PatternType is LITERAL before v1.
func aclFilter(rt kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType, principal, host *string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) acl.Filter {
	return acl.Filter{
		ResourceType: auth.ResourceType(rt), Name: name, Pattern: auth.PatternType(pt),
		Principal: principal, Host: host, Op: auth.Operation(op), Permission: acl.Permission(perm),
	}
}

// supportedOps are the operations Kafka lists per resource type
// (AclEntry.supportedOperations): what a KIP-430 bitfield reports on.
var supportedOps = map[auth.ResourceType][]auth.Operation{
	auth.ResourceTopic: {auth.OpRead, auth.OpWrite, auth.OpCreate, auth.OpDescribe, auth.OpDelete, auth.OpAlter,
		auth.OpDescribeConfigs, auth.OpAlterConfigs},
	auth.ResourceGroup: {auth.OpRead, auth.OpDescribe, auth.OpDelete, auth.OpDescribeConfigs, auth.OpAlterConfigs},
	auth.ResourceCluster: {auth.OpCreate, auth.OpClusterAction, auth.OpDescribeConfigs, auth.OpAlterConfigs,
		auth.OpIdempotentWrite, auth.OpAlter, auth.OpDescribe},
	auth.ResourceTransactionalID: {auth.OpDescribe, auth.OpWrite},
}

// authorizedOps is the KIP-430 bitfield (bit i: operation code i) of the
// operations of r's type that the request's principal may perform on r,
// as Kafka's AuthHelper.authorizedOperations: every supported operation
// when nothing is authorized, none without DESCRIBE.
func (rc *reqCtx) authorizedOps(ctx context.Context, r auth.Resource) int32 {
	ops := supportedOps[r.Type]
	var bits int32
	if rc.s.allowAll {
		for _, op := range ops {
			bits |= 1 << op
		}
		return bits
	}
	idx := make([]int, len(ops))
	for i, op := range ops {
		idx[i] = rc.ask(op, r)
	}
	rc.decide(ctx)
	for i, op := range ops {
		if rc.allowed(idx[i]) {
			bits |= 1 << op
		}
	}
	if bits&(1<<auth.OpDescribe) == 0 {
		// Kafka reports nothing on a resource the principal may not
		// describe (its handlers check DESCRIBE first).
		return 0
	}
	return bits
}

// metadataAuthorizedOps fills the authorized operations a Metadata
// request asks for (v8+): each answered topic's, and the cluster's
// (v8-10).
func (s *Server) metadataAuthorizedOps(ctx context.Context, rc *reqCtx, req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) {
	if req.Version < 8 {
		return
	}
	if req.IncludeTopicAuthorizedOperations {
		for i := range resp.Topics {
			t := &resp.Topics[i]
			if t.Topic != nil && *t.Topic != "" && t.ErrorCode != kerr.TopicAuthorizationFailed.Code {
				t.AuthorizedOperations = rc.authorizedOps(ctx, auth.Topic(*t.Topic))
			}
		}
	}
	if req.IncludeClusterAuthorizedOperations && req.Version <= 10 {
		resp.AuthorizedOperations = rc.authorizedOps(ctx, auth.Cluster())
	}
}
