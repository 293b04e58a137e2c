package broker_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/loadtest"
)

// saslSSLBroker runs a broker with a PLAINTEXT and a SASL_SSL listener
// and creates user's SCRAM credentials (both mechanisms) through the
// PLAINTEXT one, as an operator would.
func saslSSLBroker(t *testing.T, p *pki, user, pass string) *broker.Broker {
	t.Helper()
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *config.Config) {
		c.Listen = config.Default().Listen // listeners replaces it
		c.Listeners = "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
		c.SSL.KeystoreLocation, c.SSL.KeystoreType = p.server.Keystore, "PEM"
		c.SSL.TruststoreLocation, c.SSL.TruststoreType = p.ca.File, "PEM"
		c.FailedAuthDelay = time.Millisecond
	}))
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.ListenerAddr("PLAINTEXT")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(t.Context(), nil, []kadm.UpsertSCRAM{
		{User: user, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: pass},
		{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: pass},
	})
	if err != nil || res.Error() != nil {
		t.Fatalf("create user %s: %v %v", user, err, res.Error())
	}
	return b
}

// loadtestSASLArgs are a small produce run's flags over b's SASL_SSL
// listener with SCRAM-SHA-512, the password in a file.
func loadtestSASLArgs(t *testing.T, p *pki, b *broker.Broker, user, pass string) []string {
	t.Helper()
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"produce", "--bootstrap=" + b.ListenerAddr("SASL_SSL"),
		"--security-protocol=SASL_SSL", "--tls-ca=" + p.ca.File,
		"--sasl-mechanism=SCRAM-SHA-512", "--sasl-username=" + user, "--sasl-password-file=" + pwFile,
		"--records=2000", "--duration=0", "--warmup=0", "--json=", "--svg=", "--progress=0", "--timeout=10s"}
}

// The load generator over SASL_SSL with SCRAM-SHA-512: every record it
// sends is acknowledged, read back and held by the broker.
func TestLoadtestOverSASLSSL(t *testing.T) {
	p := newPKI(t)
	b := saslSSLBroker(t, p, "loader", "loader-Pass-3b9e")
	rep := runLoadtest(t, append(loadtestSASLArgs(t, p, b, "loader", "loader-Pass-3b9e"), "--read-back")...)
	if rep.Consume == nil || rep.Consume.Records != 2000 {
		t.Fatalf("read back %+v, want 2000 records", rep.Consume)
	}
	if rep.Settings.SecurityProtocol != "SASL_SSL" || rep.Settings.SASLMechanism != "SCRAM-SHA-512" {
		t.Fatalf("settings %+v", rep.Settings)
	}
}

// A wrong password ends the run at once with the broker's
// SASL_AUTHENTICATION_FAILED, not after a timeout with something vaguer.
func TestLoadtestWrongSASLPassword(t *testing.T) {
	p := newPKI(t)
	b := saslSSLBroker(t, p, "loader", "loader-Pass-3b9e")
	cfg, err := loadtest.ParseArgs(loadtestSASLArgs(t, p, b, "loader", "not-the-password"), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = loadtest.Run(t.Context(), cfg, io.Discard)
	if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("run with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	if errors.Is(err, loadtest.ErrUnreachable) {
		t.Errorf("a refused login is reported as an unreachable cluster: %v", err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("the failure took %s: it waited for a timeout", took)
	}
	t.Logf("error: %v", err)
}
