package perf

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// startBroker starts a real in-process Kafki broker (testbroker), so
// the runner's kgo/kadm paths run against the product itself.
func startBroker(t *testing.T) string {
	t.Helper()
	return testbroker.Start(t)
}

func tinyConfig(bootstrap string) Config {
	cfg := DefaultConfig()
	cfg.Bootstrap = bootstrap
	cfg.RecordSizes = []int{100}
	cfg.Duration, cfg.Warmup = 0, 0
	cfg.Records = 2000
	cfg.MaxBufferedRecords = 500 // fewer slots than records: slots are reused
	cfg.ConsumeTimeout = 20 * time.Second
	cfg.ProgressInterval = 0
	return cfg
}

func TestRunRecordsModeReadsBackEverything(t *testing.T) {
	cfg := tinyConfig(startBroker(t))
	cfg.Producers = 2
	cfg.Records = 2001 // odd: the split across producers must not lose one
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	rep, err := Run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if len(rep.Cells) != 2 {
		t.Fatalf("%d cells, want 2 (acks 1 and all)", len(rep.Cells))
	}
	for _, c := range rep.Cells {
		if c.Failed() {
			t.Errorf("%s failed: %s", c.Name(), c.Error)
			continue
		}
		p, cs := c.Produce, c.Consume
		if p.Records != 2001 || p.TotalAcked != 2001 || p.Bytes != 2001*100 || p.Errors != 0 {
			t.Errorf("%s produce = %+v, want 2001 records of 100 B", c.Name(), p)
		}
		if cs.Records != 2001 || cs.Bytes != 2001*100 || cs.Expected != 2001 {
			t.Errorf("%s consume = %+v, want 2001 records of 100 B", c.Name(), cs)
		}
		if p.RecordsPerSec <= 0 || cs.RecordsPerSec <= 0 || p.Latency.P50 <= 0 || p.Latency.Max < p.Latency.P99 {
			t.Errorf("%s: implausible rates or latencies: %+v %+v", c.Name(), p, cs)
		}
		if c.BrokerCPUCores != -1 || c.BrokerPeakRSSBytes != 0 {
			t.Errorf("%s: broker figures without a broker pid: cpu %v rss %d", c.Name(), c.BrokerCPUCores, c.BrokerPeakRSSBytes)
		}
	}
	if !strings.Contains(progress.String(), "consumed 2,001 records") {
		t.Errorf("progress lacks the consume summary:\n%s", progress.String())
	}
}

func TestRunDurationModeExcludesWarmup(t *testing.T) {
	cfg := tinyConfig(startBroker(t))
	cfg.Acks = []Acks{AcksAll}
	cfg.Records = 0
	cfg.Warmup, cfg.Duration = 200*time.Millisecond, 300*time.Millisecond
	cfg.ProgressInterval = 100 * time.Millisecond
	cfg.BrokerPID = os.Getpid() // any live process: exercises sampling
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	rep, err := Run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	c := rep.Cells[0]
	if c.Failed() {
		t.Fatalf("cell failed: %s", c.Error)
	}
	if c.Produce.Records <= 0 || c.Produce.Records >= c.Produce.TotalAcked {
		t.Errorf("measured %d of %d acknowledged: the warm-up must be produced but not counted",
			c.Produce.Records, c.Produce.TotalAcked)
	}
	if c.Consume.Records != c.Produce.TotalAcked {
		t.Errorf("consumed %d, acknowledged %d", c.Consume.Records, c.Produce.TotalAcked)
	}
	if c.Produce.Seconds < 0.3 {
		t.Errorf("measured window %.3fs, want >= the 0.3s duration", c.Produce.Seconds)
	}
	if c.BrokerPeakRSSBytes <= 0 || rep.BrokerPeakRSSBytes <= 0 || c.BrokerCPUCores < 0 {
		t.Errorf("sampled process figures missing: cell rss %d, run rss %d, cpu %v",
			c.BrokerPeakRSSBytes, rep.BrokerPeakRSSBytes, c.BrokerCPUCores)
	}
	for _, phase := range []string{"warm-up", "produce", "consume"} {
		if !strings.Contains(progress.String(), "100 B acks=all] "+phase) {
			t.Errorf("no %s progress line:\n%s", phase, progress.String())
		}
	}
}

func TestMainUnreachableBrokerFailsFast(t *testing.T) {
	// A port that was just free: nothing listens there.
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := MainEnv(context.Background(), []string{"--bootstrap-server", addr, "--timeout", "1s"},
		Env{Stdout: &stdout, Stderr: &stderr})
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitFailure, stderr.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("took %s to give up, want about --timeout", took)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "kafki-perf: broker unreachable at "+addr) {
		t.Fatalf("last stderr line = %q", last)
	}
	if stdout.Len() != 0 {
		t.Fatalf("stdout = %q, want nothing", stdout.String())
	}
}

func TestMainBadFlagsExitUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := MainEnv(context.Background(), []string{"--partitions", "0"}, Env{Stdout: &stdout, Stderr: &stderr})
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	want := "kafki-perf: --partitions 0: must be between 1 and 10000 (see 'kafki-perf --help')\n"
	if stderr.String() != want {
		t.Fatalf("stderr = %q, want %q", stderr.String(), want)
	}
}

func TestMainWritesTableAndJSON(t *testing.T) {
	addr := startBroker(t)
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	code := MainEnv(context.Background(), []string{"--bootstrap-server", addr, "--records", "300",
		"--acks", "1", "--record-size", "64", "--json", jsonPath, "--progress-interval", "0"},
		Env{Stdout: &stdout, Stderr: &stderr})
	if code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "64 B") || !strings.Contains(stdout.String(), " ok") {
		t.Fatalf("table:\n%s", stdout.String())
	}
	if _, err := os.Stat(jsonPath); err != nil {
		t.Fatalf("json not written: %v", err)
	}
}

func TestRunRejectsAbsentBrokerPID(t *testing.T) {
	cfg := tinyConfig("127.0.0.1:9")
	cfg.BrokerPID = 1 << 30 // above pid_max: no such process
	_, err := Run(context.Background(), cfg, &bytes.Buffer{})
	if !errors.Is(err, ErrNoProcInfo) || !strings.Contains(err.Error(), "--broker-pid") {
		t.Fatalf("err = %v, want an ErrNoProcInfo naming --broker-pid", err)
	}
}
