package server

// DescribeGroups (key 15), versions 0-5.
//
// An unknown group is described as Dead with no error, as Kafka does
// before v6. Members carry their metadata for the chosen protocol and
// their assignment.
//
// Authorization: DESCRIBE on each group, GROUP_AUTHORIZATION_FAILED for it
// otherwise. v3+ return the group's authorized operations when asked
// (KIP-430).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	describeGroupsMin = 0
	describeGroupsMax = 5
)

func (s *Server) handleDescribeGroups(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	authz := rc.askEach(auth.OpDescribe, len(req.Groups), func(i int) auth.Resource { return auth.Group(req.Groups[i]) })
	rc.decide(ctx)
	for i, id := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = id
		rg.AuthorizedOperations = -2147483648 // not requested
		switch {
		case !rc.allowedAt(authz, i):
			rg.ErrorCode = rc.errCode(kerr.GroupAuthorizationFailed.Code)
		case s.groups == nil:
			rg.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
		case id == "":
			rg.ErrorCode = rc.errCode(kerr.InvalidGroupID.Code)
		default:
			d := s.groups.DescribeGroup(id)
			if d.ErrorCode != 0 {
				// Not coordinated here (a cluster moved it).
				rg.ErrorCode = rc.errCode(d.ErrorCode)
				break
			}
			rg.State, rg.ProtocolType, rg.Protocol = d.State.String(), d.ProtocolType, d.Protocol
			if req.IncludeAuthorizedOperations {
				rg.AuthorizedOperations = rc.authorizedOps(ctx, auth.Group(id))
			}
			for _, m := range d.Members {
				rm := kmsg.NewDescribeGroupsResponseGroupMember()
				rm.MemberID, rm.ClientID, rm.ClientHost = m.MemberID, m.ClientID, m.Host
				if m.InstanceID != "" {
					rm.InstanceID = kmsg.StringPtr(m.InstanceID)
				}
				rm.ProtocolMetadata, rm.MemberAssignment = nonNil(m.Metadata), nonNil(m.Assignment)
				rg.Members = append(rg.Members, rm)
			}
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
