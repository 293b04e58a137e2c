package sasl_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/cli"
	"github.com/kafki/kafki/brokerd/internal/testcerts"
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

// kafki's own CLI reaches a SASL_SSL listener: --tls-ca plus a SCRAM
// login creates a topic, produces and consumes it; without --tls the same
// command fails in one line instead of hanging.
func TestKafkiCLIOverSASLSSL(t *testing.T) {
	srvCfg, ca := serverTLS(t)
	sb := startSASLListener(t, srvCfg)
	sb.createUser(t, "ines", "ines-Secret-21")
	secret := filepath.Join(t.TempDir(), "ines.json")
	if err := os.WriteFile(secret, []byte(`{"username": "ines", "password": "ines-Secret-21"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	login := []string{"--bootstrap-server", sb.SASL, "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-secret-file", secret, "--timeout", "5s"}
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		code := cli.Run(ctx, args, cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
		return out.String(), errb.String(), code
	}
	tlsArgs := append([]string{"--tls-ca", ca}, login...)
	if out, errs, code := run("", append([]string{"topics", "create", "--topic", "secured", "--partitions", "2"}, tlsArgs...)...); code != 0 {
		t.Fatalf("topics create: %d %q %q", code, out, errs)
	}
	if out, errs, code := run("a\nb\nc\n", append([]string{"produce", "--topic", "secured"}, tlsArgs...)...); code != 0 {
		t.Fatalf("produce: %d %q %q", code, out, errs)
	}
	out, errs, code := run("", append([]string{"consume", "--topic", "secured", "--from-beginning", "--max-messages", "3"}, tlsArgs...)...)
	if code != 0 {
		t.Fatalf("consume: %d %q %q", code, out, errs)
	}
	if got := strings.Fields(out); len(got) != 3 || !slices.Contains(got, "a") || !slices.Contains(got, "b") || !slices.Contains(got, "c") {
		t.Fatalf("consumed %q, want a, b and c", out)
	}
	// A plaintext client on the TLS listener: one line, exit 1.
	_, errs, code = run("", append([]string{"topics", "describe"}, login...)...)
	t.Logf("without --tls: %s", errs)
	if code != 1 || strings.Count(errs, "\n") != 1 {
		t.Fatalf("without --tls: %d %q", code, errs)
	}
	// A CA file that holds no certificate is a usage error naming it.
	bad := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := run("", append([]string{"topics", "describe", "--tls-ca", bad}, login...)...); code != 2 || !strings.Contains(errs, "--tls-ca") {
		t.Fatalf("bad --tls-ca: %d %q", code, errs)
	}
}
