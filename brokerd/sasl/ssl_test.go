package sasl_test

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
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// selfSigned is a CA-less certificate for 127.0.0.1, valid for an hour,
// and the PEM file of it that clients trust.
func selfSigned(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kafki-test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, ca
}

// SASL over TLS (a SASL_SSL listener): franz-go and kcat log in with
// SCRAM-SHA-512 inside the TLS session, and a wrong password is refused
// there as on SASL_PLAINTEXT.
func TestSASLSSL(t *testing.T) {
	srvCfg, ca := selfSigned(t)
	sb := startSASLListener(t, srvCfg)
	sb.createUser(t, "hana", "hana-Secret-13")
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(pem)
	clientTLS := kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err := ping(t, sb.saslClient(t, mechanism("SCRAM-SHA-512", "hana", "hana-Secret-13"), clientTLS)); err != nil {
		t.Fatalf("franz-go over SASL_SSL: %v", err)
	}
	if err := ping(t, sb.saslClient(t, mechanism("SCRAM-SHA-512", "hana", sb.secret("wrong-13")), clientTLS)); err == nil {
		t.Fatal("wrong password accepted over SASL_SSL")
	}
	out, err := sb.kcatWith(t, []string{"-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + ca,
		"-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=hana", "-X", "sasl.password=hana-Secret-13"}, "", "-L", "-m", "10")
	if err != nil || !strings.Contains(out, "1 brokers:") {
		t.Fatalf("kcat over SASL_SSL: %q %v", out, err)
	}
}
