package brokerproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ErrBrokerExited means a spawned broker process ended before it was asked
// to stop.
var ErrBrokerExited = errors.New("broker exited")

// Broker is a brokerd started by Spawn. It owns a temporary
// data directory that Stop removes.
type Broker struct {
	proc    *Process
	addr    string
	dataDir string
	output  *TailBuffer
	stopped bool // Stop was called: an exit is expected
}

// readyPoll is how often a spawned broker's port is dialled until it
// accepts.
const readyPoll = 20 * time.Millisecond

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
	addrs, err := FreeLoopbackAddrs(1)
	if err != nil {
		return nil, err
	}
	addr := addrs[0]
	dir, err := os.MkdirTemp("", "kafki-broker-")
	if err != nil {
		return nil, fmt.Errorf("broker data dir: %w", err)
	}
	b := &Broker{
		addr:    addr,
		dataDir: dir,
		output:  NewTailBuffer(8<<10, ""),
	}
	cmd := exec.Command(path,
		"--listen="+addr,
		"--data.dir="+dir,
		"--metrics.listen=",
		"--log.level=warn",
	)
	cmd.Stdout = b.output
	cmd.Stderr = b.output
	cmd.SysProcAttr = childProcAttr()
	if b.proc, err = Start(cmd); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start broker %s: %w", path, err)
	}
	if err := b.waitReady(ctx, timeout); err != nil {
		_ = b.Stop(5 * time.Second)
		return nil, err
	}
	return b, nil
}

// waitReady waits until the broker's port accepts a connection, the
// process exits, ctx ends or timeout passes, whichever comes first.
func (b *Broker) waitReady(ctx context.Context, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := WaitListening(wctx, b.addr, b.proc.Exited(), readyPoll)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrExited):
		return b.exitError()
	case ctx.Err() != nil:
		return fmt.Errorf("waiting for the broker: %w", ctx.Err())
	}
	return fmt.Errorf("broker did not accept connections on %s within %s%s", b.addr, timeout, b.outputSuffix())
}

// exitError describes an unexpected exit, with the last line of output.
func (b *Broker) exitError() error {
	return fmt.Errorf("%w (%v)%s", ErrBrokerExited, b.proc.Err(), b.outputSuffix())
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
func (b *Broker) PID() int { return b.proc.PID() }

// DataDir is the broker's temporary data directory.
func (b *Broker) DataDir() string { return b.dataDir }

// Exited is closed when the broker process has ended.
func (b *Broker) Exited() <-chan struct{} { return b.proc.Exited() }

// Err returns why the broker ended, once Exited is closed.
func (b *Broker) Err() error {
	if !b.proc.Done() {
		return nil
	}
	return b.exitError()
}

// Stop sends SIGTERM, waits up to grace for the broker to exit (then kills
// it), and removes the data directory. It returns an error if the broker
// had already died, exited non-zero after SIGTERM, had to be killed, or the
// directory could not be removed.
func (b *Broker) Stop(grace time.Duration) error {
	var errs []error
	switch {
	case b.proc.Done():
		if !b.stopped {
			errs = append(errs, b.exitError())
		}
	case b.proc.Terminate(grace):
		errs = append(errs, fmt.Errorf("broker did not exit within %s of SIGTERM; killed", grace))
	case b.proc.Err() != nil:
		errs = append(errs, fmt.Errorf("broker exited with %v after SIGTERM%s", b.proc.Err(), b.outputSuffix()))
	}
	b.stopped = true
	if err := os.RemoveAll(b.dataDir); err != nil {
		errs = append(errs, fmt.Errorf("remove broker data dir: %w", err))
	}
	return errors.Join(errs...)
}
