package broker_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/brokerd/internal/testcerts"
	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/loadtest"
)

// pki is a CA, the broker's certificate and a client's, made for one
// test.
type pki struct {
	dir    string
	ca     *testcerts.CA
	server *testcerts.Issued
	client *testcerts.Issued // CN=alice,OU=clients,O=Kafki
}

func newPKI(t *testing.T) *pki {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "kafki-test")
	return &pki{
		dir: dir, ca: ca,
		server: ca.Issue(t, dir, "broker", testcerts.Leaf{Subject: pkix.Name{CommonName: "broker"}}),
		client: ca.Issue(t, dir, "alice", testcerts.Leaf{Subject: pkix.Name{CommonName: "Alice", OrganizationalUnit: []string{"clients"}, Organization: []string{"Kafki"}}}),
	}
}

// clientTLS trusts the CA and presents certs[0], if given, whatever CAs
// the server names (crypto/tls would otherwise hold back a certificate
// the server's CA did not sign, and the broker's own check would go
// untested).
func (p *pki) clientTLS(certs ...tls.Certificate) *tls.Config {
	c := &tls.Config{RootCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12}
	if len(certs) > 0 {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
	}
	return c
}

// sessions records the sessions the broker's authorizer is asked about:
// how a test sees each connection's listener, protocol and principal.
type sessions struct {
	mu   sync.Mutex
	seen map[string]bool // "LISTENER PROTOCOL User:name"
}

func (s *sessions) record(req *auth.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	ss := req.Session
	s.seen[ss.Listener+" "+string(ss.Protocol)+" "+ss.Principal.String()] = true
}

// String lists the sessions seen.
func (s *sessions) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.seen)
}

func (s *sessions) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[k]
}

func (s *sessions) Authorize(_ context.Context, req *auth.Request, actions []auth.Action) []auth.Result {
	s.record(req)
	return auth.AllowAll{}.Authorize(context.Background(), req, actions)
}

func (s *sessions) AuthorizeByResourceType(_ context.Context, req *auth.Request, _ auth.Operation, _ auth.ResourceType) auth.Result {
	s.record(req)
	return auth.Allowed
}

// tlsBroker runs a broker with a PLAINTEXT and an SSL listener
// (ssl.client.auth=required, the CN of OU=clients lower-cased as the
// principal).
func tlsBroker(t *testing.T, p *pki, opts ...testbroker.Option) (*broker.Broker, *sessions) {
	t.Helper()
	rec := &sessions{}
	opts = append([]testbroker.Option{testbroker.WithBroker(broker.WithAuthorizer(rec)), testbroker.WithConfig(func(c *config.Config) {
		c.Listen = config.Default().Listen // listeners replaces it
		c.Listeners = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"
		c.SSL.KeystoreLocation, c.SSL.KeystoreType = p.server.Keystore, "PEM"
		c.SSL.TruststoreLocation, c.SSL.TruststoreType = p.ca.File, "PEM"
		c.SSL.ClientAuth = "required"
		c.SSL.PrincipalMappingRules = "RULE:^CN=([^,]*),OU=clients.*$/$1/L,DEFAULT"
	})}, opts...)
	return testbroker.StartBroker(t, opts...), rec
}

func tlsClient(t *testing.T, addr string, tc *tls.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(tc)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func port(t *testing.T, addr string) int32 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return int32(n)
}

// franz-go produces and consumes over mTLS; each listener's clients are
// told that listener's address; the SSL session's principal is the
// certificate's mapped subject, the PLAINTEXT one's ANONYMOUS.
func TestTLSProduceConsumeFranz(t *testing.T) {
	p := newPKI(t)
	b, rec := tlsBroker(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sslAddr, plainAddr := b.ListenerAddr("SSL"), b.ListenerAddr("PLAINTEXT")

	cl := tlsClient(t, sslAddr, p.clientTLS(p.client.TLS), kgo.ConsumeTopics("secure"), kgo.AllowAutoTopicCreation())
	for i := range 20 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte("v" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce over TLS: %v", err)
		}
	}
	var got []string
	for len(got) < 20 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != 20 || got[0] != "v0" || got[19] != "v19" {
		t.Fatalf("consumed %v", got)
	}

	plain := plainClient(t, plainAddr)
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatalf("produce over PLAINTEXT: %v", err)
	}
	for _, tc := range []struct {
		cl   *kgo.Client
		want int32
	}{{cl, port(t, sslAddr)}, {plain, port(t, plainAddr)}} {
		md, err := kadm.NewClient(tc.cl).BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(md.Brokers) != 1 || md.Brokers[0].Port != tc.want || md.Brokers[0].Host != "127.0.0.1" {
			t.Fatalf("metadata brokers %+v, want port %d", md.Brokers, tc.want)
		}
		resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, tc.cl)
		if err != nil || len(resp.Brokers) != 1 || resp.Brokers[0].Port != tc.want {
			t.Fatalf("DescribeCluster %+v %v, want port %d", resp, err, tc.want)
		}
	}
	if !rec.has("SSL SSL User:alice") {
		t.Fatalf("no SSL session as User:alice: %v", rec)
	}
	if !rec.has("PLAINTEXT PLAINTEXT User:ANONYMOUS") {
		t.Fatalf("no anonymous PLAINTEXT session: %v", rec)
	}
}

func plainClient(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// A group's coordinator is given on the client's listener.
func TestTLSFindCoordinatorAnswersTheClientsListener(t *testing.T) {
	p := newPKI(t)
	b, _ := tlsBroker(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cl := tlsClient(t, b.ListenerAddr("SSL"), p.clientTLS(p.client.TLS))
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKeys = []string{"g"}
	poll.Must(t, 20*time.Second, "the coordinator on the SSL listener", func() error {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		c := resp.Coordinators[0]
		if c.ErrorCode != 0 {
			return fmt.Errorf("error code %d", c.ErrorCode)
		}
		if c.Port != port(t, b.ListenerAddr("SSL")) {
			return fmt.Errorf("coordinator port %d, want the SSL listener's", c.Port)
		}
		return nil
	})
}

// Rejections: no certificate where one is required, a certificate of
// another CA, an expired one. Each fails the connection (clients see an
// error, never a hang) and leaves the broker serving others.
func TestMTLSRejections(t *testing.T) {
	p := newPKI(t)
	b, _ := tlsBroker(t, p)
	addr := b.ListenerAddr("SSL")
	other := testcerts.NewCA(t, p.dir, "stranger")
	untrusted := other.Issue(t, p.dir, "mallory", testcerts.Leaf{Subject: pkix.Name{CommonName: "mallory", OrganizationalUnit: []string{"clients"}}})
	expired := p.ca.Issue(t, p.dir, "old", testcerts.Leaf{Subject: pkix.Name{CommonName: "old", OrganizationalUnit: []string{"clients"}}, NotAfter: time.Now().Add(-time.Minute)})
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		want  string // the TLS alert the broker sends
	}{
		{"no certificate", nil, "certificate required"},
		{"untrusted CA", []tls.Certificate{untrusted.TLS}, "unknown certificate authority"},
		{"expired", []tls.Certificate{expired.TLS}, "expired certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := apiVersionsOverTLS(addr, p.clientTLS(tc.certs...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want the broker's %q alert", err, tc.want)
			}
		})
	}
	if err := apiVersionsOverTLS(addr, p.clientTLS(p.client.TLS)); err != nil {
		t.Fatalf("a good client after the rejections: %v", err)
	}
}

// apiVersionsOverTLS connects, handshakes and asks ApiVersions once.
func apiVersionsOverTLS(addr string, tc *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = apiVersions(c)
	return err
}

// apiVersions sends an ApiVersions v0 request on c and reads the answer.
func apiVersions(c net.Conn) (*kmsg.ApiVersionsResponse, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 0
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("tls-test"))
	if _, err := c.Write(f.AppendRequest(nil, req, 1)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(body[4:]); err != nil { // after the correlation id
		return nil, err
	}
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("ApiVersions error %d", resp.ErrorCode)
	}
	return resp, nil
}

// Rotation: new files are served to new connections (their serial),
// while a connection made before keeps working.
func TestCertificateRotation(t *testing.T) {
	p := newPKI(t)
	// The keystore is written by Issue under the name "broker".
	first := p.ca.Issue(t, p.dir, "broker", testcerts.Leaf{Subject: pkix.Name{CommonName: "broker"}, Serial: 1001})
	b, _ := tlsBroker(t, p)
	addr := b.ListenerAddr("SSL")
	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", addr, p.clientTLS(p.client.TLS))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := dial()
	defer old.Close()
	if s := old.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); s != first.Cert.SerialNumber.Int64() {
		t.Fatalf("serial %d, want %d", s, first.Cert.SerialNumber.Int64())
	}
	p.ca.Issue(t, p.dir, "broker", testcerts.Leaf{Subject: pkix.Name{CommonName: "broker"}, Serial: 1002})
	fresh := dial()
	defer fresh.Close()
	if s := fresh.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); s != 1002 {
		t.Fatalf("new connection: serial %d, want 1002 (the rotated certificate)", s)
	}
	for _, c := range []*tls.Conn{old, fresh} {
		if _, err := apiVersions(c); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	}
}

// A plaintext client on the TLS port is closed at once, and its
// connection does not linger in the broker.
func TestPlaintextClientOnTLSPort(t *testing.T) {
	p := newPKI(t)
	b, _ := tlsBroker(t, p)
	before := testutil.ToFloat64(b.Metrics().Connections)
	c, err := net.DialTimeout("tcp", b.ListenerAddr("SSL"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := apiVersions(c); err == nil {
		t.Fatal("a plaintext request on the TLS port was answered")
	} else if errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 4*time.Second {
		t.Fatalf("the broker did not close the connection: %v", err)
	}
	poll.True(t, 5*time.Second, "the connection is gone from the broker", func() bool {
		return testutil.ToFloat64(b.Metrics().Connections) == before
	})
	// The same port serves TLS clients.
	if err := apiVersionsOverTLS(b.ListenerAddr("SSL"), p.clientTLS(p.client.TLS)); err != nil {
		t.Fatal(err)
	}
}

// kcat (librdkafka) with security.protocol=SSL and a client certificate
// produces and consumes.
func TestKcatSSLClientCertificate(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat is required (make test installs it)")
	}
	p := newPKI(t)
	b, rec := tlsBroker(t, p)
	sslArgs := []string{"-b", b.ListenerAddr("SSL"), "-X", "security.protocol=SSL",
		"-X", "ssl.ca.location=" + p.ca.File, "-X", "ssl.certificate.location=" + p.client.CertFile,
		"-X", "ssl.key.location=" + p.client.KeyFile}
	in := "one\ntwo\nthree\n"
	kcatRun(t, in, append([]string{"-P", "-t", "kcat-ssl"}, sslArgs...)...)
	out := kcatRun(t, "", append([]string{"-C", "-t", "kcat-ssl", "-o", "beginning", "-e", "-q"}, sslArgs...)...)
	if out != in {
		t.Fatalf("kcat consumed %q, want %q", out, in)
	}
	if !rec.has("SSL SSL User:alice") {
		t.Fatalf("kcat's session is not User:alice: %v", rec)
	}
}

func kcatRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	args = append(args, "-X", "socket.connection.setup.timeout.ms=5000")
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// loadtest's produce workload runs over mTLS (--security-protocol=SSL
// with --tls-ca, --tls-cert, --tls-key).
func TestLoadtestOverTLS(t *testing.T) {
	p := newPKI(t)
	b, _ := tlsBroker(t, p)
	runLoadtest(t, "produce", "--bootstrap="+b.ListenerAddr("SSL"),
		"--security-protocol=SSL", "--tls-ca="+p.ca.File, "--tls-cert="+p.client.CertFile, "--tls-key="+p.client.KeyFile,
		"--records=2000", "--duration=0", "--warmup=0", "--json=", "--svg=", "--progress=0")
}

// runLoadtest runs the load generator with args and checks that every
// one of its --records=2000 was acknowledged and is held by the broker.
func runLoadtest(t *testing.T, args ...string) *loadtest.Report {
	t.Helper()
	cfg, err := loadtest.ParseArgs(args, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loadtest.Run(t.Context(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Produce == nil || rep.Produce.Records != 2000 || rep.BrokerRecords != 2000 {
		t.Fatalf("report %+v", rep)
	}
	return rep
}
