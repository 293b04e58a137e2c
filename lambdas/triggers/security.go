package triggers

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
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
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ssl.truststore.location: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ssl.truststore.location %s: no PEM certificate", s.CAFile)
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
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
	user, pass, err := readLogin(s.SecretFile)
	if err != nil {
		return nil, err
	}
	var m sasl.Mechanism
	switch strings.ToUpper(strings.TrimSpace(s.Mechanism)) {
	case "SCRAM-SHA-512":
		m = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	case "SCRAM-SHA-256":
		m = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case "PLAIN":
		if !useTLS {
			return nil, errors.New("sasl.mechanism PLAIN sends the password as it is: use SASL_SSL")
		}
		m = plain.Auth{User: user, Pass: pass}.AsMechanism()
	default:
		return nil, fmt.Errorf("sasl.mechanism %q: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
	}
	return append(opts, kgo.SASL(m)), nil
}

// readLogin reads {"username": ..., "password": ...}.
func readLogin(path string) (user, pass string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("sasl secret file: %w", err)
	}
	var sec struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal(raw, &sec); err != nil {
		// Not the decoder's message: it may quote the file.
		return "", "", fmt.Errorf("sasl secret file %s: not JSON {\"username\": ..., \"password\": ...}", path)
	}
	if sec.Username == "" || sec.Password == "" {
		return "", "", fmt.Errorf("sasl secret file %s: username and password are required", path)
	}
	return sec.Username, sec.Password, nil
}
