package server

// DescribeUserScramCredentials (key 50), version 0.
//
// Lists the SCRAM credentials (mechanism and iterations, never salts or
// keys) of the named users, or of every user when the list is null, from
// the broker's users cache (which every broker refreshes within one
// metadata poll of a change). A null or empty list is every user. As
// Kafka 4.x: an unknown user is
// RESOURCE_NOT_FOUND, a user named twice is DUPLICATE_RESOURCE (once).
//
// Authorization: DESCRIBE on the cluster, else the top-level
// CLUSTER_AUTHORIZATION_FAILED.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/sasl"
)

const (
	describeUserScramCredentialsMin = 0
	describeUserScramCredentialsMax = 0
)

func (s *Server) handleDescribeUserScramCredentials(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !rc.authorize(ctx, auth.OpDescribe, auth.Cluster()) {
		resp.ErrorCode = rc.errCode(kerr.ClusterAuthorizationFailed.Code)
		return resp
	}
	if s.opts.Users == nil {
		resp.ErrorCode = rc.errCode(kerr.UnknownServerError.Code)
		msg := "this broker has no user store"
		resp.ErrorMessage = &msg
		return resp
	}
	if len(req.Users) == 0 { // null or empty: every user, as Kafka
		for _, u := range s.opts.Users.Users() {
			resp.Results = append(resp.Results, describedUser(u))
		}
		return resp
	}
	count := map[string]int{}
	for _, u := range req.Users {
		count[u.Name]++
	}
	reported := map[string]bool{}
	for _, ru := range req.Users {
		name := ru.Name
		if reported[name] {
			continue
		}
		reported[name] = true
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		u, ok := s.opts.Users.User(name)
		switch {
		case count[name] > 1:
			res.ErrorCode = rc.errCode(kerr.DuplicateResource.Code)
			res.ErrorMessage = strPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + name)
		case !ok:
			res.ErrorCode = rc.errCode(kerr.ResourceNotFound.Code)
			res.ErrorMessage = strPtr("Attempt to describe a user credential that does not exist: " + name)
		default:
			res = describedUser(u)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

func describedUser(u sasl.User) kmsg.DescribeUserSCRAMCredentialsResponseResult {
	res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
	res.User = u.Name
	for _, m := range []sasl.ScramMechanism{sasl.SHA256, sasl.SHA512} {
		if c, ok := u.Credentials[m]; ok {
			ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
			ci.Mechanism, ci.Iterations = int8(m), int32(c.Iterations)
			res.CredentialInfos = append(res.CredentialInfos, ci)
		}
	}
	return res
}

func strPtr(s string) *string { return &s }
