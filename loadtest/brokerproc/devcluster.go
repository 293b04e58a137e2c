package brokerproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// killReapTimeout bounds the wait for a killed kafki-dev-cluster.
const killReapTimeout = 10 * time.Second

// DevCluster is a multi-broker Kafki cluster run by kafki-dev-cluster
// (brokerd/cmd/kafki-dev-cluster, the command form of
// brokerd/internal/clusterproc): it starts a serialized moto_server as
// DynamoDB and N brokerd processes, prints its Ready line, and stops them
// all on SIGTERM.
type DevCluster struct {
	cmd     *exec.Cmd
	dir     string
	logPath string
	ready   Ready
	exited  chan struct{}
	waitErr error
	stopped bool
}

// DevClusterOptions describe a cluster to start.
type DevClusterOptions struct {
	DevCluster string // the kafki-dev-cluster binary
	Brokerd    string // the brokerd binary (or a script that execs it)
	Brokers    int
	// Dir holds the brokers' data (a fresh subdirectory removed by Stop)
	// and the cluster's log.
	Dir     string
	Timeout time.Duration // bound on start-up, moto included
}

// StartDevCluster starts opts.Brokers brokers through kafki-dev-cluster
// and waits until its Ready line names each, and the cluster's metadata
// lists all of them. Everything kafki-dev-cluster prints goes to a log in
// the cluster's directory, whose last line error messages quote.
func StartDevCluster(ctx context.Context, opts DevClusterOptions) (*DevCluster, error) {
	if opts.Brokers < 1 {
		return nil, fmt.Errorf("kafki cluster: %d brokers", opts.Brokers)
	}
	devCluster, err := absExisting(opts.DevCluster, "kafki-dev-cluster binary (go build -o bin/ ./brokerd/cmd/kafki-dev-cluster)")
	if err != nil {
		return nil, err
	}
	brokerd, err := absExisting(opts.Brokerd, "brokerd binary")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("kafki cluster dir: %w", err)
	}
	data, err := os.MkdirTemp(opts.Dir, "kafki-cluster-")
	if err != nil {
		return nil, fmt.Errorf("kafki cluster data: %w", err)
	}
	logPath := filepath.Join(data, "cluster.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		_ = os.RemoveAll(data)
		return nil, fmt.Errorf("kafki cluster log: %w", err)
	}
	cmd := exec.Command(devCluster, "--brokers", strconv.Itoa(opts.Brokers), "--brokerd", brokerd,
		"--dir", data, "--log-file", logPath+".brokers")
	cmd.Stderr = logFile
	cmd.SysProcAttr = clusterProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		_ = logFile.Close()
		_ = os.RemoveAll(data)
		return nil, fmt.Errorf("kafki cluster: %w", err)
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		_ = os.RemoveAll(data)
		return nil, fmt.Errorf("start kafki-dev-cluster: %w", err)
	}
	k := &DevCluster{cmd: cmd, dir: data, logPath: logPath, exited: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		// Everything the command prints, the Ready line included, goes
		// on to the log.
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		done := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if done {
				continue
			}
			r, ok, err := ParseReady(line)
			if !ok {
				continue
			}
			done = true
			if err == nil && len(r.Brokers) != opts.Brokers {
				err = fmt.Errorf("%w: kafki-dev-cluster listed %d brokers, want %d", ErrNotReady, len(r.Brokers), opts.Brokers)
			}
			k.ready = r
			ready <- err
		}
		_, _ = io.Copy(io.Discard, out)
		k.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(k.exited)
	}()
	ok := false
	defer func() {
		if !ok {
			_ = k.Stop(30 * time.Second)
		}
	}()
	timer := time.NewTimer(opts.Timeout)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err != nil {
			return nil, err
		}
	case <-k.exited:
		return nil, fmt.Errorf("kafki-dev-cluster exited (%v): %s", k.waitErr, lastLogLine(k.logPath))
	case <-timer.C:
		return nil, fmt.Errorf("kafki cluster not started within %s: %s", opts.Timeout, lastLogLine(k.logPath))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := k.waitRegistered(ctx, opts.Timeout); err != nil {
		return nil, err
	}
	ok = true
	return k, nil
}

// waitRegistered polls the cluster's metadata until it lists every broker:
// a topic with replication factor N needs N live brokers to place replicas.
func (k *DevCluster) waitRegistered(ctx context.Context, timeout time.Duration) error {
	addrs := k.ready.Addrs()
	exited := func() error {
		select {
		case <-k.exited:
			return fmt.Errorf("kafki-dev-cluster exited (%v): %s", k.waitErr, lastLogLine(k.logPath))
		default:
			return nil
		}
	}
	if err := WaitBrokers(ctx, addrs, len(addrs), timeout, exited); err != nil {
		return fmt.Errorf("kafki cluster: %w", err)
	}
	return nil
}

// WaitBrokers polls every broker at addrs, each one itself, every 100 ms
// until its own metadata lists want brokers, up to timeout. Asking each
// one (not any one) matters: a broker binds its port before it has
// registered, and one whose answer lists the whole cluster is serving.
// exited reports a process of the cluster that died (it ends the wait
// with that error); there is no event to await for another process's
// cluster forming.
func WaitBrokers(ctx context.Context, addrs []string, want int, timeout time.Duration, exited func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, addr := range addrs {
		if err := waitBroker(ctx, addr, want, exited); err != nil {
			return fmt.Errorf("not ready within %s: %w", timeout, err)
		}
	}
	return nil
}

// waitBroker waits until the broker at addr lists want brokers.
func waitBroker(ctx context.Context, addr string, want int, exited func() error) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DisableClientMetrics(), kgo.DialTimeout(time.Second))
	if err != nil {
		return fmt.Errorf("client of %s: %w", addr, err)
	}
	defer cl.Close()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := exited(); err != nil {
			return err
		}
		// A Metadata request of its own each time: a client's cached
		// metadata would keep a first answer that lists fewer brokers.
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		md, err := req.RequestWith(rctx, cl)
		rcancel()
		if err == nil && len(md.Brokers) == want {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%s lists %d of %d brokers", addr, len(md.Brokers), want)
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

// Ready is the cluster's Ready line.
func (k *DevCluster) Ready() Ready { return k.ready }

// Bootstrap is the comma-separated list of the brokers' addresses.
func (k *DevCluster) Bootstrap() string { return k.ready.Bootstrap }

// PIDs are the brokerd processes, in node id order (moto_server and
// kafki-dev-cluster itself are not among them).
func (k *DevCluster) PIDs() []int { return k.ready.PIDs() }

// Stop sends SIGTERM to kafki-dev-cluster, which stops every broker and
// moto_server; after grace it is killed (and, on Linux, the brokers with
// it). The data directory is removed either way.
func (k *DevCluster) Stop(grace time.Duration) error {
	var errs []error
	select {
	case <-k.exited:
		if !k.stopped {
			errs = append(errs, fmt.Errorf("kafki-dev-cluster exited early (%v): %s", k.waitErr, lastLogLine(k.logPath)))
		}
	default:
		k.stopped = true
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.exited:
			if k.waitErr != nil {
				errs = append(errs, fmt.Errorf("kafki-dev-cluster exited with %v after SIGTERM: %s", k.waitErr, lastLogLine(k.logPath)))
			}
		case <-time.After(grace):
			_ = k.cmd.Process.Kill()
			errs = append(errs, fmt.Errorf("kafki-dev-cluster did not stop within %s of SIGTERM; killed", grace))
			select {
			case <-k.exited:
			case <-time.After(killReapTimeout):
				// Its output pipe is still open (a child holding it?):
				// give up waiting rather than hang the caller.
				errs = append(errs, fmt.Errorf("kafki-dev-cluster not reaped within %s of SIGKILL", killReapTimeout))
			}
		}
	}
	k.stopped = true
	if err := os.RemoveAll(k.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove kafki cluster dir: %w", err))
	}
	return errors.Join(errs...)
}

func absExisting(path, what string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return abs, nil
}

// lastLogLine is the last non-empty line of the file at path (its last
// 4 KiB read), or "" when there is none.
func lastLogLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
