package brokerproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// ErrExited means a process ended before what was being waited for
// happened (WaitListening).
var ErrExited = errors.New("process exited")

// Process is one run of a program started by Start, reaped in the
// background: every harness's broker process is one. It signals the
// process's whole group when the command was started in a group of its
// own (SysProcAttr.Setpgid), so nothing the process forks survives it;
// otherwise only the process.
//
// Its methods may be called from any goroutine.
type Process struct {
	cmd    *exec.Cmd
	group  bool
	exited chan struct{}
	err    error // cmd.Wait's result; read only after exited is closed
}

// Start starts cmd and a goroutine that waits for it. The caller sets
// cmd's arguments, environment, output and SysProcAttr.
func Start(cmd *exec.Cmd) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, group: cmd.SysProcAttr != nil && cmd.SysProcAttr.Setpgid, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Done reports whether the process has exited.
func (p *Process) Done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Err is cmd.Wait's result (nil for exit status 0) once Exited is closed,
// and nil before.
func (p *Process) Err() error {
	if !p.Done() {
		return nil
	}
	return p.err
}

// State is the exit state once Exited is closed, and nil before.
func (p *Process) State() *os.ProcessState {
	if !p.Done() {
		return nil
	}
	return p.cmd.ProcessState
}

// Signal sends sig to the process (or its group, see Process). A process
// that already exited is not an error.
func (p *Process) Signal(sig syscall.Signal) error {
	var err error
	if p.group {
		err = syscall.Kill(-p.cmd.Process.Pid, sig)
	} else {
		err = p.cmd.Process.Signal(sig)
	}
	if errors.Is(err, syscall.ESRCH) || errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// Kill sends SIGKILL and waits at most reap for the process to be reaped:
// beyond it something is badly wrong (a zombie nobody waits for), and the
// caller gets an error instead of a hang.
func (p *Process) Kill(reap time.Duration) error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(reap):
		return fmt.Errorf("pid %d not reaped %s after SIGKILL", p.PID(), reap)
	}
}

// Terminate asks the process to exit (SIGTERM, then SIGCONT in case it is
// paused: a stopped process acts on SIGTERM only once it runs again) and
// waits up to grace; then it sends SIGKILL and waits for the exit. killed
// reports the SIGKILL. An already exited process is left as it is.
func (p *Process) Terminate(grace time.Duration) (killed bool) {
	if p.Done() {
		return false
	}
	_ = p.Signal(syscall.SIGTERM)
	_ = p.Signal(syscall.SIGCONT)
	select {
	case <-p.exited:
		return false
	case <-time.After(grace):
		_ = p.Signal(syscall.SIGKILL)
		<-p.exited
		return true
	}
}

// WaitListening dials addr every poll until it accepts a TCP connection
// (there is no event to wait on for another process's listener), exited
// is closed (ErrExited), or ctx ends (ctx's error, with the last dial
// error).
func WaitListening(ctx context.Context, addr string, exited <-chan struct{}, poll time.Duration) error {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		conn, err := (&net.Dialer{Timeout: 200 * time.Millisecond}).DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return fmt.Errorf("%w (last dial: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// FreeLoopbackAddrs returns n distinct 127.0.0.1 addresses whose ports
// were free a moment ago. All n listeners are held open until every port
// is picked, so the kernel cannot hand out one port twice; they are then
// closed for the broker to bind. Another process may take a port in
// between: callers retry a start that failed with "address already in
// use".
func FreeLoopbackAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}
