package clusterproc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
	"github.com/kafki/kafki/tiering/mototest"
)

// Timeouts the harness applies on its own.
const (
	// StartTimeout bounds Start and Restart waiting for a broker's port
	// when ctx has no earlier deadline. Generous: a broker in cluster mode
	// registers with DynamoDB before it serves.
	StartTimeout = 60 * time.Second
	// CloseGrace is how long Close waits after SIGTERM before SIGKILL.
	CloseGrace = 15 * time.Second
	// reapTimeout bounds the wait for the kernel to reap a SIGKILLed
	// process; beyond it something is badly wrong (a zombie nobody waits
	// for), and the caller gets an error instead of a hang.
	reapTimeout = 10 * time.Second
	// startAttempts bounds retries when a port picked for a broker was
	// taken by another process before the broker bound it.
	startAttempts = 3
)

// Options configure a cluster.
type Options struct {
	// Brokers is the number of brokers, node ids 1..Brokers. At least 1.
	Brokers int
	// BrokerdPath is the brokerd binary to run.
	BrokerdPath string
	// BaseDir holds one data directory per broker (broker-<id>). Empty
	// means a fresh temporary directory that Close removes; a given
	// directory is kept, so a developer can restart on the same data.
	BaseDir string
	// Endpoint is the DynamoDB endpoint URL. Empty means Start runs a
	// moto_server of its own and Close stops it.
	Endpoint string
	// Table is the DynamoDB metadata table; the brokers create it if
	// missing. Empty means a fresh random name, so clusters sharing one
	// endpoint do not see each other.
	Table string
	// SessionLease is the brokers' session (and controller) lease. Zero
	// leaves the broker's default.
	SessionLease time.Duration
	// Env holds extra settings for every broker, as KEY=value (normally
	// KAFKI_*). They come after the harness's own, so they win.
	Env []string
	// Racks assigns broker id i the rack Racks[(i-1) % len(Racks)]: three
	// brokers over []string{"a", "b"} get a, b, a. Empty sets no rack.
	Racks []string
	// NetNS runs each broker in a network namespace of its own, attached
	// to a bridge the harness creates, so tests can cut brokers off
	// (Proc.CutFromPeers, Proc.Isolate). Brokers then listen on
	// 10.X.0.(10+id):9092 and the moto_server Start runs listens on the
	// bridge address 10.X.0.1; a given Endpoint must be reachable from
	// the namespaces. Needs Linux, root and iproute2 (NetNSAvailable).
	NetNS bool
	// Security, when set, runs the brokers with SASL_SSL listeners (a
	// client one and an inter-broker one) instead of one PLAINTEXT
	// listener; see Security and NewSecurity. Not with NetNS: the test
	// certificates name 127.0.0.1 only.
	Security *Security
	// Stdout receives every broker's output, each line prefixed with
	// "[broker <id>] ". Nil keeps it only in each broker's tail buffer
	// (Proc.Logs), which is filled either way.
	Stdout io.Writer
}

// Cluster is a running set of broker processes.
type Cluster struct {
	opt      Options
	baseDir  string
	ownDir   bool             // baseDir was created by Start: Close removes it
	moto     *mototest.Server // nil when Options.Endpoint was given
	net      *network         // nil unless Options.NetNS
	endpoint string
	table    string
	procs    []*Proc // index id-1

	closeOnce sync.Once
	closeErr  error
}

// Start launches the cluster described by opt and returns once every
// broker accepts connections. ctx bounds the start only; the brokers run
// until Close.
func Start(ctx context.Context, opt Options) (_ *Cluster, err error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	c := &Cluster{opt: opt, endpoint: opt.Endpoint, table: opt.Table, baseDir: opt.BaseDir}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	if c.table == "" {
		c.table = "kafki-" + randomHex(4)
	}
	// Absolute paths: a broker runs in its data directory, where a
	// relative binary or data path would mean something else.
	if c.opt.BrokerdPath, err = filepath.Abs(opt.BrokerdPath); err != nil {
		return nil, fmt.Errorf("clusterproc: broker binary: %w", err)
	}
	if c.baseDir != "" {
		if c.baseDir, err = filepath.Abs(c.baseDir); err != nil {
			return nil, fmt.Errorf("clusterproc: data directory: %w", err)
		}
	} else {
		dir, err := os.MkdirTemp("", "kafki-cluster-")
		if err != nil {
			return nil, fmt.Errorf("clusterproc: data directory: %w", err)
		}
		c.baseDir, c.ownDir = dir, true
	}
	ids := make([]int32, opt.Brokers)
	for i := range ids {
		ids[i] = int32(i + 1)
	}
	if opt.NetNS {
		if c.net, err = newNetwork(ids); err != nil {
			return nil, fmt.Errorf("clusterproc: network namespaces: %w", err)
		}
	}
	if c.endpoint == "" {
		// Serialized, not threaded: threaded moto_server can let two
		// concurrent conditional writes to one item both succeed, which
		// real DynamoDB never does; brokers in separate processes race
		// exactly such writes for leases, so a threaded server could
		// grant one lease to two brokers and break the cluster's safety.
		host := "127.0.0.1"
		if c.net != nil {
			host = c.net.hostAddr().String() // reachable from every namespace
		}
		srv, err := mototest.StartSerializedOn(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("clusterproc: start DynamoDB (moto_server): %w", err)
		}
		c.moto, c.endpoint = srv, srv.Endpoint
	}

	var addrs []string
	if c.net != nil {
		for _, id := range ids {
			addrs = append(addrs, c.net.brokerAddr(id))
		}
	} else if addrs, err = brokerproc.FreeLoopbackAddrs(opt.Brokers * c.portsPerBroker()); err != nil {
		return nil, fmt.Errorf("clusterproc: %w", err)
	}
	var stdout io.Writer
	if opt.Stdout != nil {
		stdout = &lockedWriter{w: opt.Stdout}
	}
	for i, id := range ids {
		dir := filepath.Join(c.baseDir, "broker-"+strconv.Itoa(int(id)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("clusterproc: broker %d data directory: %w", id, err)
		}
		p := newProc(c, id, addrs[i], dir, stdout)
		if opt.Security != nil {
			p.interAddr = addrs[opt.Brokers+i]
		}
		if c.net != nil {
			p.netns = c.net.ns(id)
		}
		c.procs = append(c.procs, p)
	}

	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	// All brokers start together: in cluster mode one may wait for its
	// peers (a controller, a quorum of leases) before it serves.
	errs := make([]error, len(c.procs))
	var wg sync.WaitGroup
	for i, p := range c.procs {
		wg.Go(func() { errs[i] = p.startFirst(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opt.Security != nil {
		if err := c.createClientUser(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// portsPerBroker is how many loopback ports a broker listens on: its
// client listener, and the inter-broker one of a secured cluster.
func (c *Cluster) portsPerBroker() int {
	if c.opt.Security != nil {
		return 2
	}
	return 1
}

func (o *Options) validate() error {
	if o.Brokers < 1 {
		return fmt.Errorf("clusterproc: Brokers must be at least 1, got %d", o.Brokers)
	}
	if o.BrokerdPath == "" {
		return errors.New("clusterproc: BrokerdPath is empty; build the broker first (make build, or go build ./brokerd/cmd/brokerd)")
	}
	info, err := os.Stat(o.BrokerdPath)
	if err != nil {
		return fmt.Errorf("clusterproc: broker binary %s: %w (build it first: make build, or go build ./brokerd/cmd/brokerd)", o.BrokerdPath, err)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return fmt.Errorf("clusterproc: broker binary %s is not an executable file", o.BrokerdPath)
	}
	if o.NetNS && o.Brokers > maxNetNSID {
		return fmt.Errorf("clusterproc: NetNS supports at most %d brokers, got %d", maxNetNSID, o.Brokers)
	}
	if o.SessionLease < 0 {
		return fmt.Errorf("clusterproc: SessionLease must not be negative, got %s", o.SessionLease)
	}
	if o.Security != nil {
		if o.NetNS {
			return errors.New("clusterproc: Security and NetNS together are not supported (the test certificates name 127.0.0.1 only)")
		}
		if err := o.Security.validate(o.Brokers); err != nil {
			return err
		}
	}
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("clusterproc: Env entry %q is not KEY=value", kv)
		}
	}
	return nil
}

// Bootstrap returns every broker's host:port, in node id order.
func (c *Cluster) Bootstrap() []string {
	out := make([]string, len(c.procs))
	for i, p := range c.procs {
		out[i] = p.addr
	}
	return out
}

// Broker returns the broker with node id id, or nil if there is none.
func (c *Cluster) Broker(id int32) *Proc {
	if id < 1 || int(id) > len(c.procs) {
		return nil
	}
	return c.procs[id-1]
}

// Brokers returns all brokers in node id order.
func (c *Cluster) Brokers() []*Proc { return append([]*Proc(nil), c.procs...) }

// Endpoint is the DynamoDB endpoint URL the brokers use.
func (c *Cluster) Endpoint() string { return c.endpoint }

// HostAddr is the address through which brokers in network namespaces
// reach the root namespace (the bridge's), or "" without Options.NetNS.
func (c *Cluster) HostAddr() string {
	if c.net == nil {
		return ""
	}
	return c.net.hostAddr().String()
}

// Table is the DynamoDB metadata table the brokers share.
func (c *Cluster) Table() string { return c.table }

// BaseDir is the directory holding the brokers' data directories.
func (c *Cluster) BaseDir() string { return c.baseDir }

// Close stops every running broker (SIGTERM, CloseGrace, then SIGKILL),
// then the moto_server Start ran, removes the network namespaces and
// bridge of Options.NetNS, and removes a temporary BaseDir. It
// returns an error naming each broker that had to be killed, exited
// non-zero after SIGTERM, or had exited earlier without being asked.
// Later calls return the first call's result.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		errs := make([]error, len(c.procs))
		var wg sync.WaitGroup
		for i, p := range c.procs {
			wg.Go(func() { errs[i] = p.shutdown(CloseGrace) })
		}
		wg.Wait()
		if c.moto != nil {
			errs = append(errs, c.moto.Close())
		}
		// After the brokers: a namespace with a process still in it
		// would keep its veth alive.
		if c.net != nil {
			if err := c.net.teardown(); err != nil {
				errs = append(errs, fmt.Errorf("clusterproc: remove network namespaces: %w", err))
			}
		}
		if c.ownDir {
			if err := os.RemoveAll(c.baseDir); err != nil {
				errs = append(errs, fmt.Errorf("clusterproc: remove %s: %w", c.baseDir, err))
			}
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// env builds broker id's environment: the parent's without KAFKI_* and
// AWS_* (see the package invariants), the harness's settings, then
// Options.Env. exec.Cmd keeps the last value of a repeated key, which is
// what lets Options.Env override.
func (c *Cluster) env(p *Proc) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KAFKI_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"KAFKI_NODE_ID="+strconv.Itoa(int(p.id)),
		"KAFKI_DATA_DIR="+p.dataDir,
		"KAFKI_METADATA_STORE=dynamodb",
		"KAFKI_METADATA_TABLE="+c.table,
		"KAFKI_METADATA_CREATE_TABLE=true",
		"AWS_ENDPOINT_URL="+c.endpoint,
		"AWS_REGION="+mototest.Region,
		"AWS_ACCESS_KEY_ID="+mototest.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+mototest.SecretAccessKey,
		// Region and credentials are set, so the SDK never needs the
		// instance metadata service; make sure it does not wait for it.
		"AWS_EC2_METADATA_DISABLED=true",
		// Every goroutine in a crash or a DumpGoroutines.
		"GOTRACEBACK=all",
	)
	// A broker refuses listen together with listeners.
	if c.opt.Security != nil {
		env = append(env, c.opt.Security.env(p)...)
	} else {
		env = append(env, "KAFKI_LISTEN="+p.addr)
	}
	if len(c.opt.Racks) > 0 {
		env = append(env, "KAFKI_BROKER_RACK="+c.opt.Racks[int(p.id-1)%len(c.opt.Racks)])
	}
	if c.opt.SessionLease > 0 {
		env = append(env, "KAFKI_SESSION_LEASE="+c.opt.SessionLease.String())
	}
	return append(env, c.opt.Env...)
}

// args are the broker's command-line flags. Only metrics.listen is a
// flag: config.Load ignores an empty environment value, and one fixed
// default metrics port cannot serve several brokers on one host.
func (c *Cluster) args() []string { return []string{"--metrics.listen="} }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
