package sasl

import (
	"encoding/json"
	"fmt"
	"os"

	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Secret is a username and password in the layout of an AWS Secrets
// Manager secret for Kafka, the one AWS Lambda's self-managed Kafka event
// source reads (BASIC_AUTH, SASL_SCRAM_256_AUTH, SASL_SCRAM_512_AUTH):
//
//	{"username": "alice", "password": "alice-secret"}
//
// ECS (secrets of a task definition, written to a file by the
// entrypoint) and EC2 (a file fetched at boot) put it on disk; the broker
// reads the file, so the same secret serves the broker and Lambda.
type Secret struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// String never shows the password.
func (s Secret) String() string { return "Secret{" + s.Username + ", password redacted}" }

// LogValue keeps the password out of structured logs too.
func (s Secret) LogValue() any { return s.String() }

// ReadSecret reads a Secret from a JSON file. The error names the file
// and never quotes its content.
func ReadSecret(path string) (Secret, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("read SASL secret: %w", err)
	}
	var s Secret
	if err := json.Unmarshal(raw, &s); err != nil {
		return Secret{}, fmt.Errorf("SASL secret %s: not a JSON object {\"username\": ..., \"password\": ...}", path)
	}
	if s.Username == "" || s.Password == "" {
		return Secret{}, fmt.Errorf("SASL secret %s: username and password must both be set", path)
	}
	return s, nil
}

// KgoMechanism is a franz-go SASL mechanism that logs in as the secret's
// user with mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512): what the
// broker's inter-broker clients (package interbroker) and the CLI use.
func (s Secret) KgoMechanism(mechanism string) (kgosasl.Mechanism, error) {
	switch mechanism {
	case Plain:
		return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism(), nil
	case ScramSHA256:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism(), nil
	case ScramSHA512:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("SASL mechanism %q: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", mechanism)
}

// StaticScram holds SCRAM credentials derived in memory from known
// passwords (the inter-broker secret): each broker derives its own, with
// its own salt, from the same secret, so no broker needs the user to be
// in the metadata store first.
type StaticScram map[string]map[ScramMechanism]ScramCredential

var _ Credentials = StaticScram(nil)

// NewStaticScram derives a credential of every SCRAM mechanism for each
// secret.
func NewStaticScram(secrets ...Secret) (StaticScram, error) {
	st := StaticScram{}
	for _, s := range secrets {
		m := map[ScramMechanism]ScramCredential{}
		for _, mech := range ScramMechanisms {
			c, err := NewCredential(mech, s.Password, MinIterations)
			if err != nil {
				return nil, err
			}
			m[mech] = c
		}
		st[s.Username] = m
	}
	return st, nil
}

// ScramCredential implements Credentials.
func (st StaticScram) ScramCredential(user string, m ScramMechanism) (ScramCredential, bool) {
	c, ok := st[user][m]
	return c, ok
}

// ReadPlainFile reads the development PLAIN users file: a JSON object of
// user name to password, {"alice": "alice-secret"}. For development only:
// it holds plaintext passwords; users of the metadata store have none.
func ReadPlainFile(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read PLAIN users file: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("PLAIN users file %s: not a JSON object of user name to password", path)
	}
	for u, p := range m {
		if u == "" || p == "" {
			return nil, fmt.Errorf("PLAIN users file %s: empty user name or password", path)
		}
	}
	return m, nil
}
