package brokerproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrBrokerExited means a spawned broker process ended before it was asked
// to stop.
var ErrBrokerExited = errors.New("broker exited")

// Broker is a brokerd started by Spawn. It owns a temporary
// data directory that Stop removes.
type Broker struct {
	cmd     *exec.Cmd
	addr    string
	dataDir string
	output  *tailBuffer

	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // the process's exit error; valid once exited is closed
	stopped bool          // Stop was called: an exit is expected
}

// spawnAttempts bounds retries when the free port picked for the broker
// was taken by someone else between our probe and the broker's bind.
const spawnAttempts = 3

// Spawn starts the brokerd binary at path on a free 127.0.0.1 port
// with a fresh temporary data directory, and waits (at most timeout) until
// the port accepts connections. The broker runs with metrics off and
// warn-level logs; its output is kept (the tail) for error messages.
func Spawn(ctx context.Context, path string, timeout time.Duration) (*Broker, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("broker binary: %w", err)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("broker binary %s: not an executable file", path)
	}
	var lastErr error
	for attempt := 0; attempt < spawnAttempts; attempt++ {
		b, err := spawnOnce(ctx, path, timeout)
		if err == nil {
			return b, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func spawnOnce(ctx context.Context, path string, timeout time.Duration) (*Broker, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kafki-broker-")
	if err != nil {
		return nil, fmt.Errorf("broker data dir: %w", err)
	}
	b := &Broker{
		addr:    addr,
		dataDir: dir,
		output:  newTailBuffer(8 << 10),
		exited:  make(chan struct{}),
	}
	b.cmd = exec.Command(path,
		"--listen="+addr,
		"--data.dir="+dir,
		"--metrics.listen=",
		"--log.level=warn",
	)
	b.cmd.Stdout = b.output
	b.cmd.Stderr = b.output
	b.cmd.SysProcAttr = childProcAttr()
	if err := b.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start broker %s: %w", path, err)
	}
	go func() {
		b.waitErr = b.cmd.Wait()
		close(b.exited)
	}()
	if err := b.waitReady(ctx, timeout); err != nil {
		_ = b.Stop(5 * time.Second)
		return nil, err
	}
	return b, nil
}

// freeLoopbackAddr asks the kernel for a free port on 127.0.0.1. The port
// is released before the broker binds it; Spawn retries if another
// process takes it in between.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

// waitReady dials the broker's port until it accepts a connection, the
// process exits, ctx ends or timeout passes, whichever comes first.
func (b *Broker) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	delay := 10 * time.Millisecond
	for {
		conn, err := net.DialTimeout("tcp", b.addr, 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("broker did not accept connections on %s within %s%s", b.addr, timeout, b.outputSuffix())
		}
		select {
		case <-b.exited:
			return b.exitError()
		case <-ctx.Done():
			return fmt.Errorf("waiting for the broker: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// exitError describes an unexpected exit, with the last line of output.
func (b *Broker) exitError() error {
	return fmt.Errorf("%w (%v)%s", ErrBrokerExited, b.waitErr, b.outputSuffix())
}

func (b *Broker) outputSuffix() string {
	if line := b.output.LastLine(); line != "" {
		return ": " + line
	}
	return ""
}

// Addr is the host:port the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// PID is the broker's process id.
func (b *Broker) PID() int { return b.cmd.Process.Pid }

// DataDir is the broker's temporary data directory.
func (b *Broker) DataDir() string { return b.dataDir }

// Exited is closed when the broker process has ended.
func (b *Broker) Exited() <-chan struct{} { return b.exited }

// Err returns why the broker ended, once Exited is closed.
func (b *Broker) Err() error {
	select {
	case <-b.exited:
		return b.exitError()
	default:
		return nil
	}
}

// Stop sends SIGTERM, waits up to grace for the broker to exit (then kills
// it), and removes the data directory. It returns an error if the broker
// had already died, exited non-zero after SIGTERM, had to be killed, or the
// directory could not be removed.
func (b *Broker) Stop(grace time.Duration) error {
	var errs []error
	select {
	case <-b.exited:
		if !b.stopped {
			errs = append(errs, b.exitError())
		}
	default:
		b.stopped = true
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
			if b.waitErr != nil {
				errs = append(errs, fmt.Errorf("broker exited with %v after SIGTERM%s", b.waitErr, b.outputSuffix()))
			}
		case <-time.After(grace):
			_ = b.cmd.Process.Kill()
			<-b.exited
			errs = append(errs, fmt.Errorf("broker did not exit within %s of SIGTERM; killed", grace))
		}
	}
	b.stopped = true
	if err := os.RemoveAll(b.dataDir); err != nil {
		errs = append(errs, fmt.Errorf("remove broker data dir: %w", err))
	}
	return errors.Join(errs...)
}

// tailBuffer is an io.Writer keeping the last max bytes written, for error
// messages about a child process.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// LastLine returns the last non-empty line written, trimmed.
func (t *tailBuffer) LastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
