package triggers

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/brokercerts"
)

// secureCluster is a kfake cluster serving SASL_SSL with SCRAM-SHA-512
// for consumer/s3cret, its certificate from a CA in dir/ca.pem.
func secureCluster(t *testing.T, dir string) *kfake.Cluster {
	t.Helper()
	now := time.Now()
	ca, err := brokercerts.NewAuthority("test", now)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue([]string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair([]byte(leaf.ChainPEM), []byte(leaf.KeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "consumer", "s3cret"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	writeFile(t, filepath.Join(dir, "ca.pem"), ca.CertPEM)
	return c
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ping connects with opts and asks for metadata.
func ping(c *kfake.Cluster, opts []kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.RetryTimeout(2 * time.Second)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

func TestSecurityOptsLogInOverSASLSSLWithTheCA(t *testing.T) {
	dir := t.TempDir()
	c := secureCluster(t, dir)
	writeFile(t, filepath.Join(dir, "login.json"), `{"username":"consumer","password":"s3cret"}`)
	writeFile(t, filepath.Join(dir, "wrong.json"), `{"username":"consumer","password":"nope"}`)
	other, err := brokercerts.NewAuthority("other", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "other-ca.pem"), other.CertPEM)

	good := Security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", SecretFile: filepath.Join(dir, "login.json"), CAFile: filepath.Join(dir, "ca.pem")}
	opts, err := good.ClientOpts()
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(c, opts); err != nil {
		t.Fatalf("SASL_SSL SCRAM-SHA-512 with the CA: %v", err)
	}
	for name, s := range map[string]Security{
		"wrong password": {Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", SecretFile: filepath.Join(dir, "wrong.json"), CAFile: good.CAFile},
		"another CA":     {Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", SecretFile: good.SecretFile, CAFile: filepath.Join(dir, "other-ca.pem")},
		"no TLS":         {Protocol: "SASL_PLAINTEXT", Mechanism: "SCRAM-SHA-512", SecretFile: good.SecretFile},
	} {
		opts, err := s.ClientOpts()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := ping(c, opts); err == nil {
			t.Errorf("%s: connected", name)
		}
	}
}

// A runner's trigger consumer carries the options: it joins its group on
// the SASL_SSL cluster.
func TestRunnerConsumerUsesSecurityOpts(t *testing.T) {
	dir := t.TempDir()
	c := secureCluster(t, dir)
	writeFile(t, filepath.Join(dir, "login.json"), `{"username":"consumer","password":"s3cret"}`)
	opts, err := Security{Protocol: "sasl_ssl", Mechanism: "SCRAM-SHA-512", SecretFile: filepath.Join(dir, "login.json"), CAFile: filepath.Join(dir, "ca.pem")}.ClientOpts()
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Store: NewMemStore(), Brokers: c.ListenAddrs(), Lambda: nopInvoker{}, ClientOpts: opts})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.clientOpts) != len(opts) {
		t.Fatalf("runner kept %d client options, want %d", len(r.clientOpts), len(opts))
	}
	tc, err := startConsumer(context.Background(), r, Trigger{Definition: NewDefinition("t", "arn:aws:lambda:us-east-1:123456789012:function:f", "orders")})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.cl.Ping(ctx); err != nil {
		t.Fatalf("trigger consumer on SASL_SSL: %v", err)
	}
}

func TestSecurityOptsRefuseIncoherentSettings(t *testing.T) {
	dir := t.TempDir()
	login := filepath.Join(dir, "login.json")
	writeFile(t, login, `{"username":"u","password":"hunter2-secret"}`)
	writeFile(t, filepath.Join(dir, "bad.json"), `{"username":"u","password":"hunter2-secret"`)
	if opts, err := (Security{}).ClientOpts(); err != nil || len(opts) != 0 {
		t.Errorf("PLAINTEXT: %d options, %v; want none", len(opts), err)
	}
	for name, s := range map[string]Security{
		"unknown protocol":       {Protocol: "TLS"},
		"CA without TLS":         {Protocol: "PLAINTEXT", CAFile: login},
		"mechanism without SASL": {Protocol: "SSL", Mechanism: "SCRAM-SHA-512"},
		"SASL without login":     {Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512"},
		"unknown mechanism":      {Protocol: "SASL_SSL", Mechanism: "GSSAPI", SecretFile: login},
		"PLAIN in the clear":     {Protocol: "SASL_PLAINTEXT", Mechanism: "PLAIN", SecretFile: login},
		"CA not PEM":             {Protocol: "SSL", CAFile: login},
		"login not JSON":         {Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", SecretFile: filepath.Join(dir, "bad.json")},
		"login missing":          {Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", SecretFile: filepath.Join(dir, "none.json")},
	} {
		_, err := s.ClientOpts()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}

// nopInvoker is a Lambda that is never called in these tests.
type nopInvoker struct{}

func (nopInvoker) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return nil, errors.New("not invoked in this test")
}
