package cli

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/tlsconf"
)

// Environment variables of the TLS flags, so that a shell on a secured
// cluster sets them once.
const (
	tlsEnv     = "KAFKI_TLS"
	tlsCAEnv   = "KAFKI_TLS_CA"
	tlsCertEnv = "KAFKI_TLS_CERT"
	tlsKeyEnv  = "KAFKI_TLS_KEY"
)

// tlsFlags say how a command reaches an SSL or SASL_SSL listener.
type tlsFlags struct {
	on                bool
	ca, cert, keyFile string
}

func (f *connFlags) registerTLS(c *command, getenv func(string) string) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	on := env(tlsEnv)
	c.fs.BoolVar(&f.tls.on, "tls", on == "1" || strings.EqualFold(on, "true"),
		"Connect over TLS (an SSL or SASL_SSL listener; env "+tlsEnv+"=1); implied by --tls-ca and --tls-cert.")
	c.fs.StringVar(&f.tls.ca, "tls-ca", env(tlsCAEnv),
		"PEM CA bundle the brokers' certificates are verified against (env "+tlsCAEnv+"; default: the system roots).")
	c.fs.StringVar(&f.tls.cert, "tls-cert", env(tlsCertEnv),
		"PEM client certificate (chain, and the key unless --tls-key) for listeners with ssl.client.auth=required (env "+tlsCertEnv+").")
	c.fs.StringVar(&f.tls.keyFile, "tls-key", env(tlsKeyEnv),
		"PEM private key of --tls-cert (env "+tlsKeyEnv+").")
}

// clientOpts are the options of how the flags connect: TLS, then the
// SASL login; none for a plaintext listener.
func (f *connFlags) clientOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	t := f.tls
	if t.keyFile != "" && t.cert == "" {
		return nil, usagef("--tls-key needs --tls-cert")
	}
	if t.on || t.ca != "" || t.cert != "" {
		st, err := tlsconf.Open(tlsconf.Files{Cert: t.cert, Key: t.keyFile, CA: t.ca}, nil)
		if err != nil {
			return nil, usagef("TLS material (--tls-ca, --tls-cert, --tls-key): %v", err)
		}
		opts = append(opts, kgo.DialTLSConfig(st.ClientConfig()))
	}
	sopts, err := f.saslOpts() // users.go
	if err != nil {
		return nil, err
	}
	return append(opts, sopts...), nil
}
