package server

// SaslHandshake (key 17), versions 0-1.
//
// On a SASL listener: picks the mechanism of the SaslAuthenticate
// exchanges that follow and lists the enabled ones (sasl.enabled.mechanisms).
// A mechanism not enabled is UNSUPPORTED_SASL_MECHANISM, and the
// connection is closed after the answer, as Kafka does. A second
// handshake during an exchange is ILLEGAL_SASL_STATE (closed too). On an
// authenticated connection a handshake starts re-authentication (KIP-368)
// with the same mechanism; another mechanism is UNSUPPORTED_SASL_MECHANISM.
// On a listener without SASL it is ILLEGAL_SASL_STATE, as Kafka's
// KafkaApis answers it.
//
// After version 0 the client sends bare SASL tokens, size-prefixed
// without a Kafka header, as Kafka 0.9's clients do (sasl.go,
// rawSASLToken), until the exchange ends; a failure then closes the
// connection without an answer, as in Kafka. Version 1 is followed by
// SaslAuthenticate requests. (librdkafka requires version 0 to be listed
// before it uses version 1.) Re-authentication needs version 1.
//
// Needs no authorization.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	saslHandshakeKey = 17
	saslHandshakeMin = 0
	saslHandshakeMax = 1
)

func (s *Server) handleSaslHandshake(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	c := rc.conn
	if !c.saslListener() || s.opts.SASL == nil {
		resp.ErrorCode = rc.errCode(kerr.IllegalSaslState.Code)
		return resp
	}
	a := s.opts.SASL.Authenticator
	resp.SupportedMechanisms = a.Mechanisms()
	ss := c.session
	switch {
	case c.sasl.exchange != nil:
		resp.ErrorCode = rc.errCode(kerr.IllegalSaslState.Code)
		c.sasl.closeAfter = errors.New("SaslHandshake during a SASL exchange")
		return resp
	case ss.SASL.Stage == auth.SASLAuthenticated && s.opts.SASL.MaxReauth == 0:
		// Re-authentication is off: Kafka's KafkaApis answers the
		// handshake of an authenticated connection so, and keeps it.
		resp.ErrorCode = rc.errCode(kerr.IllegalSaslState.Code)
		return resp
	case ss.SASL.Stage == auth.SASLAuthenticated && req.Mechanism != ss.SASL.Mechanism:
		resp.ErrorCode = rc.errCode(kerr.UnsupportedSaslMechanism.Code)
		c.sasl.closeAfter = errors.New("re-authentication with another SASL mechanism (" + req.Mechanism + ", was " + ss.SASL.Mechanism + ")")
		return resp
	}
	e, err := a.Start(req.Mechanism)
	if err != nil {
		resp.ErrorCode = rc.errCode(kerr.UnsupportedSaslMechanism.Code)
		c.sasl.closeAfter = err
		return resp
	}
	c.sasl.exchange = e
	if req.Version == 0 {
		if ss.SASL.Stage == auth.SASLAuthenticated {
			resp.ErrorCode = rc.errCode(kerr.IllegalSaslState.Code)
			c.sasl.closeAfter = errors.New("re-authentication needs SaslHandshake v1")
			return resp
		}
		c.sasl.rawTokens.Store(true)
	}
	if ss.SASL.Stage == auth.SASLAuthenticated {
		c.sasl.reauth = true
	} else {
		ss.SASL = auth.SASL{Mechanism: req.Mechanism, Stage: auth.SASLInProgress}
	}
	return resp
}
