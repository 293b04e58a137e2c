package mototest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Fake credentials and region the returned aws.Config uses. moto accepts
// any credentials; these are named so tests can recognise them.
const (
	Region          = "us-east-1"
	AccessKeyID     = "mototest"
	SecretAccessKey = "mototest-secret"
)

// binary is the executable looked up on PATH.
const binary = "moto_server"

// ErrNotInstalled means moto_server is not on PATH.
var ErrNotInstalled = errors.New("moto_server not found on PATH; install it with: pip install 'moto[server]'")

// startTimeout bounds how long Start waits for the server to answer.
const startTimeout = 60 * time.Second

// Server is a running moto_server.
type Server struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:43121.
	Endpoint string
	// Config is ready for any service client: endpoint, region and
	// static credentials set. Copy it before changing fields.
	Config aws.Config

	cmd       *exec.Cmd
	output    *lockedBuffer
	exited    chan struct{}
	closeOnce sync.Once
}

// Start launches moto_server on a free loopback port and waits until it
// answers HTTP or ctx ends. The caller must Close it.
func Start(ctx context.Context) (*Server, error) {
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, ErrNotInstalled
	}
	return start(ctx, "127.0.0.1", func(port int) *exec.Cmd {
		return exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	})
}

// serialScript runs moto's WSGI application behind one lock: connections
// are still served by a thread each (a single-threaded server would hang
// on a client's idle connection, which Go's transport opens when a request
// is cancelled while dialling), but requests are handled one at a time.
const serialScript = `import io, sys, threading
from werkzeug.serving import run_simple
from moto.server import DomainDispatcherApplication, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serial(environ, start_response):
    # Read the body before taking the lock: a client slow to send it (or
    # gone) must not stall every other request.
    n = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(n) if n > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    with lock:
        return list(app(environ, start_response))
run_simple(sys.argv[1], int(sys.argv[2]), serial, threaded=True)
`

// StartSerialized is Start with a server that handles one request at a
// time, whoever sends it. Use it when several processes race conditional
// writes (a cluster of brokers): threaded moto_server can let two
// concurrent conditional writes to one item both pass (see SerialConfig),
// which real DynamoDB never does, and processes cannot share SerialConfig's
// client.
func StartSerialized(ctx context.Context) (*Server, error) {
	return StartSerializedOn(ctx, "127.0.0.1")
}

// StartSerializedOn is StartSerialized listening on host (an IP address
// of this machine) instead of loopback: for clients in other network
// namespaces, which reach the host through a bridge address.
func StartSerializedOn(ctx context.Context, host string) (*Server, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, ErrNotInstalled
	}
	if exec.Command(py, "-c", "import moto.server, werkzeug.serving").Run() != nil {
		return nil, ErrNotInstalled
	}
	return start(ctx, host, func(port int) *exec.Cmd {
		return exec.Command(py, "-c", serialScript, host, strconv.Itoa(port))
	})
}

func start(ctx context.Context, host string, command func(port int) *exec.Cmd) (*Server, error) {
	port, err := freePort(host)
	if err != nil {
		return nil, fmt.Errorf("mototest: pick a port: %w", err)
	}
	out := &lockedBuffer{}
	// Not CommandContext: the server must outlive ctx, which only bounds
	// the start.
	cmd := command(port)
	path := cmd.Path
	cmd.Stdout = out
	cmd.Stderr = out
	// Own process group, so Close can stop moto and any child it forks.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mototest: start %s: %w", path, err)
	}
	s := &Server{
		Endpoint: "http://" + net.JoinHostPort(host, strconv.Itoa(port)),
		cmd:      cmd,
		output:   out,
		exited:   make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	s.Config = aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Source: "mototest"}, nil
		}),
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("mototest: %w; server output:\n%s", err, out.String())
	}
	return s, nil
}

// StartT starts a server for one test (or benchmark) and stops it at the
// test's cleanup; it fails the test if the server cannot start.
func StartT(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Main starts a server, stores it in *srv, runs the package's tests and
// stops the server. Use it from TestMain: os.Exit(mototest.Main(m, &srv)).
// If the server cannot start, it prints why and returns 1 without running
// any test.
func Main(m *testing.M, srv **Server) int {
	s, err := Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	*srv = s
	return m.Run()
}

// Reset drops all state held by the server (buckets, tables, ...), so
// tests sharing one server can start clean.
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"/moto-api/reset", nil)
	if err != nil {
		return fmt.Errorf("mototest: reset: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("mototest: reset: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("mototest: reset: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Close stops the server's process group and waits for it to exit. It is
// safe to call more than once; it always returns nil (a server that
// ignores SIGTERM is killed).
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		pgid := s.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.exited
		}
	})
	return nil
}

// waitReady polls the server until it answers any HTTP response. There
// is no event to wait on for an external process; the poll interval is
// short and bounded by ctx.
func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/moto-api/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server at %s did not answer: %w", s.Endpoint, ctx.Err())
		case <-s.exited:
			return fmt.Errorf("moto_server exited before answering")
		case <-tick.C:
		}
	}
}

// freePort asks the kernel for an unused port on host. Another process
// could take it before moto binds it; Start then fails with moto's
// output, which is rare enough for tests.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects the server's output for error messages; the
// process writes to it from os/exec's copying goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Keep the tail only: moto logs every request.
	if b.buf.Len() > 64<<10 {
		b.buf.Reset()
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Pause stops the server's processes with SIGSTOP: requests hang, as with
// a stalled object store. Resume undoes it.
func (s *Server) Pause() error { return syscall.Kill(-s.cmd.Process.Pid, syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() error { return syscall.Kill(-s.cmd.Process.Pid, syscall.SIGCONT) }

// Env points the AWS SDK's default configuration at s for the rest of
// t: the endpoint, the fake credentials and the region (what a broker
// process or awsconfig.LoadDefaultConfig reads).
func (s *Server) Env(t testing.TB) {
	t.Setenv("AWS_ENDPOINT_URL", s.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretAccessKey)
	t.Setenv("AWS_REGION", Region)
}
