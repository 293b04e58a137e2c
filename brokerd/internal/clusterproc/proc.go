package clusterproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// ErrNotRunning is returned when a broker is signalled while it has no
// running process.
var ErrNotRunning = errors.New("broker not running")

// ErrRunning is returned by Restart when the broker is still running.
var ErrRunning = errors.New("broker already running")

// pollInterval is how often a port is dialled while waiting for a broker.
// There is no event to wait on for another process's listener.
const pollInterval = 20 * time.Millisecond

// Proc is one broker of a Cluster: a fixed node id, address and data
// directory, and at most one running process at a time.
type Proc struct {
	c    *Cluster
	id   int32
	addr string
	// interAddr is the inter-broker listener of a secured cluster
	// (Options.Security); "" otherwise.
	interAddr string
	dataDir   string
	tail      *brokerproc.TailBuffer
	out       io.Writer // where the process's stdout and stderr go
	netns     string    // network namespace the broker runs in; "" for the host's

	mu  sync.Mutex
	run *run // the latest run; nil before the first start
}

// run is one execution of the broker binary.
type run struct {
	n     int
	proc  *brokerproc.Process // signals go to its process group (procAttr)
	asked bool                // Kill, Terminate or Close ended it: not a crash
}

func newProc(c *Cluster, id int32, addr, dataDir string, stdout io.Writer) *Proc {
	p := &Proc{c: c, id: id, addr: addr, dataDir: dataDir, tail: brokerproc.NewTailBuffer(256<<10, notePrefix)}
	p.out = p.tail
	if stdout != nil {
		p.out = io.MultiWriter(p.tail, &prefixWriter{w: stdout, prefix: fmt.Sprintf("[broker %d] ", id)})
	}
	return p
}

// ID is the broker's node id.
func (p *Proc) ID() int32 { return p.id }

// Addr is the broker's Kafka listener, host:port. It never changes.
func (p *Proc) Addr() string { return p.addr }

// InterBrokerAddr is the inter-broker listener of a secured cluster
// (Options.Security), "" otherwise. It never changes.
func (p *Proc) InterBrokerAddr() string { return p.interAddr }

// DataDir is the broker's data directory. It never changes.
func (p *Proc) DataDir() string { return p.dataDir }

// PID is the process id of the latest run (which may have exited).
func (p *Proc) PID() int {
	r := p.current()
	if r == nil {
		return 0
	}
	return r.proc.PID()
}

// Running reports whether the broker has a process that has not exited.
// A stopped (SIGSTOP) process is running.
func (p *Proc) Running() bool {
	r := p.current()
	if r == nil {
		return false
	}
	return !r.proc.Done()
}

// Exited is closed when the latest run's process has exited and been
// reaped. After Restart, call it again for the new run.
func (p *Proc) Exited() <-chan struct{} {
	r := p.current()
	if r == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return r.proc.Exited()
}

// Logs returns the tail of the broker's output over all its runs, each
// run introduced by a "=== clusterproc:" line: for test failure messages.
func (p *Proc) Logs() string { return p.tail.String() }

// Kill sends SIGKILL to the broker's process group and waits until the
// process is reaped: a crash at whatever instruction it was executing.
func (p *Proc) Kill() error {
	r, err := p.running()
	if err != nil {
		return err
	}
	p.markAsked(r)
	if err := r.proc.Kill(reapTimeout); err != nil {
		return fmt.Errorf("broker %d: %w", p.id, err)
	}
	p.note("run #%d killed (SIGKILL)", r.n)
	return nil
}

// DumpGoroutines makes a running broker print the stack of every
// goroutine to its output and exit (SIGQUIT; the harness runs brokers with
// GOTRACEBACK=all), and waits until it is reaped. For the logs of a failed
// test: it shows where a broker that stopped making progress is stuck.
func (p *Proc) DumpGoroutines() error {
	r, err := p.running()
	if err != nil {
		return err
	}
	p.markAsked(r)
	if err := r.proc.Signal(syscall.SIGCONT); err != nil { // a paused broker cannot dump
		return fmt.Errorf("broker %d: SIGCONT: %w", p.id, err)
	}
	if err := r.proc.Signal(syscall.SIGQUIT); err != nil {
		return fmt.Errorf("broker %d: SIGQUIT: %w", p.id, err)
	}
	select {
	case <-r.proc.Exited():
	case <-time.After(reapTimeout):
		return fmt.Errorf("broker %d (pid %d) not reaped %s after SIGQUIT", p.id, r.proc.PID(), reapTimeout)
	}
	p.note("run #%d stopped with a goroutine dump (SIGQUIT)", r.n)
	return nil
}

// Stop pauses the broker with SIGSTOP: it keeps its sockets and state but
// does nothing, like a long GC pause or a frozen VM.
func (p *Proc) Stop() error { return p.signal(syscall.SIGSTOP) }

// Cont resumes a broker paused by Stop.
func (p *Proc) Cont() error { return p.signal(syscall.SIGCONT) }

func (p *Proc) signal(sig syscall.Signal) error {
	r, err := p.running()
	if err != nil {
		return err
	}
	if err := r.proc.Signal(sig); err != nil {
		return fmt.Errorf("broker %d: %v: %w", p.id, sig, err)
	}
	return nil
}

// Terminate asks the broker to shut down (SIGTERM, and SIGCONT in case it
// is paused) and waits up to grace for it to exit; then it kills it. It
// returns an error if the broker had to be killed or exited non-zero.
func (p *Proc) Terminate(grace time.Duration) error {
	r, err := p.running()
	if err != nil {
		return err
	}
	p.markAsked(r)
	// SIGTERM, and SIGCONT: a stopped process only acts on SIGTERM once
	// it runs again.
	if r.proc.Terminate(grace) {
		p.note("run #%d killed: no exit within %s of SIGTERM", r.n, grace)
		return fmt.Errorf("broker %d did not exit within %s of SIGTERM; killed it%s", p.id, grace, p.lastLine())
	}
	p.note("run #%d exited after SIGTERM: %v", r.n, exitText(r.proc.Err()))
	if err := r.proc.Err(); err != nil {
		return fmt.Errorf("broker %d exited with %v after SIGTERM%s", p.id, err, p.lastLine())
	}
	return nil
}

// NetNS is the network namespace the broker runs in, or "" without
// Options.NetNS.
func (p *Proc) NetNS() string { return p.netns }

// CutFromPeers partitions the broker from every other broker, in both
// directions, by blackhole routes inside the namespaces: it still reaches
// the root namespace (DynamoDB on the bridge address) and test clients
// still reach it. Heal undoes it. Connections between it and its peers
// see new connects fail and established ones stall until they time out.
// It needs Options.NetNS and may be called whether or not the broker is
// running; the cut outlives a Restart.
func (p *Proc) CutFromPeers() error {
	if p.c.net == nil {
		return fmt.Errorf("broker %d: %w", p.id, errNotNetNS)
	}
	if err := p.c.net.setFault(p.id, func(cut, _ *bool) { *cut = true }); err != nil {
		return fmt.Errorf("broker %d: cut from peers: %w", p.id, err)
	}
	p.note("cut from its peers")
	return nil
}

// Isolate cuts the broker off from everything, DynamoDB and test clients
// included, by taking the host end of its veth down: its packets are
// dropped silently. Heal undoes it. Needs Options.NetNS.
func (p *Proc) Isolate() error {
	if p.c.net == nil {
		return fmt.Errorf("broker %d: %w", p.id, errNotNetNS)
	}
	if err := p.c.net.setFault(p.id, func(_, isolated *bool) { *isolated = true }); err != nil {
		return fmt.Errorf("broker %d: isolate: %w", p.id, err)
	}
	p.note("isolated from the network")
	return nil
}

// Heal undoes CutFromPeers and Isolate for this broker. Paths to other
// brokers that are themselves cut stay cut.
func (p *Proc) Heal() error {
	if p.c.net == nil {
		return fmt.Errorf("broker %d: %w", p.id, errNotNetNS)
	}
	if err := p.c.net.setFault(p.id, func(cut, isolated *bool) { *cut, *isolated = false, false }); err != nil {
		return fmt.Errorf("broker %d: heal: %w", p.id, err)
	}
	p.note("network healed")
	return nil
}

// Restart starts the broker again with the same node id, address and
// data directory, and waits (bounded by ctx and StartTimeout) until its
// port accepts connections. The broker must not be running.
func (p *Proc) Restart(ctx context.Context) error {
	if p.Running() {
		return fmt.Errorf("broker %d: %w", p.id, ErrRunning)
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	return p.startOnce(ctx)
}

// startFirst starts the broker for the first time. Only here may it move
// to another port (when the one picked was taken before the broker bound
// it); later runs keep the address clients were given.
func (p *Proc) startFirst(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := p.startOnce(ctx)
		// In a namespace the broker has an address of its own: no one
		// else can hold its port.
		if err == nil || p.netns != "" || attempt == startAttempts || !strings.Contains(p.tail.String(), "address already in use") {
			return err
		}
		addrs, perr := brokerproc.FreeLoopbackAddrs(p.c.portsPerBroker())
		if perr != nil {
			return errors.Join(err, perr)
		}
		old := p.addr
		p.addr = addrs[0] // no one else reads addr before Start returns
		if p.interAddr != "" {
			p.interAddr = addrs[1]
		}
		p.tail.Reset()
		p.note("port %s was taken; retrying on %s", old, p.addr)
	}
}

// startOnce launches one run and waits until it listens.
func (p *Proc) startOnce(ctx context.Context) error {
	p.mu.Lock()
	n := 1
	if p.run != nil {
		n = p.run.n + 1
	}
	cmd := exec.Command(p.c.opt.BrokerdPath, p.c.args()...)
	if p.netns != "" {
		// ip netns exec enters the namespace and execs the broker in
		// its own process (no fork), so the pid, the process group and
		// every signal the harness sends are the broker's own.
		cmd = exec.Command(p.c.net.ip, append([]string{"netns", "exec", p.netns, p.c.opt.BrokerdPath}, p.c.args()...)...)
	}
	cmd.Env = p.c.env(p)
	cmd.Dir = p.dataDir
	// One writer for both streams: os/exec then uses a single pipe, so
	// the two never interleave mid-line.
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = procAttr()
	// Bounds Wait if a grandchild kept the output pipe open.
	cmd.WaitDelay = 5 * time.Second
	fmt.Fprintf(p.out, notePrefix+" broker %d run #%d on %s\n", p.id, n, p.addr)
	proc, err := brokerproc.Start(cmd)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("broker %d: start %s: %w", p.id, p.c.opt.BrokerdPath, err)
	}
	r := &run{n: n, proc: proc}
	p.run = r
	p.mu.Unlock()
	if err := p.waitListening(ctx, r); err != nil {
		// Do not leave a half-started broker behind.
		p.markAsked(r)
		_ = r.proc.Signal(syscall.SIGKILL)
		<-r.proc.Exited()
		return err
	}
	return nil
}

// waitListening dials the broker's port until it accepts, the process
// exits, or ctx ends.
func (p *Proc) waitListening(ctx context.Context, r *run) error {
	err := brokerproc.WaitListening(ctx, p.addr, r.proc.Exited(), pollInterval)
	switch {
	case errors.Is(err, brokerproc.ErrExited):
		return fmt.Errorf("broker %d exited (%v) before listening on %s%s", p.id, exitText(r.proc.Err()), p.addr, p.lastLine())
	case err != nil:
		return fmt.Errorf("broker %d not accepting connections on %s: %w%s", p.id, p.addr, err, p.lastLine())
	}
	return nil
}

// shutdown is Close's part for one broker: terminate a running one, and
// report one that had exited on its own.
func (p *Proc) shutdown(grace time.Duration) error {
	r := p.current()
	if r == nil {
		return nil
	}
	if r.proc.Done() {
		p.mu.Lock()
		asked := r.asked
		p.mu.Unlock()
		if !asked {
			return fmt.Errorf("broker %d exited unexpectedly (%v)%s", p.id, exitText(r.proc.Err()), p.lastLine())
		}
		return nil
	}
	if err := p.Terminate(grace); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return nil
}

func (p *Proc) current() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.run
}

// running returns the latest run if its process has not exited.
func (p *Proc) running() (*run, error) {
	r := p.current()
	if r == nil {
		return nil, fmt.Errorf("broker %d: %w", p.id, ErrNotRunning)
	}
	if r.proc.Done() {
		return nil, fmt.Errorf("broker %d: %w", p.id, ErrNotRunning)
	}
	return r, nil
}

func (p *Proc) markAsked(r *run) {
	p.mu.Lock()
	r.asked = true
	p.mu.Unlock()
}

// note writes a harness line into the broker's output, so the log reads
// as a story of what happened to it.
func (p *Proc) note(format string, args ...any) {
	fmt.Fprintf(p.out, notePrefix+" broker %d "+format+"\n", append([]any{p.id}, args...)...)
}

// lastLine is ": <last line of broker output>", or "" when there is none.
func (p *Proc) lastLine() string {
	if l := p.tail.LastLine(); l != "" {
		return ": " + l
	}
	return ""
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
