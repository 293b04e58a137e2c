package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/sasl"
)

// SASL on a SASL_PLAINTEXT or SASL_SSL listener, as Kafka's
// SaslServerAuthenticator:
//
//   - Before authentication a connection may send only ApiVersions,
//     SaslHandshake (17_sasl_handshake.go) and SaslAuthenticate
//     (36_sasl_authenticate.go); anything else closes it, and so does a
//     frame larger than sasl.server.max.receive.size.
//   - A failed authentication is answered with SASL_AUTHENTICATION_FAILED
//     and its message, counted (kafki_sasl_authentications_total), and
//     the connection is closed. Each failure from an address makes that
//     address's next attempts wait (failureBackoff), so a password cannot
//     be guessed at line rate.
//   - With connections.max.reauth.ms (SASLOptions.MaxReauth) a session
//     lives that long (KIP-368, SaslAuthenticate v1+ tells the client): a
//     connection past it that sends anything but a new SaslHandshake and
//     SaslAuthenticate is closed, and re-authentication must name the
//     same user with the same mechanism.

// SASLOptions are a server's SASL settings.
type SASLOptions struct {
	// Authenticator checks the exchanges of the enabled mechanisms.
	Authenticator *sasl.Authenticator
	// MaxReauth is connections.max.reauth.ms: how long an authenticated
	// session lives before the client must re-authenticate; 0: forever.
	MaxReauth time.Duration
	// MaxReceiveSize is sasl.server.max.receive.size: the largest frame an
	// unauthenticated connection may send.
	MaxReceiveSize int32
	// FailureDelay is connection.failed.authentication.delay.ms: the wait
	// of an address's first attempt after a failure; it doubles with each
	// further failure up to MaxFailureDelay.
	FailureDelay, MaxFailureDelay time.Duration
}

// saslConn is a connection's SASL state beyond auth.Session's: the
// exchange under way and the session's expiry. Owned by the processor
// goroutine, like the session.
type saslConn struct {
	exchange *sasl.Exchange // non-nil between SaslHandshake and the end of its exchange
	// reauth: the exchange re-authenticates an authenticated session
	// (KIP-368); the principal must not change.
	reauth bool
	// expiry is when the authenticated session ends (zero: never).
	expiry time.Time
	// authenticated is set once the first exchange succeeded; the reader
	// goroutine reads it to lift the pre-authentication frame limit.
	authenticated atomic.Bool
	// rawTokens: SaslHandshake v0 chose the mechanism, so the frames
	// until the exchange ends are bare SASL tokens (size, then bytes; no
	// Kafka header), as Kafka 0.9's clients send them, and so are the
	// answers. Set by the processor before the handshake's answer is
	// written, so the reader sees it before the first token arrives.
	rawTokens atomic.Bool
	// closeAfter, when set by a handler, closes the connection once its
	// response is written (a failed authentication), with this reason.
	closeAfter error
}

// saslListener reports whether the connection's listener uses SASL.
func (c *conn) saslListener() bool {
	p := c.session.Protocol
	return p == auth.SASLPlaintext || p == auth.SASLSSL
}

// maxFrame is the largest request frame the reader accepts now.
func (c *conn) maxFrame() int32 {
	if c.saslListener() && !c.sasl.authenticated.Load() {
		if so := c.s.opts.SASL; so != nil && so.MaxReceiveSize > 0 {
			return min(so.MaxReceiveSize, c.s.opts.MaxRequestBytes)
		}
	}
	return c.s.opts.MaxRequestBytes
}

// minFrame is the smallest frame the reader accepts now: a request
// header is at least 10 bytes, a raw SASL token may be empty.
func (c *conn) minFrame() int32 {
	if c.sasl.rawTokens.Load() {
		return 0
	}
	return 10
}

// rawSASLToken handles a frame that is a bare SASL token (after
// SaslHandshake v0) and answers with a bare token. A failure closes the
// connection without an answer: this framing has no place for an error,
// and Kafka closes too.
func (s *Server) rawSASLToken(c *conn, f frame) error {
	if c.sasl.exchange == nil {
		return errors.New("raw SASL token without an exchange")
	}
	out, done, err := s.saslStep(s.drain, c, f.buf)
	if err != nil {
		return err
	}
	if done {
		c.sasl.rawTokens.Store(false)
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(out)), uint32(len(out)))
	b = append(b, out...)
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("write SASL token: %w", err)
	}
	s.metrics.NetBytesOut.Add(float64(len(b)))
	return nil
}

// saslGate decides whether a request may be handled on this connection
// now; an error closes the connection, as Kafka does.
func (c *conn) saslGate(key int16) error {
	if !c.saslListener() {
		return nil
	}
	switch key {
	case apiVersionsKey, saslHandshakeKey, saslAuthenticateKey:
		return nil
	}
	ss := c.session
	if ss.SASL.Stage != auth.SASLAuthenticated {
		return fmt.Errorf("%s request before SASL authentication completed", apiName(key))
	}
	if !c.sasl.expiry.IsZero() && time.Now().After(c.sasl.expiry) {
		return fmt.Errorf("%s request after the SASL session expired (connections.max.reauth.ms); the client must re-authenticate", apiName(key))
	}
	return nil
}

// failureBackoff remembers recent authentication failures per client
// address, in a bounded LRU (an attacker with many addresses evicts old
// entries instead of growing memory), and says how long an address's
// next attempt waits.
type failureBackoff struct {
	base, max time.Duration
	mu        sync.Mutex // serialises read-modify-write of entries
	recent    *lru.Cache[string, failures]
}

type failures struct {
	n    int
	last time.Time
}

// backoffAddresses bounds the addresses remembered.
const backoffAddresses = 4096

// backoffForget: failures older than this are forgotten.
const backoffForget = time.Minute

func newFailureBackoff(o *SASLOptions) *failureBackoff {
	b := &failureBackoff{base: 100 * time.Millisecond, max: 5 * time.Second}
	if o != nil {
		if o.FailureDelay > 0 {
			b.base = o.FailureDelay
		}
		if o.MaxFailureDelay > 0 {
			b.max = o.MaxFailureDelay
		}
	}
	b.recent, _ = lru.New[string, failures](backoffAddresses)
	return b
}

// delay is how long host's next attempt waits: 0 without a recent
// failure, base after one, doubling up to max.
func (b *failureBackoff) delay(host string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.recent.Get(host)
	if !ok || time.Since(f.last) > backoffForget {
		return 0
	}
	d := b.base
	for i := 1; i < f.n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

func (b *failureBackoff) failed(host string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, _ := b.recent.Get(host)
	if time.Since(f.last) > backoffForget {
		f.n = 0
	}
	b.recent.Add(host, failures{n: f.n + 1, last: time.Now()})
}

func (b *failureBackoff) succeeded(host string) { b.recent.Remove(host) }

// wait sleeps d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
