package server

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/sasl"
)

// FuzzSASLConnection feeds three frames to one connection of a
// SASL_PLAINTEXT listener. Invariants: no panic; the principal is
// anonymous until an exchange succeeded, and then the one user that
// exists, authenticated; a connection that is not authenticated never
// gets an answer to anything but ApiVersions, SaslHandshake and
// SaslAuthenticate (the gate closes it first).
func FuzzSASLConnection(f *testing.F) {
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	hs0 := kmsg.NewPtrSASLHandshakeRequest()
	hs0.Version, hs0.Mechanism = 0, "SCRAM-SHA-256"
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version, au.SASLAuthBytes = 2, []byte("\x00alice\x00alice-pw")
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	f.Add(encodeRequest(hs, 1), encodeRequest(au, 2), encodeRequest(md, 3))
	f.Add(encodeRequest(md, 1), encodeRequest(hs, 2), encodeRequest(au, 3))
	f.Add(encodeRequest(hs0, 1), []byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add(encodeRequest(hs, 1), encodeRequest(au, 2), encodeRequest(hs, 3))

	s := newTestServer(f)
	cred, err := sasl.NewCredential(sasl.SHA256, "alice-pw", sasl.MinIterations)
	if err != nil {
		f.Fatal(err)
	}
	a, err := sasl.New(sasl.Options{Mechanisms: []string{sasl.Plain, sasl.ScramSHA256},
		Credentials: sasl.StaticScram{"alice": {sasl.SHA256: cred}}})
	if err != nil {
		f.Fatal(err)
	}
	s.opts.SASL = &SASLOptions{Authenticator: a, MaxReceiveSize: 4096, MaxReauth: time.Hour}
	s.saslFails = newFailureBackoff(&SASLOptions{FailureDelay: time.Nanosecond, MaxFailureDelay: time.Nanosecond})
	s.cancelDrain()
	f.Fuzz(func(t *testing.T, f1, f2, f3 []byte) {
		client, srv := net.Pipe()
		defer client.Close()
		go io.Copy(io.Discard, client)
		c := newConn(s, srv, &Listener{Name: "SASL_PLAINTEXT", Protocol: auth.SASLPlaintext})
		defer srv.Close()
		for _, fb := range [][]byte{f1, f2, f3} {
			authed := c.session.SASL.Stage == auth.SASLAuthenticated
			var key int16 = -1
			if len(fb) >= 2 && !c.sasl.rawTokens.Load() {
				key = int16(fb[0])<<8 | int16(fb[1])
			}
			err := s.dispatch(c, frame{buf: fb, arrived: time.Now()})
			switch p := c.session.Principal; {
			case p == auth.Anonymous && c.session.SASL.Stage != auth.SASLAuthenticated:
			case p.Name == "alice" && c.session.SASL.Stage == auth.SASLAuthenticated:
			default:
				t.Fatalf("principal %v at stage %v", p, c.session.SASL.Stage)
			}
			if !authed && err == nil && key >= 0 && key != apiVersionsKey && key != saslHandshakeKey && key != saslAuthenticateKey {
				t.Fatalf("API key %d handled before authentication", key)
			}
			if err != nil {
				return
			}
		}
	})
}
