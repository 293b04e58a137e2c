package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// brokerdBin is the broker binary built by TestMain, shared read-only by
// every test of the run.
var brokerdBin string

const (
	readyTimeout = 10 * time.Second // start (or recovery) until the port accepts
	stopTimeout  = 15 * time.Second // SIGTERM until exit, at cleanup
	killTimeout  = 10 * time.Second // SIGKILL until the kernel reaps it
	pollInterval = 10 * time.Millisecond
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	flag.Parse() // for testing.Verbose
	if bin := os.Getenv("KAFKI_E2E_BROKERD"); bin != "" {
		brokerdBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "kafki-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	bin, err := brokerproc.BuildBrokerd(dir, os.Getenv("KAFKI_E2E_RACE") != "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: built brokerd in %v\n", time.Since(start).Round(time.Millisecond))
	}
	brokerdBin = bin
	return m.Run()
}

// Options configure a test broker.
type Options struct {
	// Flags are extra brokerd flags, e.g. "--log.flush.on.ack=true". They
	// come after the harness's own, so they win.
	Flags []string
	// Metrics serves /metrics on a free loopback port (Broker.MetricsAddr);
	// otherwise the metrics endpoint is disabled.
	Metrics bool
}

// Broker is one brokerd under test: a data directory and a listener
// address that stay the same across restarts, and at most one running
// process at a time. Its methods are for the test's own goroutine.
type Broker struct {
	t           testing.TB
	opts        Options
	Addr        string // Kafka listener, host:port
	MetricsAddr string // host:port of /metrics, or "" when disabled
	DataDir     string

	log  *logBuffer // stderr and stdout of every run, in order
	runs int

	proc *brokerproc.Process // nil when not running
}

// StartBroker starts a broker on a fresh data directory and free ports and
// stops it at test cleanup (SIGTERM, then SIGKILL if it hangs). Its log is
// shown if the test fails.
func StartBroker(t testing.TB, opts Options) *Broker {
	t.Helper()
	b := NewBroker(t, opts)
	b.Start()
	return b
}

// NewBroker prepares a broker without starting it.
func NewBroker(t testing.TB, opts Options) *Broker {
	t.Helper()
	b := &Broker{
		t:       t,
		opts:    opts,
		DataDir: filepath.Join(t.TempDir(), "data"),
		log:     &logBuffer{},
	}
	b.pickPorts()
	t.Cleanup(b.cleanup)
	return b
}

func (b *Broker) pickPorts() {
	b.Addr = freeAddr(b.t)
	if b.opts.Metrics {
		b.MetricsAddr = freeAddr(b.t)
	}
}

// Start starts (or restarts, on the same data directory and address) the
// broker and returns once its Kafka port accepts connections. It fails the
// test if the process exits first or is not ready within readyTimeout.
func (b *Broker) Start() {
	b.t.Helper()
	if b.proc != nil {
		b.t.Fatalf("broker already running (pid %d)", b.proc.PID())
	}
	// Only the first start may move to other ports: later runs must keep
	// the address clients were given.
	attempts := 1
	if b.runs == 0 {
		attempts = 3
	}
	for i := 0; ; i++ {
		err := b.tryStart()
		if err == nil {
			return
		}
		if i+1 < attempts && strings.Contains(b.log.String(), "address already in use") {
			b.t.Logf("port taken before brokerd bound it (%v); trying other ports", err)
			b.pickPorts()
			continue
		}
		b.t.Fatalf("brokerd run #%d did not become ready: %v", b.runs, err)
	}
}

func (b *Broker) tryStart() error {
	b.runs++
	args := []string{
		"--listen=" + b.Addr,
		"--data.dir=" + b.DataDir,
		"--metrics.listen=" + b.MetricsAddr,
		"--log.level=info",
	}
	args = append(args, b.opts.Flags...)
	cmd := exec.Command(brokerdBin, args...)
	cmd.Env = cleanEnv()
	cmd.Stdout = b.log
	cmd.Stderr = b.log
	fmt.Fprintf(b.log, "=== e2e: brokerd run #%d: %s\n", b.runs, strings.Join(args, " "))
	started := time.Now()
	p, err := brokerproc.Start(cmd)
	if err != nil {
		return fmt.Errorf("start %s: %w", brokerdBin, err)
	}
	b.proc = p
	addrs := []string{b.Addr}
	if b.MetricsAddr != "" {
		addrs = append(addrs, b.MetricsAddr)
	}
	for _, a := range addrs {
		if err := b.waitListening(a, started.Add(readyTimeout)); err != nil {
			return err
		}
	}
	b.t.Logf("brokerd run #%d (pid %d) ready on %s in %v", b.runs, p.PID(), b.Addr, time.Since(started).Round(time.Millisecond))
	return nil
}

// waitListening polls until addr accepts a TCP connection, the process
// exits, or the deadline passes.
func (b *Broker) waitListening(addr string, deadline time.Time) error {
	p := b.proc
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := brokerproc.WaitListening(ctx, addr, p.Exited(), pollInterval)
	switch {
	case errors.Is(err, brokerproc.ErrExited):
		b.proc = nil
		return fmt.Errorf("brokerd exited (%v) before listening on %s", p.State(), addr)
	case err != nil:
		return fmt.Errorf("%s not accepting connections after %v: %v", addr, readyTimeout, err)
	}
	return nil
}

// Kill sends SIGKILL and waits until the process is gone: a crash at
// whatever instruction it was executing.
func (b *Broker) Kill() {
	b.t.Helper()
	if b.proc == nil {
		b.t.Fatalf("Kill: broker not running")
	}
	p := b.proc
	if err := p.Kill(killTimeout); err != nil {
		b.t.Fatalf("kill brokerd: %v", err)
	}
	b.proc = nil
	fmt.Fprintf(b.log, "=== e2e: brokerd run #%d killed (SIGKILL)\n", b.runs)
}

// Stop sends SIGTERM and waits up to timeout for the process to exit. It
// returns the exit code (-1 if a signal ended it) and how long it took.
// On timeout it kills the process and fails the test.
func (b *Broker) Stop(timeout time.Duration) (code int, took time.Duration) {
	b.t.Helper()
	if b.proc == nil {
		b.t.Fatalf("Stop: broker not running")
	}
	p := b.proc
	start := time.Now()
	killed := p.Terminate(timeout)
	b.proc = nil
	if killed {
		b.t.Fatalf("brokerd did not exit within %v of SIGTERM; killed it", timeout)
	}
	took = time.Since(start)
	fmt.Fprintf(b.log, "=== e2e: brokerd run #%d exited after SIGTERM: %v\n", b.runs, p.State())
	return p.State().ExitCode(), took
}

func (b *Broker) cleanup() {
	if b.proc != nil {
		if b.proc.Terminate(stopTimeout) {
			b.t.Errorf("brokerd did not exit within %v of SIGTERM at cleanup; killed it", stopTimeout)
		}
		b.proc = nil
	}
	logs := b.log.String()
	for _, bad := range []string{"panic:", "WARNING: DATA RACE", "fatal error:"} {
		if strings.Contains(logs, bad) {
			b.t.Errorf("brokerd log contains %q", bad)
		}
	}
	if b.t.Failed() {
		b.t.Logf("brokerd log (%d runs, last %d bytes):\n%s", b.runs, min(len(logs), maxLogShown), tail(logs, maxLogShown))
	}
}

const maxLogShown = 48 << 10

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "[...]\n" + s
}

// cleanEnv is the test's environment without KAFKI_ settings, so a
// developer's shell cannot change what a test configures.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KAFKI_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	addrs, err := brokerproc.FreeLoopbackAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	return addrs[0]
}

// logBuffer is a goroutine-safe, size-capped log sink: os/exec copies the
// child's output from its own goroutines while the test reads it.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

const maxLogKept = 16 << 20

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(p) > maxLogKept {
		l.dropped += len(p)
		return len(p), nil
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		return l.buf.String() + fmt.Sprintf("\n[e2e: %d more bytes of log dropped]\n", l.dropped)
	}
	return l.buf.String()
}
