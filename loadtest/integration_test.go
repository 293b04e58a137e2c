package loadtest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/loadtest"
	"github.com/kafki/kafki/loadtest/brokerproc"
)

// brokerdPath is the brokerd binary TestMain found or built; empty with
// brokerdErr set when neither worked.
var (
	brokerdPath string
	brokerdErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadtest-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	brokerdPath, brokerdErr = brokerproc.FindBrokerd(dir)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// spawn starts a real brokerd for one test and stops it at the end.
func spawn(t *testing.T) *brokerproc.Broker {
	t.Helper()
	if brokerdErr != nil {
		t.Fatalf("no brokerd binary: %v", brokerdErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := brokerproc.Spawn(ctx, brokerdPath, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Stop(10 * time.Second); err != nil {
			t.Errorf("stop broker: %v", err)
		}
	})
	return b
}

// brokerHolds sums the topic's end offsets as the broker reports them,
// through a client of its own.
func brokerHolds(t *testing.T, addr, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		n += o.Offset
	})
	return n
}

// TestSmokeE2EThroughMain runs the e2e workload end to end through the
// command's Main against a real broker and checks the written JSON report
// against the broker: every acknowledged record is held, every held record
// was read, and the chart exists.
func TestSmokeE2EThroughMain(t *testing.T) {
	b := spawn(t)
	dir := t.TempDir()
	jsonPath, svgPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	var stdout, stderr bytes.Buffer
	code := loadtest.Main(context.Background(), []string{"e2e",
		"--bootstrap=" + b.Addr(), "--topic=smoke-e2e", "--partitions=4", "--consumers=2", "--producers=2",
		"--rate=4000", "--warmup=300ms", "--duration=1500ms", "--record-size=64-512", "--keys=uniform:100",
		"--compression=lz4", "--progress=500ms", fmt.Sprintf("--broker-pid=%d", b.PID()),
		"--json=" + jsonPath, "--svg=" + svgPath}, &stdout, &stderr)
	if code != loadtest.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	rep, err := loadtest.ReadJSON(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	held := brokerHolds(t, b.Addr(), "smoke-e2e")
	if rep.Produce.AllRecords != held || rep.Consume.AllRecords != held || rep.BrokerRecords != held {
		t.Fatalf("acknowledged %d, read %d, report says broker holds %d; broker holds %d",
			rep.Produce.AllRecords, rep.Consume.AllRecords, rep.BrokerRecords, held)
	}
	if held == 0 || rep.Produce.Errors != 0 || rep.Consume.Errors != 0 {
		t.Fatalf("held %d, errors %d/%d", held, rep.Produce.Errors, rep.Consume.Errors)
	}
	if rep.Consume.Latency == nil || rep.Consume.Latency.Count == 0 || len(rep.Series) == 0 {
		t.Fatalf("no end-to-end latency or time series recorded: %+v", rep.Consume)
	}
	if rep.BrokerPeakRSSBytes <= 0 {
		t.Fatal("broker RSS not sampled")
	}
	if fi, err := os.Stat(svgPath); err != nil || fi.Size() == 0 {
		t.Fatalf("chart: %v", err)
	}
	if !bytes.Contains(stderr.Bytes(), []byte("rec/s")) {
		t.Fatalf("no progress lines on stderr: %q", stderr.String())
	}
}

// TestSmokeSpawnReadBack is make bench's path: Main spawns the broker
// itself (--spawn-broker), produces, reads everything back (--read-back)
// with the former kafki-perf's fetch sizes, samples the broker's RSS, and stops it.
func TestSmokeSpawnReadBack(t *testing.T) {
	if brokerdErr != nil {
		t.Fatalf("no brokerd binary: %v", brokerdErr)
	}
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	code := loadtest.Main(context.Background(), []string{"produce", "--spawn-broker=" + brokerdPath,
		"--read-back", "--acks=1", "--record-size=100", "--warmup=200ms", "--duration=800ms",
		"--fetch-max-bytes=50331648", "--fetch-partition-bytes=8388608", "--progress=0",
		"--json=" + jsonPath, "--svg="}, &stdout, &stderr)
	if code != loadtest.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	rep, err := loadtest.ReadJSON(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Produce == nil || rep.Consume == nil || rep.Produce.AllRecords == 0 {
		t.Fatalf("report lacks a side: %+v", rep)
	}
	// Read back: everything acknowledged, warm-up included, as the broker holds it.
	if rep.Consume.AllRecords != rep.Produce.AllRecords || rep.BrokerRecords != rep.Produce.AllRecords {
		t.Fatalf("acknowledged %d, read back %d, broker holds %d", rep.Produce.AllRecords, rep.Consume.AllRecords, rep.BrokerRecords)
	}
	if rep.BrokerPeakRSSBytes <= 0 || !rep.Settings.ReadBack || rep.Settings.Acks != "1" {
		t.Fatalf("RSS %d, settings %+v", rep.BrokerPeakRSSBytes, rep.Settings)
	}
	if !strings.Contains(stdout.String(), "read back") || !strings.Contains(stderr.String(), "started "+brokerdPath) {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// TestSmokeProduceRecordCount runs an exact record count unthrottled: the
// measured records equal the count asked for, and the broker holds the
// warm-up's records too.
func TestSmokeProduceRecordCount(t *testing.T) {
	b := spawn(t)
	cfg := loadtest.DefaultConfig()
	cfg.Bootstrap, cfg.Topic, cfg.Workload = b.Addr(), "smoke-produce", loadtest.WorkloadProduce
	cfg.Duration, cfg.Records, cfg.Warmup, cfg.Progress = 0, 5000, 200*time.Millisecond, 0
	cfg.JSONPath, cfg.SVGPath = "", ""
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := loadtest.Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Produce.Records != 5000 {
		t.Fatalf("measured %d records, want exactly 5000", rep.Produce.Records)
	}
	if held := brokerHolds(t, b.Addr(), cfg.Topic); rep.Produce.AllRecords != held || held < 5000 {
		t.Fatalf("acknowledged %d (warm-up included), broker holds %d", rep.Produce.AllRecords, held)
	}
}

// TestSmokeConsume preloads records and reads them all back, then reads
// the same topic again without a preload: the whole topic, not just what
// this run wrote.
func TestSmokeConsume(t *testing.T) {
	b := spawn(t)
	cfg := loadtest.DefaultConfig()
	cfg.Bootstrap, cfg.Topic, cfg.Workload = b.Addr(), "smoke-consume", loadtest.WorkloadConsume
	cfg.Preload, cfg.Consumers, cfg.Progress = 20000, 2, 0
	cfg.JSONPath, cfg.SVGPath = "", ""
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := loadtest.Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	held := brokerHolds(t, b.Addr(), cfg.Topic)
	if held != 20000 || rep.Consume.Records != held || rep.TopicRecords != held || rep.Consume.Latency != nil {
		t.Fatalf("broker holds %d, read %d (want 20000 each, no latency): %+v", held, rep.Consume.Records, rep.Consume)
	}
	cfg.Preload = 0
	again, err := loadtest.Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Consume.Records != held || again.BrokerRecords != 0 {
		t.Fatalf("second read: %d records read, %d written; want %d and 0", again.Consume.Records, again.BrokerRecords, held)
	}
}

// TestTransactionalReadCommitted: two transactional producers commit every
// 50 records while read_committed consumers read along (e2e); every
// committed record is read once, and the broker holds the records plus one
// COMMIT marker per partition of each transaction, as the report says.
func TestTransactionalReadCommitted(t *testing.T) {
	b := spawn(t)
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "txn.json")
	var stdout, stderr bytes.Buffer
	code := loadtest.Main(context.Background(), []string{"e2e",
		"--bootstrap=" + b.Addr(), "--topic=txn-e2e", "--partitions=3", "--producers=2", "--consumers=2",
		"--rate=3000", "--warmup=200ms", "--duration=1s", "--record-size=64", "--progress=0",
		"--transactional-id=lt-e2e", "--transaction-records=50", "--isolation=read_committed",
		"--json=" + jsonPath, "--svg="}, &stdout, &stderr)
	if code != loadtest.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	rep, err := loadtest.ReadJSON(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	held := brokerHolds(t, b.Addr(), "txn-e2e")
	if rep.TxnMarkers == 0 || rep.Produce.AllRecords+rep.TxnMarkers != held || rep.Consume.AllRecords != rep.Produce.AllRecords || rep.BrokerRecords != held {
		t.Fatalf("committed %d records and %d markers, read %d, report says broker holds %d; broker holds %d",
			rep.Produce.AllRecords, rep.TxnMarkers, rep.Consume.AllRecords, rep.BrokerRecords, held)
	}
	if s := rep.Settings; s.TransactionRecords != 50 || s.Isolation != "read_committed" || !strings.Contains(stdout.String(), "transactions of 50 records") {
		t.Fatalf("settings %+v, summary:\n%s", s, stdout.String())
	}
}
