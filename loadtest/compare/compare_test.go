package compare

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/loadtest"
	"github.com/kafki/kafki/loadtest/brokerproc"
)

func TestParsePerfTest(t *testing.T) {
	out := `SLF4J: Failed to load class "org.slf4j.impl.StaticLoggerBinder".
250111 records sent, 50022.2 records/sec (48.85 MB/sec), 312.4 ms avg latency, 498.0 ms max latency.
500000 records sent, 52411.7 records/sec (51.18 MB/sec), 351.02 ms avg latency, 525.00 ms max latency, 368 ms 50th, 480 ms 95th, 511 ms 99th, 525 ms 99.9th.
`
	r, err := ParsePerfTest(out)
	if err != nil {
		t.Fatal(err)
	}
	want := PerfTestResult{Records: 500000, RecordsPerSec: 52411.7, MBPerSec: 51.18, AvgMs: 351.02, MaxMs: 525,
		P50Ms: 368, P95Ms: 480, P99Ms: 511, P999Ms: 525}
	if r != want {
		t.Fatalf("parsed %+v, want %+v", r, want)
	}
	if _, err := ParsePerfTest("Exception in thread main\norg.apache.kafka.common.errors.TimeoutException: boom\n"); !errors.Is(err, ErrNoPerfSummary) || !strings.Contains(err.Error(), "TimeoutException") {
		t.Fatalf("error %v: want ErrNoPerfSummary naming the last line", err)
	}
}

func TestServerPropertiesStateFsyncAndQuorum(t *testing.T) {
	text := serverProperties(2, 3, []int{9001, 9002, 9003}, []int{9101, 9102, 9103}, "/tmp/x", FsyncPerAck, nil)
	for _, want := range []string{
		"node.id=2\n",
		"process.roles=broker,controller\n",
		"controller.quorum.voters=1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103\n",
		"listeners=PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102\n",
		"log.dirs=/tmp/x\n",
		"offsets.topic.replication.factor=3\n",
		"log.flush.interval.messages=1\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	single := serverProperties(1, 1, []int{1}, []int{2}, "/d", FsyncPageCache, nil)
	if !strings.Contains(single, "log.flush.interval.messages=9223372036854775807\n") || !strings.Contains(single, "offsets.topic.replication.factor=1\n") {
		t.Errorf("single node page-cache config:\n%s", single)
	}
	if got := FsyncPerAck.KafkiFlags(); got[0] != "--log.flush.on.ack=true" {
		t.Errorf("per-ack Kafki flags %v", got)
	}
	if _, err := ParseFsync("sometimes"); err == nil {
		t.Error("unknown fsync policy accepted")
	}
}

func TestParseArgsRejectsBadOptions(t *testing.T) {
	for _, args := range [][]string{
		{"--setups=single,rf5"},
		{"--fsync=never"},
		{"--record-size=x"},
		{"--e2e-rate=-1"},
		{"--workloads=produce,fly"},
		{"--perf-records=-3"},
		{"--isolation=dirty"},
		{"--transactional-id=bench"},
		{"--transaction-records=5"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(context.Background(), args, &out, &errOut); code != loadtest.ExitUsage || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line", args, code, errOut.String())
		}
	}
}

// The transaction flags reach the produce and e2e runs, the isolation
// level every run; the consume workload's preload stays plain.
func TestTransactionFlags(t *testing.T) {
	cfg, err := ParseArgs([]string{"--transactional-id=bench", "--transaction-records=100", "--isolation=read_committed"}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range cfg.Workloads {
		lc := cfg.loadtestConfig(w, SetupSingle, "kafki", "127.0.0.1:9092")
		wantTxn := w != loadtest.WorkloadConsume
		if lc.Transactional() != wantTxn || (wantTxn && lc.TransactionRecords != 100) || lc.Isolation != loadtest.IsolationReadCommitted {
			t.Errorf("%s: transactional id %q, %d records per transaction, isolation %s", w, lc.TransactionalID, lc.TransactionRecords, lc.Isolation)
		}
	}
}

func TestRatioTableMarksNotAvailableAndComputesRatios(t *testing.T) {
	rep := func(target string, rps, p99 float64, rss int64) *loadtest.Report {
		lat := loadtest.Percentiles{Count: 10, P50: p99 / 4, P99: p99, P999: p99 * 1.2}
		return &loadtest.Report{Label: target, Workload: loadtest.WorkloadProduce, BrokerPeakRSSBytes: rss,
			Produce: &loadtest.StreamStats{Records: 10, Seconds: 1, RecordsPerSec: rps, Latency: &lat}}
	}
	cmp := &Comparison{Fsync: FsyncPageCache.Describe(), KafkaVersion: KafkaVersion, Results: []Result{
		{Setup: SetupSingle, Target: TargetKafki, Workload: "produce", Report: rep("kafki", 200, 10, 40<<20)},
		{Setup: SetupSingle, Target: TargetKafka, Workload: "produce", Report: rep("kafka", 100, 20, 400<<20)},
		{Setup: SetupRF3, Target: TargetKafki, Workload: "produce", NotAvailable: NotAvailableNoMoto},
		{Setup: SetupRF3, Target: TargetKafka, Workload: "produce", Report: rep("kafka", 50, 40, 1200<<20)},
	}}
	var b bytes.Buffer
	if err := WriteRatioTable(&b, cmp); err != nil {
		t.Fatal(err)
	}
	table := b.String()
	for _, want := range []string{
		"| 1 node | produce | throughput (rec/s) | 200 | 100 | 2.00 ✓ |",
		"| 1 node | produce | ack p99 (ms) | 10.0 | 20.0 | 0.50 ✓ |",
		"| 1 node | produce | broker peak RSS (MiB) | 40.0 | 400 | 0.10 ✓ |",
		"| 3 nodes, RF 3 | produce | throughput (rec/s) | " + NotAvailableNoMoto + " | 50.0 | - |",
		"page cache",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestStartKafkiAppliesFsyncFlags starts the real brokerd through the
// wrapper and checks it serves, and that the wrapper passes the policy.
func TestStartKafkiAppliesFsyncFlags(t *testing.T) {
	dir := t.TempDir()
	bin, err := brokerproc.FindBrokerd(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := StartKafki(ctx, bin, dir, FsyncPerAck, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.Stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	}()
	cmdline, err := os.ReadFile("/proc/" + itoa(b.PID()) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cmdline, []byte("--log.flush.on.ack=true")) || !bytes.Contains(cmdline, []byte(bin)) {
		t.Fatalf("broker command line %q lacks the policy flag (the wrapper must exec brokerd)", bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).ListBrokers(ctx); err != nil {
		t.Fatalf("broker does not answer: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestStartKafkiClusterRF3 starts the real three-broker cluster through
// kafki-dev-cluster (moto_server as DynamoDB), checks every broker runs
// the fsync policy, that a replication-factor-3 topic gets three in-sync
// replicas and takes acks=all writes, and that Stop ends every broker.
func TestStartKafkiClusterRF3(t *testing.T) {
	if _, err := exec.LookPath(MotoServer); err != nil {
		t.Skip("moto_server not on PATH")
	}
	dir := t.TempDir()
	bin, err := brokerproc.FindBrokerd(dir)
	if err != nil {
		t.Fatal(err)
	}
	devCluster := filepath.Join(dir, "kafki-dev-cluster")
	if out, err := exec.Command("go", "build", "-o", devCluster, "github.com/kafki/kafki/brokerd/cmd/kafki-dev-cluster").CombinedOutput(); err != nil {
		t.Fatalf("build kafki-dev-cluster: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, err := StartKafkiCluster(ctx, KafkiClusterOptions{DevCluster: devCluster, Brokerd: bin, Brokers: 3,
		Fsync: FsyncPerAck, Dir: dir, Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = k.Stop(30 * time.Second)
		}
	}()
	pids := k.PIDs()
	if len(pids) != 3 || len(strings.Split(k.Bootstrap(), ",")) != 3 {
		t.Fatalf("pids %v, bootstrap %q: want three brokers", pids, k.Bootstrap())
	}
	for _, pid := range pids {
		cmdline, err := os.ReadFile("/proc/" + itoa(pid) + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(cmdline, []byte("--log.flush.on.ack=true")) || !bytes.Contains(cmdline, []byte(bin)) {
			t.Fatalf("broker %d command line %q lacks the policy flag (the wrapper must exec brokerd)", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
	if err := createTopic(ctx, k.Bootstrap(), "rf3", 2, 3); err != nil {
		t.Fatal(err)
	}
	cfg := loadtest.DefaultConfig()
	cfg.Bootstrap, cfg.Topic, cfg.CreateTopic = k.Bootstrap(), "rf3", false
	cfg.Duration, cfg.Records, cfg.Warmup, cfg.Progress = 0, 500, 0, 0
	cfg.BrokerPIDs = pids
	rep, err := loadtest.Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Records bounds the measured period only: producers may send a few
	// more before measuring starts, and every one must be held.
	if rep.BrokerRecords < 500 || rep.BrokerRecords != rep.Produce.AllRecords || rep.BrokerPeakRSSBytes == 0 {
		t.Fatalf("broker holds %d records, %d acknowledged (want at least 500, all held), RSS %d",
			rep.BrokerRecords, rep.Produce.AllRecords, rep.BrokerPeakRSSBytes)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(k.Bootstrap(), ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, "rf3")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics["rf3"].Partitions {
		if len(p.Replicas) != 3 {
			t.Errorf("partition %d has replicas %v, want 3", p.Partition, p.Replicas)
		}
	}
	stopped = true
	if err := k.Stop(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + itoa(pid)); err == nil {
			t.Errorf("broker pid %d still exists after Stop", pid)
		}
	}
}
