package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ClientAuth is Kafka's ssl.client.auth: whether a TLS listener asks
// clients for a certificate.
type ClientAuth string

// Kafka's ssl.client.auth values.
const (
	ClientAuthNone      ClientAuth = "none"      // no certificate asked for
	ClientAuthRequested ClientAuth = "requested" // asked for, verified if given
	ClientAuthRequired  ClientAuth = "required"  // a trusted certificate is required (mTLS)
)

// ParseClientAuth parses an ssl.client.auth value.
func ParseClientAuth(s string) (ClientAuth, error) {
	switch ClientAuth(s) {
	case ClientAuthNone, ClientAuthRequested, ClientAuthRequired:
		return ClientAuth(s), nil
	}
	return "", fmt.Errorf("%q: must be required, requested or none", s)
}

func (a ClientAuth) tls() tls.ClientAuthType {
	switch a {
	case ClientAuthRequired:
		return tls.RequireAndVerifyClientCert
	case ClientAuthRequested:
		return tls.VerifyClientCertIfGiven
	}
	return tls.NoClientCert
}

// Files name the PEM files of the TLS material.
type Files struct {
	// Cert holds the certificate chain, leaf first. It may also hold the
	// private key: Kafka's PEM keystore (ssl.keystore.type=PEM), one file
	// with chain and key.
	Cert string
	// Key holds the private key (unencrypted PKCS#8, PKCS#1 or SEC 1);
	// empty: the key is in Cert.
	Key string
	// CA is the bundle of trusted CA certificates (the PEM truststore):
	// client certificates are verified against it on a listener, and
	// peers' server certificates between brokers. Empty: a listener
	// trusts no client certificate; a client uses the system roots.
	CA string
}

// Store is TLS material loaded from Files and reloaded when they change
// (see the package invariants). Safe for concurrent use.
type Store struct {
	files Files
	// onReloadError is told about material that failed to load on a
	// change (the previous material stays in use); nil ignores it.
	onReloadError func(error)

	mu  sync.Mutex
	cur *material // guarded by mu; never nil after Open
	// failed are the stamps of the last set of files that failed to
	// load, so that one bad rotation is reported once, not per
	// handshake. Guarded by mu.
	failed []stamp
}

// material is one loaded set of files. Immutable.
type material struct {
	cert   *tls.Certificate // nil when Files.Cert is empty (a client without a certificate)
	pool   *x509.CertPool   // nil when Files.CA is empty
	stamps []stamp
}

// stamp identifies a version of a file without reading it.
type stamp struct {
	path string
	size int64
	mod  time.Time
}

// Open loads files. The certificate and key must load and match; onReloadError
// (which may be nil) hears of later reloads that fail.
func Open(files Files, onReloadError func(error)) (*Store, error) {
	if files.Key != "" && files.Cert == "" {
		return nil, errors.New("a private key without a certificate")
	}
	s := &Store{files: files, onReloadError: onReloadError}
	st, err := s.stamps()
	if err != nil {
		return nil, err
	}
	m, err := s.load(st)
	if err != nil {
		return nil, err
	}
	s.cur = m
	return s, nil
}

// Certificate is the certificate presented now (nil without one).
func (s *Store) Certificate() *tls.Certificate { return s.current().cert }

// current returns the material of the files as they are now, reloading
// them if they changed and load.
func (s *Store) current() *material {
	st, err := s.stamps()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || sameStamps(st, s.cur.stamps) || sameStamps(st, s.failed) {
		// A file missing for a moment (renamed into place) keeps the
		// current material.
		return s.cur
	}
	m, err := s.load(st)
	if err != nil {
		s.failed = st
		if s.onReloadError != nil {
			s.onReloadError(err)
		}
		return s.cur
	}
	s.cur, s.failed = m, nil
	return m
}

func (s *Store) stamps() ([]stamp, error) {
	var out []stamp
	for _, p := range []string{s.files.Cert, s.files.Key, s.files.CA} {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		out = append(out, stamp{path: p, size: fi.Size(), mod: fi.ModTime()})
	}
	return out, nil
}

func sameStamps(a, b []stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].path != b[i].path || a[i].size != b[i].size || !a[i].mod.Equal(b[i].mod) {
			return false
		}
	}
	return true
}

// load reads the files. The stamps taken before reading are kept: a file
// that changes while it is read is read again at the next handshake.
func (s *Store) load(st []stamp) (*material, error) {
	m := &material{stamps: st}
	if s.files.Cert != "" {
		certPEM, err := os.ReadFile(s.files.Cert)
		if err != nil {
			return nil, err
		}
		keyPEM := certPEM
		keyFile := s.files.Cert
		if s.files.Key != "" {
			if keyPEM, err = os.ReadFile(s.files.Key); err != nil {
				return nil, err
			}
			keyFile = s.files.Key
		}
		if err := checkKeyPEM(keyPEM); err != nil {
			return nil, fmt.Errorf("%s: %w", keyFile, err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// X509KeyPair's errors name no key material.
			return nil, fmt.Errorf("%s: %w", s.files.Cert, err)
		}
		m.cert = &cert
	}
	if s.files.CA != "" {
		caPEM, err := os.ReadFile(s.files.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("%s: no PEM CERTIFICATE in the CA bundle", s.files.CA)
		}
		m.pool = pool
	}
	return m, nil
}

// checkKeyPEM gives a clear error for the key files crypto/tls cannot
// use: none at all, or an encrypted one (Kafka's ssl.key.password, which
// Kafki does not support).
func checkKeyPEM(b []byte) error {
	found := false
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type == "ENCRYPTED PRIVATE KEY" || blk.Headers["Proc-Type"] == "4,ENCRYPTED" {
			return errors.New("the private key is encrypted; give it unencrypted (readable by the broker only): ssl.key.password is not supported")
		}
		if blk.Type == "PRIVATE KEY" || bytes.HasSuffix([]byte(blk.Type), []byte(" PRIVATE KEY")) {
			found = true
		}
	}
	if !found {
		return errors.New("no PEM PRIVATE KEY found")
	}
	return nil
}

// ServerConfig is the TLS configuration of a listener with client
// certificate policy auth. Each handshake takes the current material.
// auth other than none needs a CA bundle.
func (s *Store) ServerConfig(auth ClientAuth) (*tls.Config, error) {
	if s.files.Cert == "" {
		return nil, errors.New("a TLS listener needs a certificate and key")
	}
	if auth != ClientAuthNone && s.files.CA == "" {
		return nil, fmt.Errorf("ssl.client.auth=%s needs a CA bundle to verify client certificates", auth)
	}
	ct := auth.tls()
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.current()
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*m.cert},
				ClientCAs:    m.pool,
				ClientAuth:   ct,
				// Kafka responses are bulk data a client reads whole:
				// full-size records from the first byte, not the small
				// ones crypto/tls starts with for web latency.
				DynamicRecordSizingDisabled: true,
			}, nil
		},
	}, nil
}

// ClientConfig is the TLS configuration of a client (a broker dialing a
// peer's inter-broker listener): it presents the store's certificate, if
// any, when the server asks, and verifies the server against the store's
// CA bundle (the system roots without one), both as they are at each
// handshake. ServerName is left to the dialer (kgo.DialTLSConfig sets it
// to the host dialed).
func (s *Store) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := s.current().cert; c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil // none: the server decides
		},
		// crypto/tls's own verification would pin the roots given at
		// construction; verifying here with the current pool lets the
		// CA bundle rotate too. It is the same check (chain to a root,
		// the server name, server-auth usage), done in VerifyConnection,
		// which runs on every handshake, resumed ones included.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs, s.current().pool)
		},
	}
}

func verifyServer(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: cs.ServerName,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}
