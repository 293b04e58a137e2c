package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/tlsconf"
)

// pipelineDepth bounds how many requests a connection may have read ahead
// of the one being handled.
const pipelineDepth = 8

// maxRetainedWriteBuf: a response buffer that grew beyond this is dropped
// after use rather than kept for the connection's life.
const maxRetainedWriteBuf = 1 << 20

type frame struct {
	buf     []byte // the request after its size prefix; owned by the handler
	arrived time.Time
}

// conn is one client connection.
type conn struct {
	s    *Server
	nc   net.Conn
	log  *slog.Logger
	wbuf []byte // response buffer, used only by the processor goroutine
	// bigResp is the size of the last response too large to keep in wbuf;
	// the next large response starts from a pooled buffer of that size.
	bigResp int
	// session is who is connected; written only by the processor
	// goroutine (ApiVersions, and authentication when it comes), read by
	// the handlers it runs.
	session *auth.Session
	// listener is the listener the connection was accepted on; shared
	// by its connections, never written after ServeListener starts.
	listener *Listener
	// sasl is the connection's SASL state beyond the session's (sasl.go).
	sasl saslConn
}

func newConn(s *Server, nc net.Conn, l *Listener) *conn {
	return &conn{
		s: s, nc: nc, log: s.log.With("remote", nc.RemoteAddr().String()),
		session:  auth.NewSession(l.Name, l.Protocol, nc.RemoteAddr()),
		listener: l,
	}
}

// stopReading makes the reader stop at its next read; requests already
// read are still answered.
func (c *conn) stopReading() { c.nc.SetReadDeadline(time.Now()) }

// serve runs the connection: a reader goroutine frames requests, this
// goroutine handles them in order.
func (c *conn) serve() {
	defer c.nc.Close()
	if tc, ok := c.nc.(*tls.Conn); ok {
		if err := c.handshake(tc); err != nil {
			// A plaintext client, an untrusted or expired certificate,
			// a client that sent nothing: closed without a word, as a
			// TLS server does (crypto/tls sent its alert, if any).
			c.log.Info("TLS handshake failed", "listener", c.listener.Name, "err", err)
			c.s.metrics.TLSHandshakeFailures.WithLabelValues(c.listener.Name).Inc()
			return
		}
	}
	frames := make(chan frame, pipelineDepth)
	go c.readLoop(frames)
	for f := range frames {
		if err := c.process(f); err != nil {
			c.log.Warn("closing connection", "reason", err)
			c.nc.Close() // unblocks the reader, which closes frames
			for range frames {
			}
			return
		}
	}
}

// handshake completes the TLS handshake within the listener's timeout
// (Shutdown's read deadline ends it early) and, on an SSL listener, sets
// the session's principal from the client certificate.
func (c *conn) handshake(tc *tls.Conn) error {
	ctx, cancel := context.WithTimeout(c.s.drain, c.listener.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	if c.listener.Protocol != auth.SSL {
		return nil // SASL_SSL: SASL authenticates
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil // ssl.client.auth=none or requested: ANONYMOUS
	}
	p, err := c.listener.certPrincipal(certs[0])
	if err != nil {
		return err
	}
	c.session.Principal = p
	return nil
}

// certPrincipal is the principal of a verified client certificate: its
// subject DN, mapped by the listener's rules.
func (l *Listener) certPrincipal(cert *x509.Certificate) (auth.Principal, error) {
	dn, err := tlsconf.SubjectDN(cert)
	if err != nil {
		return auth.Principal{}, err
	}
	name := dn
	if l.Principals != nil {
		if name, err = l.Principals.Map(dn); err != nil {
			return auth.Principal{}, err
		}
	}
	return auth.Principal{Type: auth.PrincipalUser, Name: name}, nil
}

func (c *conn) readLoop(frames chan<- frame) {
	defer close(frames)
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
				c.log.Debug("read failed", "err", err)
			}
			return
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if limit := c.maxFrame(); size < c.minFrame() || size > limit {
			setting := "socket.request.max.bytes"
			if limit < c.s.opts.MaxRequestBytes {
				setting = "sasl.server.max.receive.size, before SASL authentication"
			}
			c.log.Warn("closing connection", "reason", fmt.Sprintf("request frame of %d bytes (allowed %d..%d, %s)", size, c.minFrame(), limit, setting))
			c.nc.Close()
			return
		}
		buf := c.s.bufs.Get(int(size))
		if _, err := io.ReadFull(r, buf); err != nil {
			c.log.Debug("truncated request frame", "err", err)
			return
		}
		c.s.metrics.NetBytesIn.Add(float64(size) + 4)
		frames <- frame{buf: buf, arrived: time.Now()}
	}
}

// reqCtx is what a handler knows about its request: its header, its
// connection and so the connection's session (who asks), and the
// request's authorization questions (authorize.go).
type reqCtx struct {
	s       *Server
	conn    *conn
	hdr     requestHeader
	metrics interface{ Error(int16) }
	// readBufs are the pooled buffers fetched record bytes were read into;
	// they are recycled once the response is written.
	readBufs [][]byte
	// authz is the request's authorization questions and answers
	// (authorize.go); nil until a handler asks, so never with allow-all.
	authz *authzBatch
	// racks maps broker ids to racks, built by the first KIP-392 choice
	// of a fetch (01_fetch.go); nil otherwise.
	racks map[int32]string
}

// session is the connection's session.
func (rc *reqCtx) session() *auth.Session { return rc.conn.session }

// allocRead is the storage read allocator for this request.
func (rc *reqCtx) allocRead(n int) []byte {
	b := rc.s.bufs.Get(n)
	rc.readBufs = append(rc.readBufs, b)
	return b
}

// errCode counts a non-zero error code in the response and returns it.
func (rc *reqCtx) errCode(code int16) int16 {
	if code != 0 {
		rc.metrics.Error(code)
	}
	return code
}

// process handles one frame and writes its response. An error closes the
// connection.
func (c *conn) process(f frame) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("handler panic", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return c.s.dispatch(c, f)
}

// dispatch decodes a frame, runs its handler and writes the response. It
// does not recover panics, so that fuzzing sees them.
func (s *Server) dispatch(c *conn, f frame) error {
	if c.sasl.rawTokens.Load() {
		return s.rawSASLToken(c, f)
	}
	// The request value made to learn the header's flexibility is the one
	// the body is decoded into.
	var req kmsg.Request
	hdr, body, err := parseHeader(f.buf, func(key, version int16) bool {
		req = kmsg.RequestForKey(key)
		if req == nil || version < 0 || version > req.MaxVersion() {
			return false
		}
		req.SetVersion(version)
		return req.IsFlexible()
	})
	if err != nil {
		return err
	}
	a, served := s.byKey[hdr.key]
	am := s.metrics.API(hdr.key, apiName(hdr.key))
	am.Requests.Inc()
	defer func() { am.Latency.Observe(time.Since(f.arrived).Seconds()) }()

	if err := c.saslGate(hdr.key); err != nil {
		return err
	}
	if !served || hdr.version < a.min || hdr.version > a.max {
		am.Error(errUnsupportedVersion)
		return c.writeUnsupported(hdr)
	}
	if err := req.ReadFrom(body); err != nil {
		return fmt.Errorf("undecodable %s v%d request: %v", apiName(hdr.key), hdr.version, err)
	}
	rc := &reqCtx{s: s, conn: c, hdr: hdr, metrics: am}
	resp := a.handle(s.drain, rc, req)
	if resp != nil {
		resp.SetVersion(hdr.version)
		err = c.write(hdr, req.IsFlexible() && hdr.key != apiVersionsKey, resp)
	}
	// Produce and Fetch keep no reference to their request frame or read
	// buffers once the answer is written (the log copies appended bytes
	// into the file; kmsg copied fetched bytes into the response frame),
	// so those buffers go back to the pool. Other APIs may keep slices of
	// their request (group metadata, say), so their frames are left to
	// the garbage collector.
	if hdr.key == produceKey || hdr.key == fetchKey {
		s.bufs.Put(f.buf)
		for _, b := range rc.readBufs {
			s.bufs.Put(b)
		}
	}
	if err == nil && c.sasl.closeAfter != nil {
		// A failed SASL step: its answer is out, the connection ends.
		err = c.sasl.closeAfter
	}
	return err
}

// write sends resp with a v0 (or, when flexible, v1) response header.
func (c *conn) write(hdr requestHeader, flexibleHeader bool, resp kmsg.Response) error {
	b := c.wbuf[:0]
	if b == nil && c.bigResp > 0 {
		b = c.s.bufs.Get(c.bigResp)[:0]
	}
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(hdr.correlationID))
	if flexibleHeader {
		b = append(b, 0) // no tagged fields
	}
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	_, err := c.nc.Write(b)
	c.s.metrics.NetBytesOut.Add(float64(len(b)))
	if cap(b) <= maxRetainedWriteBuf {
		c.wbuf = b[:0]
	} else {
		c.wbuf, c.bigResp = nil, len(b)
		c.s.bufs.Put(b)
	}
	if err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

// writeUnsupported answers a request for an API or version Kafki does not
// serve. ApiVersions gets a v0 response listing only ApiVersions' own
// range (KIP-511, as Kafka's ApiVersionsRequest.getErrorResponse), so the
// client retries at the newest version both sides know and its
// ClientSoftwareName reaches the broker: franz-go and librdkafka retry
// only on a one-key answer, and take a full list at v0 as final.
// Anything else gets a body of just the UNSUPPORTED_VERSION code and the
// connection stays open. That is a deliberate departure: Kafka's socket
// server fails to parse such a header and closes the connection (the client
// sees a disconnect), but Kafki's requirements ask for an error code rather
// than a dropped connection. The body is not the schema of the response
// the client expected, so a client that decodes it as one may fail to;
// clients that negotiate versions through ApiVersions never send these.
func (c *conn) writeUnsupported(hdr requestHeader) error {
	if hdr.key == apiVersionsKey {
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.SetVersion(0)
		resp.ErrorCode = errUnsupportedVersion
		for _, k := range c.s.apiVersionsResponse(0).ApiKeys {
			if k.ApiKey == apiVersionsKey {
				resp.ApiKeys = append(resp.ApiKeys, k)
			}
		}
		return c.write(hdr, false, resp)
	}
	c.log.Debug("unsupported request", "api", apiName(hdr.key), "key", hdr.key, "version", hdr.version, "client", hdr.clientID)
	b := make([]byte, 0, 10)
	b = append(b, 0, 0, 0, 6)
	b = binary.BigEndian.AppendUint32(b, uint32(hdr.correlationID))
	b = binary.BigEndian.AppendUint16(b, uint16(errUnsupportedVersion))
	_, err := c.nc.Write(b)
	return err
}
