package sasl_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

// franz-go logs in with each mechanism as a user created through
// AlterUserScramCredentials (PLAIN derives against the SCRAM credential),
// produces and consumes, and each login is counted.
func TestFranzGoLogsInWithEveryMechanism(t *testing.T) {
	sb := startSASL(t)
	sb.createUser(t, "alice", "alice-Secret-1")
	adm := admin(t, sb.Addr())
	if _, err := adm.CreateTopic(t.Context(), 1, 1, nil, "sasl-t"); err != nil {
		t.Fatal(err)
	}
	for i, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"} {
		cl := sb.saslClient(t, mechanism(mech, "alice", "alice-Secret-1"), kgo.ConsumeTopics("sasl-t"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		value := "v-" + mech
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "sasl-t", Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", mech, err)
		}
		got := map[string]bool{}
		poll.Must(t, 10*time.Second, mech+" consumes what it produced", func() error {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
			if !got[value] {
				return errors.New("not yet")
			}
			return nil
		})
		if sb.succeeded() < float64(i+1) {
			t.Fatalf("%s: %v successful authentications counted", mech, sb.succeeded())
		}
	}
	if sb.failed() != 0 {
		t.Fatalf("%v failures counted", sb.failed())
	}
}

// Each rejection gets Kafka's error, is counted, closes its connection,
// and leaves the broker serving a good client.
func TestRejections(t *testing.T) {
	sb := startSASL(t, testbroker.WithConfig(func(c *config.Config) {
		c.SASLEnabledMechanisms = []string{"PLAIN", "SCRAM-SHA-512"}
		c.SASLMaxReceiveSize = 2048
	}))
	sb.createUser(t, "alice", "alice-Secret-2")
	good := sb.saslClient(t, mechanism("SCRAM-SHA-512", "alice", "alice-Secret-2"))
	stillServes := func(what string) {
		t.Helper()
		if err := ping(t, good); err != nil {
			t.Fatalf("after %s the broker does not serve a good client: %v", what, err)
		}
	}
	stillServes("start")

	for _, c := range []struct {
		name, mech, user, pass string
		want                   *kerr.Error
	}{
		{"wrong password SCRAM", "SCRAM-SHA-512", "alice", sb.secret("not-alices-pw"), kerr.SaslAuthenticationFailed},
		{"unknown user SCRAM", "SCRAM-SHA-512", "mallory", sb.secret("mallory-pw"), kerr.SaslAuthenticationFailed},
		{"wrong password PLAIN", "PLAIN", "alice", sb.secret("not-alices-pw2"), kerr.SaslAuthenticationFailed},
		{"unknown user PLAIN", "PLAIN", "mallory", sb.secret("mallory-pw2"), kerr.SaslAuthenticationFailed},
		{"mechanism not enabled", "SCRAM-SHA-256", "alice", "alice-Secret-2", kerr.UnsupportedSaslMechanism},
	} {
		before := sb.failed()
		err := ping(t, sb.saslClient(t, mechanism(c.mech, c.user, c.pass)))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %s", c.name, err, c.want.Message)
		}
		if c.want == kerr.SaslAuthenticationFailed && sb.failed() != before+1 {
			t.Errorf("%s: failures counted %v → %v", c.name, before, sb.failed())
		}
		stillServes(c.name)
	}

	// The failure's message, on the wire.
	rc := dialRaw(t, sb.SASL)
	resp := rc.plainLogin("alice", "wrong-pw-raw")
	if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil ||
		!strings.Contains(*resp.ErrorMessage, "invalid credentials with SASL mechanism PLAIN") {
		t.Errorf("wrong password: code %d message %v", resp.ErrorCode, resp.ErrorMessage)
	}
	rc.closed("after a failed authentication")
	sb.secret("wrong-pw-raw")

	// Mechanism not enabled: the enabled list, then closed.
	rc = dialRaw(t, sb.SASL)
	hs := rc.handshake("SCRAM-SHA-256")
	if hs.ErrorCode != kerr.UnsupportedSaslMechanism.Code || strings.Join(hs.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-512" {
		t.Errorf("handshake SCRAM-SHA-256: code %d, mechanisms %v", hs.ErrorCode, hs.SupportedMechanisms)
	}
	rc.closed("after an unsupported mechanism")

	// A request before authentication closes the connection; ApiVersions
	// is allowed.
	rc = dialRaw(t, sb.SASL)
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	avr := kmsg.NewPtrApiVersionsResponse()
	rc.roundTrip(av, avr)
	if avr.ErrorCode != 0 || len(avr.ApiKeys) < 10 {
		t.Fatalf("ApiVersions before authentication: %+v", avr)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	rc.write(frame(md, 8))
	rc.closed("Metadata before authentication")

	// SaslAuthenticate without a handshake.
	rc = dialRaw(t, sb.SASL)
	if r := rc.authenticate(1, []byte("\x00alice\x00x")); r.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("authenticate before handshake: %d", r.ErrorCode)
	}
	rc.closed("authenticate before handshake")

	// A frame above sasl.server.max.receive.size before authentication
	// is closed unanswered.
	rc = dialRaw(t, sb.SASL)
	rc.handshake("PLAIN")
	big := kmsg.NewPtrSASLAuthenticateRequest()
	big.Version, big.SASLAuthBytes = 1, []byte("\x00alice\x00"+strings.Repeat("x", 4096))
	rc.write(frame(big, 9))
	rc.closed("oversized SASL frame")

	// Once authenticated, large requests are fine again.
	rc = dialRaw(t, sb.SASL)
	if r := rc.plainLogin("alice", "alice-Secret-2"); r.ErrorCode != 0 {
		t.Fatalf("login: %d %v", r.ErrorCode, r.ErrorMessage)
	}
	md.Topics = []kmsg.MetadataRequestTopic{}
	for i := 0; i < 200; i++ {
		tp := kmsg.NewMetadataRequestTopic()
		tp.Topic = kmsg.StringPtr(strings.Repeat("t", 20) + string(rune('a'+i%26)))
		md.Topics = append(md.Topics, tp)
	}
	mdr := kmsg.NewPtrMetadataResponse()
	rc.roundTrip(md, mdr)
	// Without re-authentication, a second login is ILLEGAL_SASL_STATE
	// and the connection stays, as in Kafka.
	if hs := rc.handshake("PLAIN"); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("handshake after authentication: %d", hs.ErrorCode)
	}
	if r := rc.authenticate(2, []byte("\x00alice\x00alice-Secret-2")); r.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("authenticate after authentication: %d", r.ErrorCode)
	}
	rc.roundTrip(md, kmsg.NewPtrMetadataResponse())

	// SaslHandshake v0: bare tokens follow (Kafka 0.9's framing); a
	// success authenticates, a failure closes unanswered.
	for _, c := range []struct {
		pass string
		ok   bool
	}{{"alice-Secret-2", true}, {sb.secret("wrong-v0-pw"), false}} {
		rc = dialRaw(t, sb.SASL)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 0, "PLAIN"
		hsr := kmsg.NewPtrSASLHandshakeResponse()
		rc.roundTrip(hs, hsr)
		if hsr.ErrorCode != 0 {
			t.Fatalf("handshake v0: %d", hsr.ErrorCode)
		}
		token := []byte("\x00alice\x00" + c.pass)
		rc.write(append(binary.BigEndian.AppendUint32(nil, uint32(len(token))), token...))
		if !c.ok {
			rc.closed("a failed v0 exchange")
			continue
		}
		if b, err := rc.read(); err != nil || len(b) != 0 {
			t.Fatalf("v0 PLAIN answer: %q %v", b, err)
		}
		rc.roundTrip(md, kmsg.NewPtrMetadataResponse())
	}
	stillServes("the raw rejections")
}

// The PLAINTEXT listener is not gated, and answers SASL requests with
// ILLEGAL_SASL_STATE as Kafka does.
func TestPlaintextListenerRefusesSASL(t *testing.T) {
	sb := startSASL(t)
	rc := dialRaw(t, sb.Addr())
	if hs := rc.handshake("PLAIN"); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("handshake on PLAINTEXT: %d", hs.ErrorCode)
	}
	if r := rc.authenticate(2, []byte("\x00a\x00b")); r.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("authenticate on PLAINTEXT: %d", r.ErrorCode)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	rc.roundTrip(md, kmsg.NewPtrMetadataResponse())
}

// Repeated failures from one address wait longer and longer.
func TestFailureBackoff(t *testing.T) {
	sb := startSASL(t, testbroker.WithConfig(func(c *config.Config) { c.FailedAuthDelay = 100 * time.Millisecond }))
	attempt := func() time.Duration {
		rc := dialRaw(t, sb.SASL)
		start := time.Now()
		if r := rc.plainLogin("nobody", "bad-guess"); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Fatalf("code %d", r.ErrorCode)
		}
		return time.Since(start)
	}
	sb.secret("bad-guess")
	attempt() // no failure yet: no wait
	attempt() // waits 100ms
	attempt() // 200ms
	if d := attempt(); d < 400*time.Millisecond {
		t.Fatalf("the fourth failed attempt in a row took %v, want at least 400ms", d)
	}
	// A success resets the address.
	sb.createUser(t, "carol", "carol-Secret-3")
	rc := dialRaw(t, sb.SASL)
	if r := rc.plainLogin("carol", "carol-Secret-3"); r.ErrorCode != 0 {
		t.Fatalf("login: %d", r.ErrorCode)
	}
	if d := attempt(); d > 300*time.Millisecond {
		t.Fatalf("after a success the next failure waited %v", d)
	}
}

// KIP-368: the session lifetime is announced; franz-go re-authenticates
// on the same connection and keeps working; a connection past its
// lifetime that sends a request is closed; re-authentication must keep
// the principal.
func TestReauthentication(t *testing.T) {
	sb := startSASL(t, testbroker.WithConfig(func(c *config.Config) { c.ConnectionsMaxReauth = 1500 * time.Millisecond }))
	sb.createUser(t, "alice", "alice-Secret-4")
	sb.createUser(t, "bob", "bob-Secret-4")

	rc := dialRaw(t, sb.SASL)
	r := rc.plainLogin("alice", "alice-Secret-4")
	if r.ErrorCode != 0 || r.SessionLifetimeMillis != 1500 {
		t.Fatalf("login: code %d lifetime %d", r.ErrorCode, r.SessionLifetimeMillis)
	}
	// Re-authenticating as another user fails and closes.
	if r := rc.plainLogin("bob", "bob-Secret-4"); r.ErrorCode != kerr.SaslAuthenticationFailed.Code ||
		!strings.Contains(*r.ErrorMessage, "cannot change principals") {
		t.Fatalf("re-auth as bob: %d %v", r.ErrorCode, r.ErrorMessage)
	}
	rc.closed("re-authentication as another user")

	// Past the lifetime a request closes the connection, a
	// re-authentication renews it.
	expired := dialRaw(t, sb.SASL)
	renewed := dialRaw(t, sb.SASL)
	expired.plainLogin("alice", "alice-Secret-4")
	renewed.plainLogin("alice", "alice-Secret-4")
	deadline := time.Now().Add(1600 * time.Millisecond)
	poll.True(t, 5*time.Second, "the session lifetime passes", func() bool { return time.Now().After(deadline) })
	if r := renewed.plainLogin("alice", "alice-Secret-4"); r.ErrorCode != 0 {
		t.Fatalf("re-auth: %d", r.ErrorCode)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	renewed.roundTrip(md, kmsg.NewPtrMetadataResponse())
	expired.write(frame(md, 5))
	expired.closed("a request after the session expired")

	// franz-go re-authenticates by itself over several lifetimes, on the
	// same connection (no failure, more successes than connections).
	before := sb.succeeded()
	cl := sb.saslClient(t, mechanism("SCRAM-SHA-512", "alice", "alice-Secret-4"))
	end := time.Now().Add(4 * time.Second)
	poll.Must(t, 20*time.Second, "franz-go keeps working across re-authentications", func() error {
		if err := ping(t, cl); err != nil {
			t.Fatalf("ping across re-authentication: %v", err)
		}
		if time.Now().Before(end) {
			return errors.New("still running")
		}
		return nil
	})
	if n := sb.succeeded() - before; n < 3 {
		t.Fatalf("%v authentications in 4s with a 1.5s lifetime, want re-authentications", n)
	}
	if sb.failed() != 1 {
		t.Fatalf("%v failures, want only bob's", sb.failed())
	}
}

// Alter/DescribeUserScramCredentials answer as Kafka 4.x does.
func TestUserScramCredentialsAPIs(t *testing.T) {
	sb := startSASL(t)
	sb.createUser(t, "alice", "alice-Secret-5")
	adm := admin(t, sb.Addr())
	ctx := t.Context()
	d, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil || len(d) != 1 || len(d["alice"].CredInfos) != 2 || d["alice"].CredInfos[1].Iterations != 8192 {
		t.Fatalf("describe all: %+v %v", d, err)
	}
	d, err = adm.DescribeUserSCRAMs(ctx, "alice", "nobody")
	if err != nil || d["alice"].Err != nil || !errors.Is(d["nobody"].Err, kerr.ResourceNotFound) {
		t.Fatalf("describe alice, nobody: %+v %v", d, err)
	}

	raw := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := func(user string, mech int8, iters int32) {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = user, mech, iters, []byte("salt"), []byte("salted")
		raw.Upsertions = append(raw.Upsertions, u)
	}
	del := func(user string, mech int8) {
		dd := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		dd.Name, dd.Mechanism = user, mech
		raw.Deletions = append(raw.Deletions, dd)
	}
	up("few", 1, 4095)
	up("many", 2, 16385)
	up("weird", 3, 4096)
	up("", 1, 4096)
	del("ghost", 1)
	del("twice", 1)
	up("twice", 1, 4096)
	up("fine", 1, 4096)
	resp, err := raw.RequestWith(ctx, kgoClient(t, sb.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int16{
		"few": kerr.UnacceptableCredential.Code, "many": kerr.UnacceptableCredential.Code,
		"weird": kerr.UnsupportedSaslMechanism.Code, "": kerr.UnacceptableCredential.Code,
		"ghost": kerr.ResourceNotFound.Code, "twice": kerr.DuplicateResource.Code, "fine": 0,
	}
	for _, r := range resp.Results {
		if w, ok := want[r.User]; !ok || r.ErrorCode != w {
			t.Errorf("alter %q: code %d (%v), want %d", r.User, r.ErrorCode, kmsg.StringPtr(derefStr(r.ErrorMessage)), w)
		}
		delete(want, r.User)
	}
	if len(want) != 0 {
		t.Errorf("no result for %v", want)
	}
	d, _ = adm.DescribeUserSCRAMs(ctx)
	if len(d) != 2 || d["twice"].User != "" || d["fine"].User != "fine" {
		t.Errorf("after the mixed request: %+v", d)
	}
	// Deleting both of alice's credentials removes her.
	res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "alice", Mechanism: kadm.ScramSha256}, {User: "alice", Mechanism: kadm.ScramSha512}}, nil)
	if err != nil || res.Error() != nil {
		t.Fatalf("delete alice: %v %v", err, res.Error())
	}
	if err := ping(t, sb.saslClient(t, mechanism("SCRAM-SHA-512", "alice", "alice-Secret-5"))); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("deleted alice logs in: %v", err)
	}
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The brokers' own user (sasl.inter.broker.secret.file, the Secrets
// Manager layout) logs in by every mechanism without being in the store,
// and is the principal the authorizer must treat as a super user.
func TestInterBrokerSecret(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "broker.json")
	if err := os.WriteFile(secret, []byte(`{"username": "kafki-broker", "password": "broker-Secret-10"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	sb := startSASL(t, testbroker.WithConfig(func(c *config.Config) { c.SASLInterBrokerSecretFile = secret }))
	sb.secret("broker-Secret-10")
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		if err := ping(t, sb.saslClient(t, mechanism(mech, "kafki-broker", "broker-Secret-10"))); err != nil {
			t.Errorf("%s as the inter-broker user: %v", mech, err)
		}
	}
	if err := ping(t, sb.saslClient(t, mechanism("SCRAM-SHA-512", "kafki-broker", "wrong-10"))); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("wrong inter-broker password: %v", err)
	}
	sb.secret("wrong-10")
	if p, ok := sb.InterBrokerPrincipal(); !ok || p.String() != "User:kafki-broker" {
		t.Errorf("inter-broker principal %v %v", p, ok)
	}
	// A malformed secret file stops the broker from starting, naming the
	// setting but not the content.
	if err := os.WriteFile(secret, []byte(`{"username": "x", "password": "leaked-10"`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testbroker.Config(t, testbroker.WithConfig(func(c *config.Config) { c.SASLInterBrokerSecretFile = secret }))
	_, err := broker.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "sasl.inter.broker.secret.file") || strings.Contains(err.Error(), "leaked-10") {
		t.Fatalf("start with a malformed secret: %v", err)
	}
}

// denyCluster is an authorizer that denies every action on the cluster
// and records the principals it was asked about.
type denyCluster struct {
	mu    sync.Mutex
	asked []string
}

func (d *denyCluster) Authorize(_ context.Context, req *auth.Request, actions []auth.Action) []auth.Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]auth.Result, len(actions))
	for i, a := range actions {
		out[i] = auth.Allowed
		if a.Resource.Type == auth.ResourceCluster {
			out[i] = auth.Denied
			d.asked = append(d.asked, req.Session.Principal.String()+" "+a.Op.String())
		}
	}
	return out
}

func (d *denyCluster) AuthorizeByResourceType(context.Context, *auth.Request, auth.Operation, auth.ResourceType) auth.Result {
	return auth.Allowed
}

// The user APIs ask the authorizer what Kafka asks: DESCRIBE and ALTER
// on the cluster (DESCRIBE_CONFIGS for DescribeClientQuotas), about the
// SASL principal, and answer a denial with CLUSTER_AUTHORIZATION_FAILED.
func TestUserAPIsAreAuthorized(t *testing.T) {
	plainFile := filepath.Join(t.TempDir(), "plain.json")
	if err := os.WriteFile(plainFile, []byte(`{"gina": "gina-Secret-12"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &denyCluster{}
	sb := startSASL(t, testbroker.WithBroker(broker.WithAuthorizer(d)),
		testbroker.WithConfig(func(c *config.Config) { c.SASLPlainUsersFile = plainFile }))
	sb.secret("gina-Secret-12")
	cl := sb.saslClient(t, mechanism("PLAIN", "gina", "gina-Secret-12"))
	ctx := t.Context()

	dr := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	dresp, err := dr.RequestWith(ctx, cl)
	if err != nil || dresp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("describe: %v %+v", err, dresp)
	}
	ar := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	del := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	del.Name, del.Mechanism = "gina", 2
	ar.Deletions = append(ar.Deletions, del)
	aresp, err := ar.RequestWith(ctx, cl)
	if err != nil || len(aresp.Results) != 1 || aresp.Results[0].ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alter: %v %+v", err, aresp)
	}
	qr := kmsg.NewPtrDescribeClientQuotasRequest()
	qresp, err := qr.RequestWith(ctx, cl)
	if err != nil || qresp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("describe quotas: %v %+v", err, qresp)
	}
	d.mu.Lock()
	asked := strings.Join(d.asked, ",")
	d.mu.Unlock()
	if asked != "User:gina DESCRIBE,User:gina ALTER,User:gina DESCRIBE_CONFIGS" {
		t.Fatalf("the authorizer was asked %q", asked)
	}
}
