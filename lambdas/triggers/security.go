package triggers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/sasl"
	"github.com/kafki/kafki/brokerd/tlsconf"
)

// Security is how the runner reaches the cluster, under the Kafka client
// names: security.protocol, sasl.mechanism, the login as an AWS Secrets
// Manager secret's JSON in a file ({"username": ..., "password": ...},
// the layout Lambda's SASL_SCRAM_512_AUTH reads), and a PEM CA bundle
// (ssl.truststore.location; Lambda's SERVER_ROOT_CA_CERTIFICATE).
type Security struct {
	Protocol   string // PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
	Mechanism  string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* only)
	SecretFile string // the login (SASL_* only)
	CAFile     string // trusted CAs (SSL, SASL_SSL); empty: the system's
}

// ClientOpts are the franz-go options of s: TLS with the CA bundle and
// TLS 1.2 or later, and the SASL login. The password is read once, here,
// and never appears in an error.
func (s Security) ClientOpts() ([]kgo.Opt, error) {
	proto := strings.ToUpper(strings.TrimSpace(s.Protocol))
	if proto == "" {
		proto = "PLAINTEXT"
	}
	var useTLS, useSASL bool
	switch proto {
	case "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		return nil, fmt.Errorf("security.protocol %q: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s.Protocol)
	}
	var opts []kgo.Opt
	if useTLS {
		// The broker's own loader: the same PEM rules, TLS 1.2 or later,
		// and a CA bundle re-read when the file is rotated.
		st, err := tlsconf.Open(tlsconf.Files{CA: s.CAFile}, nil)
		if err != nil {
			return nil, fmt.Errorf("ssl.truststore.location: %w", err)
		}
		opts = append(opts, kgo.DialTLSConfig(st.ClientConfig()))
	} else if s.CAFile != "" {
		return nil, fmt.Errorf("ssl.truststore.location: security.protocol %s has no TLS", proto)
	}
	if !useSASL {
		if s.Mechanism != "" || s.SecretFile != "" {
			return nil, fmt.Errorf("sasl.mechanism and the secret file need security.protocol SASL_SSL or SASL_PLAINTEXT, not %s", proto)
		}
		return opts, nil
	}
	if s.SecretFile == "" {
		return nil, fmt.Errorf("security.protocol %s: needs the SASL secret file", proto)
	}
	mech := strings.ToUpper(strings.TrimSpace(s.Mechanism))
	if mech == sasl.Plain && !useTLS {
		return nil, errors.New("sasl.mechanism PLAIN sends the password as it is: use SASL_SSL")
	}
	sec, err := sasl.ReadSecret(s.SecretFile) // never quotes the file
	if err != nil {
		return nil, err
	}
	m, err := sec.KgoMechanism(mech)
	if err != nil {
		return nil, fmt.Errorf("sasl.mechanism: %w", err)
	}
	return append(opts, kgo.SASL(m)), nil
}
