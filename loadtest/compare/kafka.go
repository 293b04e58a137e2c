package compare

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// ErrNoKafka means the Apache Kafka jars were not found.
var ErrNoKafka = errors.New("apache kafka jars not found (run make kafka-deps)")

// KafkaOptions describe an Apache Kafka cluster to start on loopback.
type KafkaOptions struct {
	LibDir   string   // directory of the jars (kafka_2.13, kafka-tools and dependencies)
	Java     string   // java binary; "" means "java" on PATH
	JVMOpts  []string // heap and GC options of each node
	Nodes    int      // 1, or 3 for replication factor 3
	Fsync    Fsync
	Timeout  time.Duration // bound on formatting and start-up
	ExtraCfg map[string]string
}

// KafkaCluster is a running Apache Kafka cluster, every node in combined
// broker+controller (KRaft) mode.
type KafkaCluster struct {
	dir   string
	nodes []*javaProc
	addrs []string
}

// javaProc is one running JVM.
type javaProc struct {
	*brokerproc.Process
	logPath string
}

// kafkaDefaultJVMOpts are the heap and GC settings of Kafka's own start
// scripts (kafka-server-start.sh, kafka-run-class.sh).
var kafkaDefaultJVMOpts = []string{
	"-Xmx1G", "-Xms1G", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
	"-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
	"-Djava.awt.headless=true",
}

// DefaultKafkaJVMOpts returns a copy of Kafka's default JVM options.
func DefaultKafkaJVMOpts() []string { return append([]string(nil), kafkaDefaultJVMOpts...) }

func (o KafkaOptions) java() string {
	if o.Java == "" {
		return "java"
	}
	return o.Java
}

func (o KafkaOptions) classpath() (string, error) {
	jars, err := filepath.Glob(filepath.Join(o.LibDir, "*.jar"))
	if err != nil || len(jars) == 0 {
		return "", fmt.Errorf("%w in %s", ErrNoKafka, o.LibDir)
	}
	found := false
	for _, j := range jars {
		found = found || strings.HasPrefix(filepath.Base(j), "kafka_2.13-")
	}
	if !found {
		return "", fmt.Errorf("%w: no kafka_2.13 jar in %s", ErrNoKafka, o.LibDir)
	}
	return filepath.Join(o.LibDir, "*"), nil
}

// newClusterID returns a random Kafka cluster id: 16 bytes, base64url
// without padding (what kafka-storage random-uuid prints).
func newClusterID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("cluster id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// freePorts reserves n distinct free loopback ports
// (brokerproc.FreeLoopbackAddrs). They are released before Kafka binds
// them; a clash shows up as a failed start.
func freePorts(n int) ([]int, error) {
	addrs, err := brokerproc.FreeLoopbackAddrs(n)
	if err != nil {
		return nil, err
	}
	ports := make([]int, len(addrs))
	for i, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err == nil {
			ports[i], err = strconv.Atoi(port)
		}
		if err != nil {
			return nil, fmt.Errorf("free port %q: %w", a, err)
		}
	}
	return ports, nil
}

// serverProperties renders node id's configuration.
func serverProperties(id, nodes int, brokerPorts, controllerPorts []int, logDir string, fs Fsync, extra map[string]string) string {
	var voters []string
	for i := range nodes {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, controllerPorts[i]))
	}
	rf := min(nodes, 3)
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	kv("process.roles", "broker,controller")
	kv("node.id", id)
	kv("controller.quorum.voters", strings.Join(voters, ","))
	kv("listeners", fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", brokerPorts[id-1], controllerPorts[id-1]))
	kv("advertised.listeners", fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", brokerPorts[id-1]))
	kv("controller.listener.names", "CONTROLLER")
	kv("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT")
	kv("inter.broker.listener.name", "PLAINTEXT")
	kv("log.dirs", logDir)
	kv("offsets.topic.replication.factor", rf)
	kv("transaction.state.log.replication.factor", rf)
	kv("transaction.state.log.min.isr", min(rf, 2))
	kv("share.coordinator.state.topic.replication.factor", rf)
	kv("share.coordinator.state.topic.min.isr", min(rf, 2))
	kv("group.initial.rebalance.delay.ms", 0)
	for k, v := range fs.KafkaProperties() {
		kv(k, v)
	}
	for k, v := range extra {
		kv(k, v)
	}
	return b.String()
}

// StartKafka formats and starts an Apache Kafka cluster of opts.Nodes
// nodes on loopback, and waits until every broker is registered.
func StartKafka(ctx context.Context, opts KafkaOptions) (*KafkaCluster, error) {
	cp, err := opts.classpath()
	if err != nil {
		return nil, err
	}
	if opts.Nodes < 1 {
		return nil, fmt.Errorf("kafka: %d nodes", opts.Nodes)
	}
	id, err := newClusterID()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2 * opts.Nodes)
	if err != nil {
		return nil, err
	}
	brokerPorts, controllerPorts := ports[:opts.Nodes], ports[opts.Nodes:]
	dir, err := os.MkdirTemp("", "kafki-compare-kafka-")
	if err != nil {
		return nil, fmt.Errorf("kafka dir: %w", err)
	}
	k := &KafkaCluster{dir: dir}
	ok := false
	defer func() {
		if !ok {
			_ = k.Stop(10 * time.Second)
		}
	}()
	for n := 1; n <= opts.Nodes; n++ {
		nodeDir := filepath.Join(dir, fmt.Sprintf("node%d", n))
		props := filepath.Join(dir, fmt.Sprintf("server%d.properties", n))
		text := serverProperties(n, opts.Nodes, brokerPorts, controllerPorts, filepath.Join(nodeDir, "logs"), opts.Fsync, opts.ExtraCfg)
		if err := os.WriteFile(props, []byte(text), 0o644); err != nil {
			return nil, fmt.Errorf("kafka config: %w", err)
		}
		fctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		out, err := exec.CommandContext(fctx, opts.java(), "-cp", cp, "kafka.tools.StorageTool",
			"format", "-t", id, "-c", props).CombinedOutput()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("kafka-storage format node %d: %w: %s", n, err, lastLine(string(out)))
		}
		args := append(append([]string(nil), opts.JVMOpts...), "-cp", cp, "kafka.Kafka", props)
		p, err := startJava(opts.java(), args, filepath.Join(dir, fmt.Sprintf("node%d.log", n)))
		if err != nil {
			return nil, err
		}
		k.nodes = append(k.nodes, p)
		k.addrs = append(k.addrs, fmt.Sprintf("127.0.0.1:%d", brokerPorts[n-1]))
	}
	if err := k.waitReady(ctx, opts.Nodes, opts.Timeout); err != nil {
		return nil, err
	}
	ok = true
	return k, nil
}

func startJava(java string, args []string, logPath string) (*javaProc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("kafka log: %w", err)
	}
	cmd := exec.Command(java, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childProcAttr()
	proc, err := brokerproc.Start(cmd)
	// The child holds its own copy of the log file's descriptor.
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("start kafka: %w", err)
	}
	return &javaProc{Process: proc, logPath: logPath}, nil
}

// waitReady polls the cluster until it reports n brokers.
func (k *KafkaCluster) waitReady(ctx context.Context, n int, timeout time.Duration) error {
	exited := func() error {
		for i, p := range k.nodes {
			if p.Done() {
				return fmt.Errorf("kafka node %d exited (%v): %s", i+1, p.Err(), lastLine(readTail(p.logPath)))
			}
		}
		return nil
	}
	if err := brokerproc.WaitBrokers(ctx, k.addrs, n, timeout, exited); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// Bootstrap is the comma-separated list of the brokers' addresses.
func (k *KafkaCluster) Bootstrap() string { return strings.Join(k.addrs, ",") }

// PIDs are the JVMs' process ids.
func (k *KafkaCluster) PIDs() []int {
	var pids []int
	for _, p := range k.nodes {
		pids = append(pids, p.PID())
	}
	return pids
}

// Stop sends SIGTERM to every node, kills those still running after
// grace, and removes the cluster's directory.
func (k *KafkaCluster) Stop(grace time.Duration) error {
	var errs []error
	for _, p := range k.nodes {
		_ = p.Signal(syscall.SIGTERM)
	}
	deadline := time.After(grace)
	for i, p := range k.nodes {
		select {
		case <-p.Exited():
		case <-deadline:
			_ = p.Kill(grace)
			errs = append(errs, fmt.Errorf("kafka node %d did not stop within %s; killed", i+1, grace))
		}
	}
	if err := os.RemoveAll(k.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove kafka dir: %w", err))
	}
	return errors.Join(errs...)
}

func readTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	return string(data)
}

// lastLine is the last line of s that is not SLF4J's missing-binding note.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "SLF4J:") {
			return l
		}
	}
	return ""
}
