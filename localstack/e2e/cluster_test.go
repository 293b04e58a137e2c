package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// binaries are what the suite runs, built by make (bin/, build/lambdas)
// or named by the environment as make's other test targets do.
type binaries struct {
	root     string // repository root (cdk.json)
	brokerd  string
	triggers string // kafki-triggers
	lambdas  string // build/lambdas: <function>/bootstrap
	cdk      string // the CDK CLI from infra/_cli
}

func findBinaries(t *testing.T) binaries {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := dir
	for ; ; root = filepath.Dir(root) {
		if _, err := os.Stat(filepath.Join(root, "cdk.json")); err == nil {
			break
		}
		if filepath.Dir(root) == root {
			t.Fatalf("no cdk.json in %s or above", dir)
		}
	}
	or := func(env, def string) string {
		if v := os.Getenv(env); v != "" {
			return v
		}
		return filepath.Join(root, def)
	}
	b := binaries{
		root:     root,
		brokerd:  or("KAFKI_BROKERD_BIN", "bin/brokerd"),
		triggers: or("KAFKI_TRIGGERS_BIN", "bin/kafki-triggers"),
		lambdas:  or("KAFKI_LAMBDAS_DIR", "build/lambdas"),
		cdk:      filepath.Join(root, "infra/_cli/node_modules/.bin/cdk"),
	}
	for what, p := range map[string]string{
		"brokerd (make build)": b.brokerd, "kafki-triggers (make build)": b.triggers,
		"the functions (make lambdas)":  filepath.Join(b.lambdas, "dynamodb-sink", "bootstrap"),
		"the CDK CLI (make infra-deps)": b.cdk,
	} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v; make localstack-test-short builds and installs everything", what, err)
		}
	}
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat not installed (make test-deps)")
	}
	return b
}

// Cluster timers: a killed broker is fenced, and dropped from the ISR,
// within seconds. The lease is longer than the kcat cluster test's 2 s:
// an emulator written in Python answers a DynamoDB request in
// milliseconds but stalls for longer while it runs a function or a
// deploy on a shared CPU.
var clusterEnv = []string{
	"KAFKI_SESSION_LEASE=4s",
	"KAFKI_REPLICA_LAG_TIME_MAX=3s",
	"KAFKI_LOG_RETENTION_CHECK_INTERVAL=1s",
	"KAFKI_OFFSETS_TOPIC_NUM_PARTITIONS=3",
	"KAFKI_GROUP_INITIAL_REBALANCE_DELAY=0s",
	"KAFKI_GROUP_MIN_SESSION_TIMEOUT=1s",
	"KAFKI_LOG_LEVEL=info",
}

// brokerStartTimeout bounds a broker's start: it registers in the
// emulator's DynamoDB before it serves.
const brokerStartTimeout = 60 * time.Second

// broker is one brokerd host process.
type broker struct {
	id          int32
	addr, admin string // Kafka listener; HTTP listener (metrics, trigger admin API)
	dir         string
	env         []string
	bin         string
	proc        *brokerproc.Process
	tail        *brokerproc.TailBuffer
}

// cluster is three brokers configured, as EC2 brokers are from theirs,
// only from the stack's outputs: the metadata table (metadata.table,
// created by the stack, not by the brokers) and the tier bucket.
type cluster struct {
	brokers []*broker
}

// startCluster starts three brokers against the emulator; s3Endpoint is
// where their S3 requests go (the emulator, or a fault proxy before it).
func startCluster(t *testing.T, e *emulator, b binaries, d *deployment, s3Endpoint string) *cluster {
	t.Helper()
	addrs, err := brokerproc.FreeLoopbackAddrs(6)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{}
	for i := range 3 {
		id := int32(i + 1)
		br := &broker{id: id, addr: addrs[i], admin: addrs[3+i], dir: filepath.Join(e.dir, fmt.Sprintf("broker-%d", id)),
			bin: b.brokerd, tail: brokerproc.NewTailBuffer(32<<10, "")}
		env := e.env(e.endpoint)
		env = append(env, "AWS_ENDPOINT_URL_S3="+s3Endpoint) // the later value wins
		br.env = append(env,
			"KAFKI_NODE_ID="+strconv.Itoa(int(id)),
			"KAFKI_CLUSTER_ID="+d.stack,
			"KAFKI_LISTEN="+br.addr,
			"KAFKI_METRICS_LISTEN="+br.admin,
			"KAFKI_DATA_DIR="+br.dir,
			"KAFKI_METADATA_STORE=dynamodb",
			"KAFKI_METADATA_TABLE="+d.outputs["MetadataTable"],
			"KAFKI_TIER_S3_BUCKET="+d.outputs["TierBucket"],
			"KAFKI_TIER_S3_PATH_STYLE=true",
			"GOTRACEBACK=all")
		br.env = append(br.env, clusterEnv...)
		if err := os.MkdirAll(br.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.brokers = append(c.brokers, br)
	}
	t.Cleanup(func() {
		for _, br := range c.brokers {
			if t.Failed() {
				t.Logf("broker %d output (tail):\n%s", br.id, br.tail.String())
			}
			if br.proc != nil {
				br.proc.Terminate(15 * time.Second)
			}
		}
	})
	// All at once: in a cluster one waits for its peers before it serves.
	errs := make(chan error, 3)
	for _, br := range c.brokers {
		go func() { errs <- br.start(t.Context()) }()
	}
	for range c.brokers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c.waitBrokers(t, 3)
	return c
}

// start runs the broker on its data directory (kept across restarts).
func (br *broker) start(ctx context.Context) error {
	cmd := exec.Command(br.bin)
	cmd.Dir, cmd.Env = br.dir, br.env
	cmd.Stdout, cmd.Stderr = br.tail, br.tail
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p, err := brokerproc.Start(cmd)
	if err != nil {
		return fmt.Errorf("start broker %d: %w", br.id, err)
	}
	br.proc = p
	ctx, cancel := context.WithTimeout(ctx, brokerStartTimeout)
	defer cancel()
	if err := brokerproc.WaitListening(ctx, br.addr, p.Exited(), pollEvery); err != nil {
		return fmt.Errorf("broker %d not listening on %s: %w: %s", br.id, br.addr, err, br.tail.LastLine())
	}
	return nil
}

// kill SIGKILLs the broker.
func (br *broker) kill() error {
	return br.proc.Kill(10 * time.Second)
}

func (c *cluster) broker(id int32) *broker { return c.brokers[id-1] }

// bootstrap is every broker's address, the dead ones included, as a
// user's configuration would list them.
func (c *cluster) bootstrap() string {
	var l []string
	for _, br := range c.brokers {
		l = append(l, br.addr)
	}
	return strings.Join(l, ",")
}

func (c *cluster) addrs() []string {
	var l []string
	for _, br := range c.brokers {
		l = append(l, br.addr)
	}
	return l
}

// waitBrokers waits until every running broker's metadata lists want
// brokers.
func (c *cluster) waitBrokers(t *testing.T, want int) {
	t.Helper()
	var live []string
	for _, br := range c.brokers {
		if !br.proc.Done() {
			live = append(live, br.addr)
		}
	}
	err := brokerproc.WaitBrokers(t.Context(), live, want, brokerStartTimeout, func() error {
		for _, br := range c.brokers {
			if br.proc.Done() && br.proc.Err() != nil && !errors.Is(br.proc.Err(), context.Canceled) {
				var ee *exec.ExitError
				if errors.As(br.proc.Err(), &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL {
					continue // killed by the test
				}
				return fmt.Errorf("broker %d exited: %v: %s", br.id, br.proc.Err(), br.tail.LastLine())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
