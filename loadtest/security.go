package loadtest

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
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
	// SASL options (--sasl-mechanism, --sasl-username, --sasl-password)
	// go here: saslOpts adds them to the clients.
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
}

func (s Security) usesTLS() bool { return s.Protocol == ProtocolSSL || s.Protocol == ProtocolSASLSSL }

func (s Security) usesSASL() bool {
	return s.Protocol == ProtocolSASLPlaintext || s.Protocol == ProtocolSASLSSL
}

// validate checks the options without reading files.
func (s Security) validate() error {
	switch s.Protocol {
	case ProtocolPlaintext, ProtocolSSL:
	case ProtocolSASLPlaintext, ProtocolSASLSSL:
		return usagef("--security-protocol %s: SASL is not available in loadtest yet", s.Protocol)
	default:
		return usagef("--security-protocol %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s.Protocol)
	}
	switch {
	case !s.usesTLS() && (s.TLSCA != "" || s.TLSCert != "" || s.TLSKey != ""):
		return usagef("--tls-ca, --tls-cert and --tls-key need --security-protocol SSL or SASL_SSL")
	case s.TLSKey != "" && s.TLSCert == "":
		return usagef("--tls-key needs --tls-cert")
	}
	return nil
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
	return append(opts, s.saslOpts()...), nil
}

// saslOpts are the SASL options of SASL_PLAINTEXT and SASL_SSL: none
// until loadtest has --sasl-* flags (validate refuses those protocols).
func (s Security) saslOpts() []kgo.Opt { return nil }

func (s Security) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSCA != "" {
		b, err := os.ReadFile(s.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM CERTIFICATE in it", s.TLSCA)
		}
	}
	if s.TLSCert != "" {
		key := s.TLSKey
		if key == "" {
			key = s.TLSCert
		}
		cert, err := tls.LoadX509KeyPair(s.TLSCert, key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
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
