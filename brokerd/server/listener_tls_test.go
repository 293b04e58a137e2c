package server

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/internal/testcerts"
	"github.com/kafki/kafki/brokerd/tlsconf"
	"github.com/kafki/kafki/internal/poll"
)

// serveTLS serves s on a loopback SSL listener whose handshakes are
// bounded by timeout; it returns the address.
func serveTLS(t *testing.T, s *Server, timeout time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "test")
	cert := ca.Issue(t, dir, "broker", testcerts.Leaf{Subject: pkix.Name{CommonName: "broker"}})
	st, err := tlsconf.Open(tlsconf.Files{Cert: cert.Keystore}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := st.ServerConfig(tlsconf.ClientAuthNone)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeListener(ln, Listener{Name: "SSL", Protocol: auth.SSL, TLS: tc, HandshakeTimeout: timeout})
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	return ln.Addr().String()
}

// A client that connects to a TLS listener and sends nothing is closed
// when the handshake deadline passes; its connection is then gone.
func TestTLSHandshakeIsBounded(t *testing.T) {
	s := newTestServer(t)
	addr := serveTLS(t, s, 200*time.Millisecond)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("the silent client was not closed: %v", err)
	}
	poll.True(t, 5*time.Second, "no connection left", func() bool {
		return testutil.ToFloat64(s.metrics.Connections) == 0
	})
	if n := testutil.ToFloat64(s.metrics.TLSHandshakeFailures.WithLabelValues("SSL")); n != 1 {
		t.Fatalf("kafki_tls_handshake_failures_total{listener=SSL} = %v, want 1", n)
	}
}

// A TLS client is served; the session knows the listener's protocol.
func TestTLSListenerServes(t *testing.T) {
	s := newTestServer(t)
	addr := serveTLS(t, s, time.Second)
	nc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the test's own server
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 0
	if _, err := nc.Write(kmsg.NewRequestFormatter().AppendRequest(nil, req, 7)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	if err := resp.ReadFrom(body[4:]); err != nil || resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions over TLS: %+v %v", resp, err)
	}
}

// A listener whose protocol and TLS config disagree is refused.
func TestServeListenerChecksTLS(t *testing.T) {
	s := newTestServer(t)
	for _, l := range []Listener{{Name: "SSL", Protocol: auth.SSL}, {Name: "P", Protocol: auth.Plaintext, TLS: &tls.Config{}}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ServeListener(ln, l); err == nil {
			t.Fatalf("%+v served", l)
		}
	}
}
