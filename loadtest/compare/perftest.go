package compare

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrNoPerfSummary means kafka-producer-perf-test ended without its
// summary line.
var ErrNoPerfSummary = errors.New("no summary line from ProducerPerformance")

// PerfTestResult is the summary line of Kafka's ProducerPerformance
// (kafka-producer-perf-test), latencies in ms.
type PerfTestResult struct {
	Records       int64   `json:"records"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"` // MiB/s, as the tool counts
	AvgMs         float64 `json:"avg_ms"`
	MaxMs         float64 `json:"max_ms"`
	P50Ms         float64 `json:"p50_ms"`
	P95Ms         float64 `json:"p95_ms"`
	P99Ms         float64 `json:"p99_ms"`
	P999Ms        float64 `json:"p99_9_ms"`
}

// perfSummary matches e.g. "500000 records sent, 49358.3 records/sec
// (48.20 MB/sec), 289.05 ms avg latency, 520.00 ms max latency, 281 ms
// 50th, 480 ms 95th, 510 ms 99th, 519 ms 99.9th."
var perfSummary = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th`)

// ParsePerfTest extracts the final summary from ProducerPerformance's
// output (the last line that matches; progress lines lack percentiles).
func ParsePerfTest(out string) (PerfTestResult, error) {
	all := perfSummary.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return PerfTestResult{}, fmt.Errorf("%w: %s", ErrNoPerfSummary, lastLine(out))
	}
	m := all[len(all)-1]
	f := func(i int) float64 {
		v, _ := strconv.ParseFloat(m[i], 64) // the pattern admits only numbers
		return v
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return PerfTestResult{Records: n, RecordsPerSec: f(2), MBPerSec: f(3), AvgMs: f(4), MaxMs: f(5),
		P50Ms: f(6), P95Ms: f(7), P99Ms: f(8), P999Ms: f(9)}, nil
}

// PerfTestOptions are one run of ProducerPerformance.
type PerfTestOptions struct {
	Kafka      KafkaOptions // LibDir and Java are used
	Bootstrap  string
	Topic      string // must exist
	Records    int64
	RecordSize int
	Acks       string
	Timeout    time.Duration
}

// RunPerfTest runs org.apache.kafka.tools.ProducerPerformance unthrottled
// with the Java producer's defaults except bootstrap.servers and acks.
func RunPerfTest(ctx context.Context, o PerfTestOptions) (PerfTestResult, error) {
	cp, err := o.Kafka.classpath()
	if err != nil {
		return PerfTestResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.Kafka.java(), "-Xmx512M", "-cp", cp, "org.apache.kafka.tools.ProducerPerformance",
		"--topic", o.Topic,
		"--num-records", strconv.FormatInt(o.Records, 10),
		"--record-size", strconv.Itoa(o.RecordSize),
		"--throughput", "-1",
		"--producer-props", "bootstrap.servers="+o.Bootstrap, "acks="+o.Acks)
	cmd.SysProcAttr = childProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return PerfTestResult{}, fmt.Errorf("ProducerPerformance: %w: %s", err, lastLine(strings.TrimSpace(string(out))))
	}
	return ParsePerfTest(string(out))
}
