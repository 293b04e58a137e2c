package sasl_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/brokerd/server"
)

// logBuffer keeps a broker's log for the secrets check.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// saslBroker is an in-process broker with a SASL_PLAINTEXT listener
// (SASL) besides its PLAINTEXT one (Plain).
type saslBroker struct {
	*broker.Broker
	SASL string // host:port of the SASL_PLAINTEXT listener
	log  *logBuffer
	// secrets are the passwords the test used: none may appear in the
	// broker's log (checked at cleanup, after shutdown).
	secrets []string
}

// startSASL starts a broker with a SASL_PLAINTEXT listener. Failed
// authentications wait only 1ms by default so tests of rejections stay
// fast; the backoff test sets its own delay.
func startSASL(t *testing.T, opts ...testbroker.Option) *saslBroker {
	t.Helper()
	return startSASLListener(t, nil, opts...)
}

// startSASLListener is startSASL with the listener wrapped in TLS when
// tlsCfg is set: a SASL_SSL listener.
func startSASLListener(t *testing.T, tlsCfg *tls.Config, opts ...testbroker.Option) *saslBroker {
	t.Helper()
	sb := &saslBroker{log: &logBuffer{}}
	t.Cleanup(func() {
		// Registered first, so it runs after the broker's shutdown.
		log := sb.log.String()
		for _, s := range sb.secrets {
			if strings.Contains(log, s) {
				t.Errorf("the broker's log holds the password %q", s)
			}
		}
		if t.Failed() {
			lines := strings.Split(log, "\n")
			t.Logf("broker log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	// Metadata advertises one address per broker until listeners are
	// configured (the listeners issue): the SASL listener's, so that
	// kcat and Kafka's tools, which follow Metadata, stay on it. Go
	// clients of the PLAINTEXT listener redirect their dials (admin).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sb.SASL = ln.Addr().String()
	all := append([]testbroker.Option{testbroker.WithConfig(func(c *config.Config) {
		c.FailedAuthDelay = time.Millisecond
		c.AdvertisedAddr = sb.SASL
	})}, opts...)
	sb.Broker = testbroker.StartBrokerLogging(t, sb.log, all...)
	if tlsCfg != nil {
		sb.ServeListener(ln, server.Listener{Name: "SASL_SSL", Protocol: auth.SASLSSL, TLS: tlsCfg})
	} else {
		sb.ServeListener(ln, server.Listener{Name: "SASL_PLAINTEXT", Protocol: auth.SASLPlaintext})
	}
	return sb
}

// secret registers a password the log must not contain and returns it.
func (sb *saslBroker) secret(pw string) string {
	sb.secrets = append(sb.secrets, pw)
	return pw
}

// createUser upserts user's SCRAM credentials of every mechanism, through
// the broker's PLAINTEXT listener (as an operator would before turning
// SASL on).
func (sb *saslBroker) createUser(t *testing.T, user, pass string) {
	t.Helper()
	sb.secret(pass)
	adm := admin(t, sb.Addr())
	res, err := adm.AlterUserSCRAMs(t.Context(), nil, []kadm.UpsertSCRAM{
		{User: user, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: pass},
		{User: user, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: pass},
	})
	if err != nil || res.Error() != nil {
		t.Fatalf("create user %s: %v %v", user, err, res.Error())
	}
}

// admin is an admin client of the broker listening at addr, whatever
// address Metadata advertises.
func admin(t *testing.T, addr string, opts ...kgo.Opt) *kadm.Client {
	t.Helper()
	return kadm.NewClient(kgoClient(t, addr, opts...))
}

// kgoClient is a client that dials only addr.
func kgoClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	var d net.Dialer
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// mechanisms are franz-go's clients of each mechanism.
func mechanism(name, user, pass string) kgosasl.Mechanism {
	switch name {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	}
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

// saslClient is a franz-go client of the SASL listener.
func (sb *saslBroker) saslClient(t *testing.T, m kgosasl.Mechanism, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(sb.SASL), kgo.SASL(m), kgo.RequestRetries(0),
		kgo.RetryTimeout(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// failed and succeeded are the broker's SASL counters.
func (sb *saslBroker) failed() float64    { return testutil.ToFloat64(sb.Metrics().SASLFailed) }
func (sb *saslBroker) succeeded() float64 { return testutil.ToFloat64(sb.Metrics().SASLSucceeded) }

// rawConn is a bare Kafka connection for hand-made frames.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

func frame(req kmsg.Request, correlationID int32) []byte {
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one response frame, or returns the error (io.EOF: closed).
func (c *rawConn) read() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(c.nc, b)
	return b, err
}

// roundTrip sends req and decodes the response into resp.
func (c *rawConn) roundTrip(req kmsg.Request, resp kmsg.Response) {
	c.t.Helper()
	c.write(frame(req, 7))
	b, err := c.read()
	if err != nil {
		c.t.Fatalf("%s: read response: %v", kmsg.NameForKey(req.Key()), err)
	}
	b = b[4:]
	if req.IsFlexible() && req.Key() != 18 {
		b = b[1:]
	}
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(b); err != nil {
		c.t.Fatalf("decode %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
}

// closed fails unless the broker closed the connection (EOF or reset)
// without another response.
func (c *rawConn) closed(what string) {
	c.t.Helper()
	b, err := c.read()
	if err == nil {
		c.t.Fatalf("%s: got a %d-byte response, want the connection closed", what, len(b))
	}
	var ne net.Error
	if ok := asNetErr(err, &ne); ok && ne.Timeout() {
		c.t.Fatalf("%s: connection still open after 10s", what)
	}
}

func asNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// handshake sends SaslHandshake v1 for mechanism.
func (c *rawConn) handshake(mechanism string) *kmsg.SASLHandshakeResponse {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version, req.Mechanism = 1, mechanism
	resp := kmsg.NewPtrSASLHandshakeResponse()
	c.roundTrip(req, resp)
	return resp
}

// authenticate sends one SaslAuthenticate at version v.
func (c *rawConn) authenticate(v int16, token []byte) *kmsg.SASLAuthenticateResponse {
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version, req.SASLAuthBytes = v, token
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	c.roundTrip(req, resp)
	return resp
}

// plainLogin authenticates the connection with PLAIN.
func (c *rawConn) plainLogin(user, pass string) *kmsg.SASLAuthenticateResponse {
	c.t.Helper()
	if hs := c.handshake("PLAIN"); hs.ErrorCode != 0 {
		c.t.Fatalf("handshake: error %d", hs.ErrorCode)
	}
	return c.authenticate(2, []byte("\x00"+user+"\x00"+pass))
}

// ping is one Metadata round trip that must succeed.
func ping(t *testing.T, cl *kgo.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}
