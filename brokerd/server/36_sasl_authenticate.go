package server

// SaslAuthenticate (key 36), versions 0-2.
//
// One step of the exchange SaslHandshake started: the client's token in,
// the server's out. When the exchange completes the connection's
// principal becomes User:<name> and, with connections.max.reauth.ms set,
// session_lifetime_ms (v1+) tells the client when to re-authenticate
// (KIP-368). A re-authentication must end as the same user.
//
// A failure is SASL_AUTHENTICATION_FAILED with a message that never
// quotes a password nor tells an unknown user from a wrong password; the
// connection is closed after the answer, the failure counted
// (kafki_sasl_authentications_total{result="failed"}) and the client's
// address delayed on its next attempts (sasl.go). A token larger than
// sasl.server.max.receive.size closes the connection without an answer.
// Without a handshake first, or on a listener without SASL, it is
// ILLEGAL_SASL_STATE (and closes an unauthenticated connection).
//
// Needs no authorization.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	saslAuthenticateKey = 36
	saslAuthenticateMin = 0
	saslAuthenticateMax = 2
)

func (s *Server) handleSaslAuthenticate(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := rc.conn
	so := s.opts.SASL
	e := c.sasl.exchange
	if !c.saslListener() || so == nil || e == nil {
		resp.ErrorCode = rc.errCode(kerr.IllegalSaslState.Code)
		msg := "SaslAuthenticate without a SaslHandshake first"
		switch {
		case !c.saslListener():
			// As Kafka's KafkaApis: answered, the connection kept.
			msg = "SaslAuthenticate on a listener without SASL"
			resp.ErrorMessage = &msg
			return resp
		case c.session.SASL.Stage == auth.SASLAuthenticated:
			msg = "SaslAuthenticate request received after successful authentication"
			resp.ErrorMessage = &msg
			return resp
		}
		resp.ErrorMessage = &msg
		c.sasl.closeAfter = errors.New(msg)
		return resp
	}
	if so.MaxReceiveSize > 0 && len(req.SASLAuthBytes) > int(so.MaxReceiveSize) {
		c.sasl.closeAfter = fmt.Errorf("SASL token of %d bytes (sasl.server.max.receive.size %d)", len(req.SASLAuthBytes), so.MaxReceiveSize)
		return nil
	}
	out, done, err := s.saslStep(ctx, c, req.SASLAuthBytes)
	if err != nil {
		msg := err.Error()
		resp.ErrorCode = rc.errCode(kerr.SaslAuthenticationFailed.Code)
		resp.ErrorMessage = &msg
		return resp
	}
	resp.SASLAuthBytes = out
	if done && so.MaxReauth > 0 {
		resp.SessionLifetimeMillis = so.MaxReauth.Milliseconds()
	}
	return resp
}

// saslStep runs one step of the connection's exchange (SaslAuthenticate,
// or a raw token after SaslHandshake v0). When the exchange completes
// the session's principal is the user; an error (client-safe) ends the
// exchange, is counted, and closes the connection after the answer.
func (s *Server) saslStep(ctx context.Context, c *conn, token []byte) (out []byte, done bool, err error) {
	so := s.opts.SASL
	e := c.sasl.exchange
	host := c.session.Host()
	wait(ctx, s.saslFails.delay(host))
	out, done, err = e.Step(token)
	if err == nil && done && c.sasl.reauth && e.User() != c.session.Principal.Name {
		err = fmt.Errorf("authentication failed: cannot change principals during re-authentication from %s to User:%s", c.session.Principal, e.User())
	}
	if err != nil {
		s.saslFailed(c, err)
		return nil, false, err
	}
	if !done {
		return out, false, nil
	}
	ss := c.session
	c.sasl.exchange, c.sasl.reauth = nil, false
	ss.Principal = auth.Principal{Type: auth.PrincipalUser, Name: e.User()}
	ss.SASL = auth.SASL{Mechanism: e.Mechanism(), Stage: auth.SASLAuthenticated}
	c.sasl.authenticated.Store(true)
	if so.MaxReauth > 0 {
		c.sasl.expiry = time.Now().Add(so.MaxReauth)
	}
	s.saslFails.succeeded(host)
	s.metrics.SASLSucceeded.Inc()
	c.log.Debug("SASL authenticated", "principal", ss.Principal.String(), "mechanism", e.Mechanism())
	return out, true, nil
}

// saslFailed ends a failed exchange: the connection closes after the
// answer. err's message is client-safe (package sasl's invariant).
func (s *Server) saslFailed(c *conn, err error) {
	msg := err.Error()
	c.sasl.exchange = nil
	c.sasl.closeAfter = err
	s.saslFails.failed(c.session.Host())
	s.metrics.SASLFailed.Inc()
	c.log.Info("SASL authentication failed", "mechanism", c.session.SASL.Mechanism, "reason", msg)
}
