package sasl_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"strings"
	"testing"

	"github.com/kafki/kafki/brokerd/internal/testcerts"
	"github.com/twmb/franz-go/pkg/kgo"
)

// serverTLS is a broker certificate for 127.0.0.1 signed by a test CA,
// and the CA's PEM file that clients trust.
func serverTLS(t *testing.T) (*tls.Config, string) {
	t.Helper()
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "sasl")
	cert := ca.Issue(t, dir, "broker", testcerts.Leaf{Subject: pkix.Name{CommonName: "kafki-test"}})
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert.TLS}}, ca.File
}

// SASL over TLS (a SASL_SSL listener): franz-go and kcat log in with
// SCRAM-SHA-512 inside the TLS session, and a wrong password is refused
// there as on SASL_PLAINTEXT.
func TestSASLSSL(t *testing.T) {
	srvCfg, ca := serverTLS(t)
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
