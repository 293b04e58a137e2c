package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xdg-go/scram"
)

// Errors of authentication; test with errors.Is.
var (
	// ErrAuthenticationFailed: the client did not prove who it is
	// (Kafka's SASL_AUTHENTICATION_FAILED). The wrapping error's message
	// is safe to send to the client.
	ErrAuthenticationFailed = errors.New("authentication failed")
	// ErrUnsupportedMechanism: the mechanism is not enabled (Kafka's
	// UNSUPPORTED_SASL_MECHANISM).
	ErrUnsupportedMechanism = errors.New("unsupported SASL mechanism")
)

// Options configure an Authenticator.
type Options struct {
	// Mechanisms are the enabled mechanisms (sasl.enabled.mechanisms),
	// each PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanisms []string
	// Credentials are the SCRAM credentials, which SCRAM checks and PLAIN
	// derives against.
	Credentials Credentials
	// PlainUsers are the development PLAIN users (user name to password,
	// ReadPlainFile); checked before Credentials.
	PlainUsers map[string]string
}

// Authenticator starts SASL exchanges. Immutable; safe for concurrent use.
type Authenticator struct {
	mechanisms []string
	creds      Credentials
	plain      map[string][32]byte // user -> SHA-256 of the password, compared in constant time
	// decoy keys the made-up salts of unknown SCRAM users: random per
	// process, so the salts reveal nothing but are stable for one user.
	decoy [32]byte
}

// New checks o and returns an authenticator.
func New(o Options) (*Authenticator, error) {
	if len(o.Mechanisms) == 0 {
		return nil, errors.New("no SASL mechanism enabled")
	}
	a := &Authenticator{creds: o.Credentials, plain: map[string][32]byte{}}
	for _, m := range o.Mechanisms {
		if _, ok := ParseScramMechanism(m); !ok && m != Plain {
			return nil, fmt.Errorf("SASL mechanism %q: Kafki supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", m)
		}
		if !slices.Contains(a.mechanisms, m) {
			a.mechanisms = append(a.mechanisms, m)
		}
	}
	if a.creds == nil {
		a.creds = Chain(nil)
	}
	for u, p := range o.PlainUsers {
		a.plain[u] = sha256.Sum256([]byte(p))
	}
	if _, err := rand.Read(a.decoy[:]); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return a, nil
}

// Mechanisms are the enabled mechanisms, as SaslHandshake lists them.
func (a *Authenticator) Mechanisms() []string { return slices.Clone(a.mechanisms) }

// Start begins an exchange of mechanism; ErrUnsupportedMechanism if it is
// not enabled.
func (a *Authenticator) Start(mechanism string) (*Exchange, error) {
	if !slices.Contains(a.mechanisms, mechanism) {
		return nil, fmt.Errorf("%w %q: enabled are %s", ErrUnsupportedMechanism, mechanism, strings.Join(a.mechanisms, ", "))
	}
	e := &Exchange{a: a, mechanism: mechanism}
	if m, ok := ParseScramMechanism(mechanism); ok {
		srv, err := m.hashGen().NewServer(func(user string) (scram.StoredCredentials, error) {
			c, ok := a.creds.ScramCredential(user, m)
			if !ok {
				c = a.decoyCredential(m, user)
			}
			e.cred, e.scramMech = c, m
			return scram.StoredCredentials{
				KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
				StoredKey:  c.StoredKey, ServerKey: c.ServerKey,
			}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("scram server: %w", err)
		}
		e.scram = srv.NewConversation()
	}
	return e, nil
}

// decoyCredential is what SCRAM tells a client about an unknown user: a
// salt stable for the name and keys no password derives, so the client's
// proof fails at the same step as a wrong password's.
func (a *Authenticator) decoyCredential(m ScramMechanism, user string) ScramCredential {
	mac := hmac.New(sha256.New, a.decoy[:])
	mac.Write([]byte{byte(m)})
	mac.Write([]byte(user))
	sum := mac.Sum(nil)
	key := make([]byte, len(sum))
	_, _ = rand.Read(key)
	return ScramCredential{Salt: sum[:24], StoredKey: key, ServerKey: key, Iterations: MinIterations}
}

// Exchange is one SASL authentication in progress: a mechanism and its
// state. Not safe for concurrent use (a connection runs one at a time).
type Exchange struct {
	a         *Authenticator
	mechanism string
	scram     *scram.ServerConversation // SCRAM only
	user      string
	steps     int // Steps taken so far
	// SCRAM's first messages and the credential, for the final step of
	// clients that repeat their nonce (finalLenient).
	clientFirst, serverFirst string
	cred                     ScramCredential
	scramMech                ScramMechanism
	done                     bool
}

// Mechanism is the exchange's mechanism.
func (e *Exchange) Mechanism() string { return e.mechanism }

// User is the authenticated user once Step reported done.
func (e *Exchange) User() string { return e.user }

// failed is an authentication failure with a client-safe reason.
func (e *Exchange) failed(reason string) error {
	e.done = true
	return fmt.Errorf("%w: %s", ErrAuthenticationFailed, reason)
}

// invalidCredentials is Kafka's message for a wrong password or an
// unknown user (SaslServerAuthenticator), which tells neither apart.
func (e *Exchange) invalidCredentials() error {
	return e.failed("invalid credentials with SASL mechanism " + e.mechanism)
}

// Step takes the client's next message and returns the server's answer;
// done is set once the client is authenticated (User names it). An error
// ends the exchange and wraps ErrAuthenticationFailed.
func (e *Exchange) Step(msg []byte) (resp []byte, done bool, err error) {
	if e.done {
		return nil, false, e.failed("the SASL exchange is already over")
	}
	if e.scram == nil {
		return e.stepPlain(msg)
	}
	return e.stepScram(msg)
}

// stepPlain checks a PLAIN message (RFC 4616): [authzid] NUL authcid NUL
// passwd. As Kafka's PlainSaslServer, the authorization id must be empty
// or the user name.
func (e *Exchange) stepPlain(msg []byte) ([]byte, bool, error) {
	authzid, user, pass, err := ParsePlain(msg)
	if err != nil {
		return nil, false, e.failed(err.Error())
	}
	if authzid != "" && authzid != user {
		return nil, false, e.failed("client requested an authorization id that is different from username")
	}
	if !e.a.checkPlain(user, pass) {
		return nil, false, e.invalidCredentials()
	}
	e.done, e.user = true, user
	return nil, true, nil
}

// checkPlain checks a PLAIN user's password: the development file first,
// then the user's SCRAM credentials (strongest first).
func (a *Authenticator) checkPlain(user, pass string) bool {
	if want, ok := a.plain[user]; ok {
		got := sha256.Sum256([]byte(pass))
		return subtle.ConstantTimeCompare(got[:], want[:]) == 1
	}
	for _, m := range ScramMechanisms {
		if c, ok := a.creds.ScramCredential(user, m); ok {
			return checkPassword(m, c, pass)
		}
	}
	// Spend the time a derivation takes, so an unknown user answers as
	// slowly as a wrong password.
	checkPassword(SHA256, a.decoyCredential(SHA256, user), pass)
	return false
}

// ParsePlain splits a PLAIN message into its authorization id, user name
// and password. It refuses a message that is not exactly three
// NUL-separated fields, or whose user name or password is empty.
func ParsePlain(msg []byte) (authzid, user, pass string, err error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", "", "", errors.New("invalid PLAIN message: expected [authzid] NUL authcid NUL passwd")
	}
	if len(parts[1]) == 0 {
		return "", "", "", errors.New("invalid PLAIN message: username not specified")
	}
	if len(parts[2]) == 0 {
		return "", "", "", errors.New("invalid PLAIN message: password not specified")
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

// stepScram runs one SCRAM step: client-first → server-first, then
// client-final → server-final. Any failure is the same answer to the
// client, whatever the conversation's own error said.
func (e *Exchange) stepScram(msg []byte) ([]byte, bool, error) {
	first := e.steps == 0
	e.steps++
	if !first {
		if resp, ok, lenient := e.finalLenient(msg); lenient {
			if !ok {
				return nil, false, e.invalidCredentials()
			}
			e.done, e.user = true, e.scram.Username()
			return resp, true, nil
		}
	}
	resp, err := e.scram.Step(string(msg))
	if err != nil {
		if first {
			return nil, false, e.failed("invalid SCRAM client-first message with SASL mechanism " + e.mechanism)
		}
		return nil, false, e.invalidCredentials()
	}
	if first {
		// Kafka's ScramSaslServer: an authorization id, when given, must
		// be the user name.
		if az := e.scram.AuthzID(); az != "" && az != e.scram.Username() {
			return nil, false, e.failed("client requested an authorization id that is different from username")
		}
		e.clientFirst, e.serverFirst = string(msg), resp
		return []byte(resp), false, nil
	}
	if !e.scram.Valid() {
		return nil, false, e.invalidCredentials()
	}
	e.done, e.user = true, e.scram.Username()
	return []byte(resp), true, nil
}
