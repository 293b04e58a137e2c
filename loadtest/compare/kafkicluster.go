package compare

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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MotoServer is the program the Kafki cluster needs as its DynamoDB; its
// absence makes the Kafki three-node column NotAvailableNoMoto instead of
// a failure.
const MotoServer = "moto_server"

// NotAvailableNoMoto is what the Kafki column says for three replicas when
// moto_server (the local DynamoDB the cluster's metadata and leases live
// in) is not installed.
const NotAvailableNoMoto = "needs moto_server (pip install 'moto[server]')"

// ErrNoMoto means moto_server is not on PATH.
var ErrNoMoto = errors.New("moto_server not found on PATH (pip install 'moto[server]'): a Kafki cluster keeps its metadata and leases in DynamoDB")

// killReapTimeout bounds the wait for a killed kafki-dev-cluster.
const killReapTimeout = 10 * time.Second

// KafkiCluster is a multi-broker Kafki cluster run by kafki-dev-cluster,
// the command form of brokerd/internal/clusterproc (an internal package
// this module's loadtest tree may not import): it starts a serialized
// moto_server as DynamoDB and N brokerd processes, prints their addresses
// and process ids, and stops them all on SIGTERM.
type KafkiCluster struct {
	cmd     *exec.Cmd
	dir     string
	logPath string
	addrs   []string
	pids    []int
	exited  chan struct{}
	waitErr error
	stopped bool
}

// KafkiClusterOptions describe a Kafki cluster to start.
type KafkiClusterOptions struct {
	DevCluster string // the kafki-dev-cluster binary
	Brokerd    string // the brokerd binary
	Brokers    int
	Fsync      Fsync
	// Dir holds the brokerd wrapper, the brokers' data (a fresh
	// subdirectory removed by Stop) and the cluster's log.
	Dir     string
	Timeout time.Duration // bound on start-up, moto included
}

// StartKafkiCluster starts opts.Brokers brokers and waits until each
// accepts connections and the cluster's metadata lists all of them.
//
// kafki-dev-cluster passes the brokers no flags of ours and clears KAFKI_*
// from their environment, so, as for a single broker, a wrapper script
// execs brokerd with the fsync policy's flags appended (flags win over the
// KAFKI_* variables the harness sets; exec keeps the process id the
// harness prints, so RSS is sampled on brokerd itself).
func StartKafkiCluster(ctx context.Context, opts KafkiClusterOptions) (*KafkiCluster, error) {
	if _, err := exec.LookPath(MotoServer); err != nil {
		return nil, ErrNoMoto
	}
	if opts.Brokers < 1 {
		return nil, fmt.Errorf("kafki cluster: %d brokers", opts.Brokers)
	}
	devCluster, err := absExisting(opts.DevCluster, "kafki-dev-cluster binary (go build -o bin/ ./brokerd/cmd/kafki-dev-cluster)")
	if err != nil {
		return nil, err
	}
	brokerd, err := absExisting(opts.Brokerd, "kafki binary")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("kafki cluster dir: %w", err)
	}
	wrapper := filepath.Join(opts.Dir, "brokerd-cluster-"+string(opts.Fsync))
	script := "#!/bin/sh\nexec " + shellQuote(brokerd) + ` "$@" ` + strings.Join(opts.Fsync.KafkiFlags(), " ") + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		return nil, fmt.Errorf("kafki wrapper: %w", err)
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
	cmd := exec.Command(devCluster, "--brokers", strconv.Itoa(opts.Brokers), "--brokerd", wrapper,
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
	k := &KafkiCluster{cmd: cmd, dir: data, logPath: logPath, exited: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		// The header lines name the brokers; everything the command
		// prints, header included, goes on to the log.
		sc := bufio.NewScanner(out)
		var header []string
		done := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if done {
				continue
			}
			header = append(header, line)
			if strings.HasPrefix(line, "Bootstrap servers:") {
				done = true
				ready <- k.parseHeader(header, opts.Brokers)
			}
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
		return nil, fmt.Errorf("kafki-dev-cluster exited (%v): %s", k.waitErr, lastLine(readTail(logPath)))
	case <-timer.C:
		return nil, fmt.Errorf("kafki cluster not started within %s: %s", opts.Timeout, lastLine(readTail(logPath)))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := k.waitRegistered(ctx, opts.Timeout); err != nil {
		return nil, err
	}
	ok = true
	return k, nil
}

// parseHeader reads the brokers' addresses and process ids from the
// lines kafki-dev-cluster prints once every broker accepts connections:
// "  broker <id>  <host:port>  pid <pid>  data <dir>".
func (k *KafkiCluster) parseHeader(lines []string, want int) error {
	k.addrs, k.pids = nil, nil
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 5 || f[0] != "broker" || f[3] != "pid" {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil || pid <= 0 {
			return fmt.Errorf("kafki-dev-cluster: bad broker line %q", l)
		}
		k.addrs = append(k.addrs, f[2])
		k.pids = append(k.pids, pid)
	}
	if len(k.addrs) != want {
		return fmt.Errorf("kafki-dev-cluster listed %d brokers, want %d: %q", len(k.addrs), want, strings.Join(lines, " / "))
	}
	return nil
}

// waitRegistered polls the cluster's metadata until it lists every broker:
// a topic with replication factor N needs N live brokers to place replicas.
func (k *KafkiCluster) waitRegistered(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addrs...), kgo.DisableClientMetrics(), kgo.DialTimeout(time.Second))
	if err != nil {
		return fmt.Errorf("kafki admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var last error
	for {
		select {
		case <-k.exited:
			return fmt.Errorf("kafki-dev-cluster exited (%v): %s", k.waitErr, lastLine(readTail(k.logPath)))
		default:
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		brokers, err := adm.ListBrokers(rctx)
		rcancel()
		if err == nil && len(brokers) == len(k.addrs) {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%d of %d brokers in the metadata", len(brokers), len(k.addrs))
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafki cluster not ready within %s: %v", timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Bootstrap is the comma-separated list of the brokers' addresses.
func (k *KafkiCluster) Bootstrap() string { return strings.Join(k.addrs, ",") }

// PIDs are the brokerd processes, in node id order (moto_server and
// kafki-dev-cluster itself are not among them).
func (k *KafkiCluster) PIDs() []int { return append([]int(nil), k.pids...) }

// Stop sends SIGTERM to kafki-dev-cluster, which stops every broker and
// moto_server; after grace it is killed (and, on Linux, the brokers with
// it). The data directory is removed either way.
func (k *KafkiCluster) Stop(grace time.Duration) error {
	var errs []error
	select {
	case <-k.exited:
		if !k.stopped {
			errs = append(errs, fmt.Errorf("kafki-dev-cluster exited early (%v): %s", k.waitErr, lastLine(readTail(k.logPath))))
		}
	default:
		k.stopped = true
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.exited:
			if k.waitErr != nil {
				errs = append(errs, fmt.Errorf("kafki-dev-cluster exited with %v after SIGTERM: %s", k.waitErr, lastLine(readTail(k.logPath))))
			}
		case <-time.After(grace):
			_ = k.cmd.Process.Kill()
			errs = append(errs, fmt.Errorf("kafki-dev-cluster did not stop within %s of SIGTERM; killed", grace))
			select {
			case <-k.exited:
			case <-time.After(killReapTimeout):
				// Its output pipe is still open (a child holding it?):
				// give up waiting rather than hang the comparison.
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
