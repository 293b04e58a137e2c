package server

// AlterUserScramCredentials (key 51), version 0.
//
// Upserts and deletes SCRAM credentials in the metadata store, as Kafka
// 4.x (KIP-554): the client sends the salt and the salted password
// (Hi(password, salt, iterations)), the broker keeps only the salt,
// iterations, StoredKey and ServerKey derived from them. One result per
// user named; a user with any error has none of its changes applied:
//
//   - empty user name: UNACCEPTABLE_CREDENTIAL;
//   - unknown mechanism: UNSUPPORTED_SASL_MECHANISM;
//   - the same user and mechanism twice (deleted and upserted, or
//     upserted twice): DUPLICATE_RESOURCE;
//   - iterations outside 4096..16384, empty salt or salted password:
//     UNACCEPTABLE_CREDENTIAL;
//   - deleting a credential that does not exist: RESOURCE_NOT_FOUND.
//
// The change is durable when answered and every broker accepts it within
// one metadata poll (this one at once: its cache is refreshed before the
// answer).
//
// Authorization: ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED
// for every user.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/sasl"
)

const (
	alterUserScramCredentialsMin = 0
	alterUserScramCredentialsMax = 0
)

// userChange is one credential to put (cred set) or delete.
type userChange struct {
	mech   sasl.ScramMechanism
	delete bool
	cred   sasl.ScramCredential
}

// userError is the first error found for a user.
type userError struct {
	code int16
	msg  string
}

// userAlterations are a request's changes, user by user in request order,
// each user with its changes or its first error.
type userAlterations struct {
	order   []string
	changes map[string][]userChange
	errs    map[string]userError
}

// parseUserAlterations validates the request (Kafka's checks, in the
// file comment) and derives each upserted credential.
func parseUserAlterations(req *kmsg.AlterUserSCRAMCredentialsRequest) *userAlterations {
	ua := &userAlterations{changes: map[string][]userChange{}, errs: map[string]userError{}}
	for _, d := range req.Deletions {
		ua.add(d.Name, userChange{mech: sasl.ScramMechanism(d.Mechanism), delete: true})
	}
	for _, u := range req.Upsertions {
		m := sasl.ScramMechanism(u.Mechanism)
		ch := userChange{mech: m}
		var err error
		if m.Valid() && u.Name != "" {
			ch.cred, err = sasl.CredentialFromSaltedPassword(m, u.Salt, u.SaltedPassword, int(u.Iterations))
		}
		ua.add(u.Name, ch)
		if err != nil {
			ua.fail(u.Name, kerr.UnacceptableCredential.Code, err.Error())
		}
	}
	return ua
}

func (ua *userAlterations) fail(user string, code int16, msg string) {
	if _, ok := ua.errs[user]; !ok {
		ua.errs[user] = userError{code, msg}
	}
}

func (ua *userAlterations) add(user string, ch userChange) {
	if _, seen := ua.changes[user]; !seen {
		ua.order = append(ua.order, user)
		ua.changes[user] = nil
	}
	switch {
	case user == "":
		ua.fail(user, kerr.UnacceptableCredential.Code, "Username must not be empty")
		return
	case !ch.mech.Valid():
		ua.fail(user, kerr.UnsupportedSaslMechanism.Code, fmt.Sprintf("Unknown SCRAM mechanism %d", int8(ch.mech)))
		return
	}
	for _, prev := range ua.changes[user] {
		if prev.mech == ch.mech {
			ua.fail(user, kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request")
			return
		}
	}
	ua.changes[user] = append(ua.changes[user], ch)
}

func (s *Server) handleAlterUserScramCredentials(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	ua := parseUserAlterations(req)
	allowed := rc.authorize(ctx, auth.OpAlter, auth.Cluster())
	wrote := false
	for _, user := range ua.order {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = user
		e, bad := ua.errs[user]
		switch {
		case !allowed:
			res.ErrorCode = rc.errCode(kerr.ClusterAuthorizationFailed.Code)
		case bad:
			res.ErrorCode, res.ErrorMessage = rc.errCode(e.code), strPtr(e.msg)
		case s.opts.Users == nil:
			res.ErrorCode, res.ErrorMessage = rc.errCode(kerr.UnknownServerError.Code), strPtr("this broker has no user store")
		default:
			code, msg := s.applyUserChanges(ctx, user, ua.changes[user])
			wrote = true
			res.ErrorCode = rc.errCode(code)
			if msg != "" {
				res.ErrorMessage = &msg
			}
		}
		resp.Results = append(resp.Results, res)
	}
	if wrote {
		if err := s.opts.Users.Refresh(ctx); err != nil {
			s.log.Warn("refresh SCRAM users after a change", "err", err)
		}
	}
	return resp
}

// applyUserChanges writes one user's changes, deletions checked first
// against the cache so that a missing one changes nothing.
func (s *Server) applyUserChanges(ctx context.Context, user string, chs []userChange) (int16, string) {
	u, _ := s.opts.Users.User(user)
	for _, ch := range chs {
		if _, ok := u.Credentials[ch.mech]; ch.delete && !ok {
			return kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist"
		}
	}
	store := s.opts.Users.Store()
	for _, ch := range chs {
		var err error
		if ch.delete {
			err = store.DeleteScramCredential(ctx, user, ch.mech)
		} else {
			err = store.PutScramCredential(ctx, user, ch.mech, ch.cred)
		}
		switch {
		case errors.Is(err, sasl.ErrNoCredential):
			return kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist"
		case err != nil:
			s.log.Warn("alter SCRAM credential", "user", user, "mechanism", ch.mech.String(), "err", err)
			return kerr.UnknownServerError.Code, "storing the credential failed; see the broker's log"
		}
	}
	return 0, ""
}
