package loadtest

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"

	"github.com/kafki/kafki/brokerd/sasl"
	"github.com/kafki/kafki/brokerd/tlsconf"
)

// Security is how the load test's clients connect: Kafka's
// security.protocol and its material. Every client of a run (admin,
// producers, consumers) connects the same way.
type Security struct {
	// Protocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// TLSCA is a PEM CA bundle the brokers' certificates are checked
	// against (empty: the system roots); TLSCert and TLSKey a client
	// certificate and its key for brokers that require one (mTLS).
	TLSCA, TLSCert, TLSKey string
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, for
	// SASL_PLAINTEXT and SASL_SSL; SASLUser logs in with SASLPassword,
	// or with the password in SASLPasswordFile (which keeps it out of the
	// process list and shell history).
	SASLMechanism, SASLUser, SASLPassword, SASLPasswordFile string
}

// Security protocols, as Kafka names them.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

func (s *Security) bind(fs *flag.FlagSet) {
	fs.StringVar(&s.Protocol, "security-protocol", ProtocolPlaintext, "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (as Kafka's security.protocol)")
	fs.StringVar(&s.TLSCA, "tls-ca", "", "PEM CA bundle the brokers' certificates are verified against (default: the system roots)")
	fs.StringVar(&s.TLSCert, "tls-cert", "", "PEM client certificate, for brokers requiring one (ssl.client.auth=required)")
	fs.StringVar(&s.TLSKey, "tls-key", "", "PEM private key of --tls-cert (default: in the --tls-cert file)")
	fs.StringVar(&s.SASLMechanism, "sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, for SASL_PLAINTEXT and SASL_SSL (default SCRAM-SHA-512)")
	fs.StringVar(&s.SASLUser, "sasl-username", "", "SASL user name")
	fs.StringVar(&s.SASLPassword, "sasl-password", "", "SASL password (visible to other users of the machine: prefer --sasl-password-file)")
	fs.StringVar(&s.SASLPasswordFile, "sasl-password-file", "", "file holding the SASL password (one line; a trailing newline is ignored)")
}

func (s Security) usesTLS() bool { return s.Protocol == ProtocolSSL || s.Protocol == ProtocolSASLSSL }

func (s Security) usesSASL() bool {
	return s.Protocol == ProtocolSASLPlaintext || s.Protocol == ProtocolSASLSSL
}

// validate checks the options without reading files.
func (s Security) validate() error {
	switch s.Protocol {
	case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
	default:
		return usagef("--security-protocol %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s.Protocol)
	}
	switch {
	case !s.usesTLS() && (s.TLSCA != "" || s.TLSCert != "" || s.TLSKey != ""):
		return usagef("--tls-ca, --tls-cert and --tls-key need --security-protocol SSL or SASL_SSL")
	case s.TLSKey != "" && s.TLSCert == "":
		return usagef("--tls-key needs --tls-cert")
	}
	return s.validateSASL()
}

// validateSASL checks the --sasl-* flags against the protocol.
func (s Security) validateSASL() error {
	if !s.usesSASL() {
		if s.SASLMechanism != "" || s.SASLUser != "" || s.SASLPassword != "" || s.SASLPasswordFile != "" {
			return usagef("--sasl-* flags need --security-protocol SASL_PLAINTEXT or SASL_SSL (not %s)", s.Protocol)
		}
		return nil
	}
	switch s.mechanism() {
	case sasl.Plain, sasl.ScramSHA256, sasl.ScramSHA512:
	default:
		return usagef("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASLMechanism)
	}
	switch {
	case s.SASLUser == "":
		return usagef("--security-protocol %s needs --sasl-username", s.Protocol)
	case s.SASLPassword != "" && s.SASLPasswordFile != "":
		return usagef("--sasl-password and --sasl-password-file are mutually exclusive")
	case s.SASLPassword == "" && s.SASLPasswordFile == "":
		return usagef("--security-protocol %s needs --sasl-password or --sasl-password-file", s.Protocol)
	}
	return nil
}

// mechanism is --sasl-mechanism, upper-cased, SCRAM-SHA-512 when unset.
func (s Security) mechanism() string {
	if s.SASLMechanism == "" {
		return sasl.ScramSHA512
	}
	return strings.ToUpper(s.SASLMechanism)
}

// clientOpts are the kgo options of the protocol; they read the files.
func (s Security) clientOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.usesTLS() {
		tc, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if s.usesSASL() {
		m, err := s.saslMechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// saslMechanism is the franz-go mechanism of SASL_PLAINTEXT and SASL_SSL;
// it reads --sasl-password-file.
func (s Security) saslMechanism() (kgosasl.Mechanism, error) {
	pass := s.SASLPassword
	if s.SASLPasswordFile != "" {
		b, err := os.ReadFile(s.SASLPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--sasl-password-file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
		if pass == "" {
			return nil, fmt.Errorf("--sasl-password-file %s: empty", s.SASLPasswordFile)
		}
	}
	m, err := sasl.Secret{Username: s.SASLUser, Password: pass}.KgoMechanism(s.mechanism())
	if err != nil {
		return nil, fmt.Errorf("--sasl-mechanism: %w", err)
	}
	return m, nil
}

// tlsConfig loads the --tls-* files with the broker's own loader
// (package tlsconf): the same PEM rules, TLS 1.2 or later.
func (s Security) tlsConfig() (*tls.Config, error) {
	st, err := tlsconf.Open(tlsconf.Files{Cert: s.TLSCert, Key: s.TLSKey, CA: s.TLSCA}, nil)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca/--tls-cert/--tls-key: %w", err)
	}
	return st.ClientConfig(), nil
}

// connOpts are the options every client of the run starts with: where
// to connect and how.
func (c Config) connOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Seeds()...), kgo.DialTimeout(c.Timeout), kgo.DisableClientMetrics()}
	return append(opts, c.security...)
}

// withSecurity returns c with its clients' security options loaded.
func (c Config) withSecurity() (Config, error) {
	opts, err := c.Security.clientOpts()
	if err != nil {
		return c, err
	}
	c.security = opts
	return c, nil
}

// securityName is the protocol as reports show it.
func (s Security) securityName() string { return strings.ToUpper(s.Protocol) }
