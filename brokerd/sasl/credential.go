package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"

	"github.com/xdg-go/scram"
)

// Mechanism names, as clients send them in SaslHandshake.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// ScramMechanism is a SCRAM hash, with the codes of Kafka's ScramMechanism
// enum that AlterUserScramCredentials and DescribeUserScramCredentials
// carry on the wire.
type ScramMechanism int8

// Kafka's SCRAM mechanism codes.
const (
	ScramUnknown ScramMechanism = 0
	SHA256       ScramMechanism = 1
	SHA512       ScramMechanism = 2
)

// ScramMechanisms are the SCRAM mechanisms Kafki knows, strongest first
// (the order PLAIN tries a user's credentials in).
var ScramMechanisms = [...]ScramMechanism{SHA512, SHA256}

// Kafka's bounds on SCRAM iterations (ScramMechanism.minIterations,
// maxIterations): AlterUserScramCredentials refuses others.
const (
	MinIterations = 4096
	MaxIterations = 16384
)

// Name is the SASL mechanism name, "" for an unknown mechanism.
func (m ScramMechanism) Name() string {
	switch m {
	case SHA256:
		return ScramSHA256
	case SHA512:
		return ScramSHA512
	}
	return ""
}

func (m ScramMechanism) String() string {
	if n := m.Name(); n != "" {
		return n
	}
	return fmt.Sprintf("SCRAM-UNKNOWN(%d)", int8(m))
}

// ParseScramMechanism is Name's inverse.
func ParseScramMechanism(name string) (ScramMechanism, bool) {
	switch name {
	case ScramSHA256:
		return SHA256, true
	case ScramSHA512:
		return SHA512, true
	}
	return ScramUnknown, false
}

// Valid reports whether m is a mechanism Kafki knows.
func (m ScramMechanism) Valid() bool { return m == SHA256 || m == SHA512 }

func (m ScramMechanism) hashGen() scram.HashGeneratorFcn {
	if m == SHA512 {
		return scram.SHA512
	}
	return scram.SHA256
}

func (m ScramMechanism) newHash() func() hash.Hash {
	if m == SHA512 {
		return sha512.New
	}
	return sha256.New
}

// ScramCredential is what the broker keeps of a SCRAM password (RFC 5802
// §3): enough to verify a client's proof and prove itself, not enough to
// log in as the user.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte // H(ClientKey)
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
	Iterations int
}

// Errors of credentials and stores.
var (
	// ErrNoCredential: the user has no credential of that mechanism.
	ErrNoCredential = errors.New("no such SCRAM credential")
	// ErrBadCredential: a credential that cannot be stored (empty user,
	// salt or salted password, iterations out of bounds).
	ErrBadCredential = errors.New("unacceptable SCRAM credential")
)

// CredentialFromSaltedPassword derives the stored credential from what
// AlterUserScramCredentials carries: the salt and the salted password
// (Hi(password, salt, iterations), computed by the client, RFC 5802 §3).
// The two keys are one HMAC and one hash, with the standard library.
func CredentialFromSaltedPassword(m ScramMechanism, salt, saltedPassword []byte, iterations int) (ScramCredential, error) {
	switch {
	case !m.Valid():
		return ScramCredential{}, fmt.Errorf("%w: unknown SCRAM mechanism %d", ErrBadCredential, int8(m))
	case len(salt) == 0:
		return ScramCredential{}, fmt.Errorf("%w: empty salt", ErrBadCredential)
	case len(saltedPassword) == 0:
		return ScramCredential{}, fmt.Errorf("%w: empty salted password", ErrBadCredential)
	case iterations < MinIterations:
		return ScramCredential{}, fmt.Errorf("%w: too few iterations (%d, at least %d)", ErrBadCredential, iterations, MinIterations)
	case iterations > MaxIterations:
		return ScramCredential{}, fmt.Errorf("%w: too many iterations (%d, at most %d)", ErrBadCredential, iterations, MaxIterations)
	}
	h := m.newHash()
	mac := hmac.New(h, saltedPassword)
	mac.Write([]byte("Client Key"))
	clientKey := mac.Sum(nil)
	hh := h()
	hh.Write(clientKey)
	stored := hh.Sum(nil)
	mac = hmac.New(h, saltedPassword)
	mac.Write([]byte("Server Key"))
	return ScramCredential{Salt: append([]byte(nil), salt...), StoredKey: stored, ServerKey: mac.Sum(nil), Iterations: iterations}, nil
}

// NewCredential derives a credential from a password with a fresh random
// salt (the broker's own inter-broker user, tests). The password is not
// SASLprep-normalised, as Kafka's ScramFormatter does not normalise it
// either: both sides must derive from the same bytes.
func NewCredential(m ScramMechanism, password string, iterations int) (ScramCredential, error) {
	salt := make([]byte, 24)
	if _, err := rand.Read(salt); err != nil {
		return ScramCredential{}, fmt.Errorf("salt: %w", err)
	}
	return deriveCredential(m, "", password, salt, iterations)
}

// deriveCredential is the RFC 5802 derivation, by xdg-go/scram.
func deriveCredential(m ScramMechanism, user, password string, salt []byte, iterations int) (ScramCredential, error) {
	if !m.Valid() {
		return ScramCredential{}, fmt.Errorf("%w: unknown SCRAM mechanism %d", ErrBadCredential, int8(m))
	}
	c, err := m.hashGen().NewClientUnprepped(user, password, "")
	if err != nil {
		return ScramCredential{}, fmt.Errorf("scram client: %w", err)
	}
	sc, err := c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iterations})
	if err != nil {
		return ScramCredential{}, fmt.Errorf("derive SCRAM credential: %w", err)
	}
	return ScramCredential{Salt: append([]byte(nil), salt...), StoredKey: sc.StoredKey, ServerKey: sc.ServerKey, Iterations: iterations}, nil
}

// checkPassword reports whether password derives c's StoredKey.
func checkPassword(m ScramMechanism, c ScramCredential, password string) bool {
	d, err := deriveCredential(m, "", password, c.Salt, c.Iterations)
	return err == nil && hmac.Equal(d.StoredKey, c.StoredKey)
}

// Credentials looks up SCRAM credentials. Implementations must be safe
// for concurrent use and must not do I/O: every authentication calls it.
type Credentials interface {
	// ScramCredential returns user's credential for m.
	ScramCredential(user string, m ScramMechanism) (ScramCredential, bool)
}
