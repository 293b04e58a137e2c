package brokercerts

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/kafki/kafki/tiering/mototest"
)

var names = []string{"broker-1.kafki.internal", "broker-2.kafki.internal", "broker-3.kafki.internal", "bootstrap.kafki.internal"}

func event(typ cfn.RequestType, physical string, names []string) cfn.Event {
	ns := make([]any, len(names))
	for i, n := range names {
		ns[i] = n
	}
	return cfn.Event{
		RequestType: typ, RequestID: "req-1", PhysicalResourceID: physical, LogicalResourceID: "BrokerCerts",
		ResourceProperties: map[string]any{"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x", PropPrefix: "KafkiTest/tls", PropNames: ns},
	}
}

func secret(t *testing.T, sm *secretsmanager.Client, id string) Material {
	t.Helper()
	out, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	var m Material
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &m); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return m
}

// verify checks that broker's chain verifies against root for every name
// and for server and client use, and that its key belongs to it.
func verify(t *testing.T, broker, root Material, names []string) *x509.Certificate {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(root.Certificate)) {
		t.Fatal("root-ca: no certificate")
	}
	var chain []*x509.Certificate
	rest := []byte(broker.Certificate)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	if len(chain) != 2 || !chain[1].IsCA {
		t.Fatalf("broker chain: %d certificates, want leaf then CA", len(chain))
	}
	leaf := chain[0]
	for _, n := range names {
		for _, use := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: pool, KeyUsages: []x509.ExtKeyUsage{use}}); err != nil {
				t.Errorf("broker certificate for %s (usage %v): %v", n, use, err)
			}
		}
	}
	if !slices.Equal(leaf.DNSNames, names) {
		t.Errorf("SANs %v, want %v", leaf.DNSNames, names)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "evil.example.com", Roots: pool}); err == nil {
		t.Error("broker certificate verifies for a name it was not issued for")
	}
	kb, _ := pem.Decode([]byte(broker.PrivateKey))
	if kb == nil {
		t.Fatal("broker key: no PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !k.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
		t.Error("broker key does not match its certificate")
	}
	return leaf
}

func TestCreateUpdateDeleteAgainstSecretsManager(t *testing.T) {
	srv := mototest.StartT(t)
	sm := secretsmanager.NewFromConfig(srv.Config)
	ctx := context.Background()
	h := &Handler{SM: sm}

	id, data, err := h.Handle(ctx, event(cfn.RequestCreate, "", names))
	if err != nil {
		t.Fatal(err)
	}
	if id != "KafkiTest/tls" {
		t.Fatalf("physical id %q", id)
	}
	for _, a := range []string{AttrCASecretArn, AttrBrokerSecretArn, AttrRootCASecretArn} {
		if s, _ := data[a].(string); !strings.HasPrefix(s, "arn:aws:secretsmanager:") {
			t.Errorf("%s = %v, not a secret ARN", a, data[a])
		}
	}
	for k, v := range data {
		if strings.Contains(v.(string), "PRIVATE KEY") || strings.Contains(v.(string), "CERTIFICATE") {
			t.Errorf("response attribute %s carries PEM", k)
		}
	}
	ca, broker, root := secret(t, sm, data[AttrCASecretArn].(string)), secret(t, sm, data[AttrBrokerSecretArn].(string)), secret(t, sm, data[AttrRootCASecretArn].(string))
	if root.PrivateKey != "" || ca.PrivateKey == "" || ca.Certificate != root.Certificate {
		t.Fatal("root-ca must be the CA certificate alone, ca the certificate and its key")
	}
	var rootJSON map[string]any
	out, _ := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("KafkiTest/tls/root-ca")})
	_ = json.Unmarshal([]byte(aws.ToString(out.SecretString)), &rootJSON)
	if len(rootJSON) != 1 || rootJSON["certificate"] == nil {
		t.Errorf("root-ca secret %v: want exactly {\"certificate\": PEM} (Lambda's SERVER_ROOT_CA_CERTIFICATE)", rootJSON)
	}
	leaf1 := verify(t, broker, root, names)

	// Same names: nothing changes.
	_, data2, err := h.Handle(ctx, event(cfn.RequestUpdate, "KafkiTest/tls", []string{names[3], names[0], names[2], names[1]}))
	if err != nil {
		t.Fatal(err)
	}
	if data2[AttrBrokerSecretArn] != data[AttrBrokerSecretArn] || secret(t, sm, "KafkiTest/tls/broker") != broker {
		t.Error("an update with the same names changed the broker material")
	}

	// A fourth broker: a new broker certificate from the same CA.
	more := append(slices.Clone(names), "broker-4.kafki.internal")
	if _, _, err := h.Handle(ctx, event(cfn.RequestUpdate, "KafkiTest/tls", more)); err != nil {
		t.Fatal(err)
	}
	if secret(t, sm, "KafkiTest/tls/ca") != ca || secret(t, sm, "KafkiTest/tls/root-ca") != root {
		t.Error("re-issuing the broker certificate changed the CA")
	}
	broker2 := secret(t, sm, "KafkiTest/tls/broker")
	if leaf2 := verify(t, broker2, root, more); leaf2.SerialNumber.Cmp(leaf1.SerialNumber) == 0 {
		t.Error("the broker certificate was not re-issued")
	}

	// A new generation: re-issued with the same names, same CA.
	ev := event(cfn.RequestUpdate, "KafkiTest/tls", more)
	ev.OldResourceProperties = map[string]any{PropGeneration: "1"}
	ev.ResourceProperties[PropGeneration] = "2"
	if _, _, err := h.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	broker3 := secret(t, sm, "KafkiTest/tls/broker")
	if broker3 == broker2 || secret(t, sm, "KafkiTest/tls/ca") != ca {
		t.Error("a new generation did not re-issue the broker certificate from the same CA")
	}
	verify(t, broker3, root, more)

	// Delete removes all three; a second delete (CloudFormation retries) is fine.
	for range 2 {
		if _, _, err := h.Handle(ctx, cfn.Event{RequestType: cfn.RequestDelete, PhysicalResourceID: "KafkiTest/tls"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"ca", "broker", "root-ca"} {
		_, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("KafkiTest/tls/" + n)})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("%s after delete: %v, want ResourceNotFoundException", n, err)
		}
	}
	// Create again after delete (a re-deployed stack) works.
	if _, _, err := h.Handle(ctx, event(cfn.RequestCreate, "", names)); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
}

func TestBadPropertiesFailWithoutTouchingSecrets(t *testing.T) {
	h := &Handler{} // a nil client: any AWS call would panic
	for _, p := range []map[string]any{
		{PropNames: []any{"a"}},
		{PropPrefix: "p"},
		{PropPrefix: "p", PropNames: []any{"a", 3.0}},
	} {
		if _, _, err := h.Handle(context.Background(), cfn.Event{RequestType: cfn.RequestCreate, ResourceProperties: p}); err == nil {
			t.Errorf("%v: accepted", p)
		}
	}
}

func TestIssueIPAndExpiry(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ca, err := NewAuthority("t", now)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ca.Issue([]string{"b.example", "10.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := LeafNames(l.ChainPEM)
	if err != nil || !slices.Equal(got, []string{"b.example", "10.0.0.1"}) {
		t.Fatalf("names %v %v", got, err)
	}
}
