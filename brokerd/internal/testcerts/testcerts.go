// Package testcerts makes X.509 certificates for tests at test time (no
// key is ever committed): a CA, and server and client certificates it
// signs, written as PEM files. Keys are ECDSA P-256, fast to generate.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority for tests.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// File is the PEM file of the CA certificate (a truststore).
	File string
}

// NewCA makes a CA named cn, writing its certificate to dir/<cn>-ca.pem.
func NewCA(t testing.TB, dir, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Cert: cert, Key: key, File: filepath.Join(dir, cn+"-ca.pem")}
	writeFile(t, ca.File, pemBlock("CERTIFICATE", der))
	return ca
}

// Leaf describes a certificate the CA signs.
type Leaf struct {
	Subject pkix.Name
	// NotAfter: zero means a day from now. A past time makes an expired
	// certificate.
	NotAfter time.Time
	// Serial: zero means a random one.
	Serial int64
}

// Issued is a signed certificate and its files.
type Issued struct {
	Cert *x509.Certificate
	// CertFile holds the certificate, KeyFile its key (PKCS#8), and
	// Keystore both (Kafka's PEM keystore).
	CertFile, KeyFile, Keystore string
	TLS                         tls.Certificate
}

// Issue signs a certificate usable by servers (for localhost, 127.0.0.1
// and ::1) and clients, writing dir/<name>.crt, <name>.key and
// <name>.pem (chain and key in one). Issuing again under the same name
// replaces the files, as a rotation does.
func (ca *CA) Issue(t testing.TB, dir, name string, l Leaf) *Issued {
	t.Helper()
	key := newKey(t)
	sn := big.NewInt(l.Serial)
	if l.Serial == 0 {
		sn = serial(t)
	}
	notAfter := l.NotAfter
	if notAfter.IsZero() {
		notAfter = time.Now().Add(24 * time.Hour)
	}
	notBefore := time.Now().Add(-time.Hour)
	if !notAfter.After(notBefore) {
		notBefore = notAfter.Add(-time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: l.Subject,
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", kder)
	is := &Issued{
		Cert:     cert,
		CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key"),
		Keystore: filepath.Join(dir, name+".pem"),
	}
	// Written to a temporary name and renamed, so that a reader never
	// sees half a file (as a careful rotation does).
	writeFile(t, is.CertFile, certPEM)
	writeFile(t, is.KeyFile, keyPEM)
	writeFile(t, is.Keystore, append(append([]byte{}, certPEM...), keyPEM...))
	if is.TLS, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return is
}

// Pool is a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
