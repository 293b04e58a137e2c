package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/loadtest"
	"github.com/kafki/kafki/loadtest/brokerproc"
)

// Targets.
const (
	TargetKafki = "kafki"
	TargetKafka = "kafka"
)

// Result is one workload on one target in one setup.
type Result struct {
	Setup    string           `json:"setup"`
	Target   string           `json:"target"`
	Workload string           `json:"workload"`
	Report   *loadtest.Report `json:"report,omitempty"`
	// NotAvailable says why the cell was not measured.
	NotAvailable string `json:"not_available,omitempty"`
	Error        string `json:"error,omitempty"`
}

// PerfTestRun is kafka-producer-perf-test against one target.
type PerfTestRun struct {
	Target             string          `json:"target"`
	Result             *PerfTestResult `json:"result,omitempty"`
	BrokerPeakRSSBytes int64           `json:"broker_peak_rss_bytes,omitempty"`
	Error              string          `json:"error,omitempty"`
}

// Comparison is the whole run, as compare.json holds it.
type Comparison struct {
	Started      time.Time     `json:"started"`
	Seconds      float64       `json:"seconds"`
	Machine      Machine       `json:"machine"`
	KafkaVersion string        `json:"kafka_version"`
	Fsync        string        `json:"fsync"`
	KafkaJVMOpts []string      `json:"kafka_jvm_opts"`
	Results      []Result      `json:"results"`
	PerfTests    []PerfTestRun `json:"perf_tests,omitempty"`
}

// Main runs "loadtest compare" and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseArgs(args, os.Getenv, stdout)
	switch {
	case IsHelp(err):
		return loadtest.ExitOK
	case err != nil:
		fmt.Fprintf(stderr, "loadtest compare: %s (see 'loadtest compare --help')\n",
			loadtest.OneLine(strings.TrimPrefix(err.Error(), ErrUsage.Error()+": ")))
		return loadtest.ExitUsage
	}
	cmp, err := Run(ctx, cfg, stderr)
	if cmp != nil {
		fmt.Fprintln(stdout)
		err = errors.Join(err, WriteRatioTable(stdout, cmp))
		err = errors.Join(err, writeOutputs(cfg.OutDir, cmp))
		fmt.Fprintf(stdout, "\nreports, charts and this table: %s\n", cfg.OutDir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadtest compare: %s\n", loadtest.OneLine(err.Error()))
		return loadtest.ExitFailure
	}
	return loadtest.ExitOK
}

// Run starts each target in each setup, runs the workloads and the
// perf-test, and returns what was measured. A workload that fails is
// recorded in its Result and the run goes on; the error returned joins
// every failure.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Comparison, error) {
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	kopts := KafkaOptions{LibDir: cfg.KafkaLibs, Java: cfg.Java, JVMOpts: cfg.JVMOpts, Fsync: cfg.Fsync, Timeout: cfg.StartTimeout}
	if _, err := kopts.classpath(); err != nil {
		return nil, err
	}
	cmp := &Comparison{
		Started: time.Now().UTC(), Machine: DescribeMachine(ctx, kopts.java()), KafkaVersion: KafkaVersion,
		Fsync: cfg.Fsync.Describe(), KafkaJVMOpts: cfg.JVMOpts,
	}
	fmt.Fprintf(log, "fsync policy: %s\n", cmp.Fsync)
	var errs []error
	for _, setup := range cfg.Setups {
		for _, target := range []string{TargetKafki, TargetKafka} {
			if setup == SetupRF3 && target == TargetKafki && !haveMoto() {
				fmt.Fprintf(log, "== %s, %s: skipped: %s\n", target, setup, ErrNoMoto)
				for _, w := range cfg.Workloads {
					cmp.Results = append(cmp.Results, Result{Setup: setup, Target: target, Workload: w, NotAvailable: NotAvailableNoMoto})
				}
				continue
			}
			if err := runSession(ctx, cfg, kopts, setup, target, cmp, log); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", target, setup, err))
			}
			if ctx.Err() != nil {
				return cmp, errors.Join(append(errs, ctx.Err())...)
			}
		}
	}
	cmp.Seconds = time.Since(cmp.Started).Seconds()
	return cmp, errors.Join(errs...)
}

// haveMoto reports whether moto_server, the Kafki cluster's DynamoDB, is
// installed.
func haveMoto() bool {
	_, err := exec.LookPath(MotoServer)
	return err == nil
}

// cluster is a running target: its bootstrap, processes and stop. pids
// are the broker processes only; their peak RSS is summed.
type cluster struct {
	bootstrap string
	pids      []int
	stop      func() error
}

func startTarget(ctx context.Context, cfg Config, kopts KafkaOptions, setup, target string) (*cluster, error) {
	if target == TargetKafki && setup == SetupRF3 {
		k, err := StartKafkiCluster(ctx, KafkiClusterOptions{DevCluster: cfg.KafkiClusterBin, Brokerd: cfg.KafkiBin,
			Brokers: 3, Fsync: cfg.Fsync, Dir: cfg.OutDir, Timeout: cfg.StartTimeout})
		if err != nil {
			return nil, fmt.Errorf("start kafki cluster: %w", err)
		}
		return &cluster{bootstrap: k.Bootstrap(), pids: k.PIDs(), stop: func() error { return k.Stop(60 * time.Second) }}, nil
	}
	if target == TargetKafki {
		b, err := StartKafki(ctx, cfg.KafkiBin, cfg.OutDir, cfg.Fsync, cfg.StartTimeout)
		if err != nil {
			return nil, err
		}
		return &cluster{bootstrap: b.Addr(), pids: []int{b.PID()}, stop: func() error { return b.Stop(30 * time.Second) }}, nil
	}
	kopts.Nodes = 1
	if setup == SetupRF3 {
		kopts.Nodes = 3
	}
	k, err := StartKafka(ctx, kopts)
	if err != nil {
		return nil, err
	}
	return &cluster{bootstrap: k.Bootstrap(), pids: k.PIDs(), stop: func() error { return k.Stop(30 * time.Second) }}, nil
}

// runSession starts one target and runs every workload against it.
func runSession(ctx context.Context, cfg Config, kopts KafkaOptions, setup, target string, cmp *Comparison, log io.Writer) (err error) {
	fmt.Fprintf(log, "== %s, %s: starting\n", target, setup)
	cl, err := startTarget(ctx, cfg, kopts, setup, target)
	if err != nil {
		for _, w := range cfg.Workloads {
			cmp.Results = append(cmp.Results, Result{Setup: setup, Target: target, Workload: w, Error: err.Error()})
		}
		return err
	}
	defer func() { err = errors.Join(err, cl.stop()) }()
	var errs []error
	for _, w := range cfg.Workloads {
		lc := cfg.loadtestConfig(w, setup, target, cl.bootstrap)
		lc.BrokerPIDs = cl.pids
		rep, rerr := loadtest.Run(ctx, lc, log)
		res := Result{Setup: setup, Target: target, Workload: w, Report: rep}
		if rerr != nil {
			res.Error = rerr.Error()
			errs = append(errs, fmt.Errorf("%s: %w", w, rerr))
		}
		if rep != nil {
			base := filepath.Join(cfg.OutDir, fmt.Sprintf("%s-%s-%s", setup, target, w))
			errs = append(errs, loadtest.WriteSummary(log, rep), loadtest.WriteJSON(base+".json", rep), loadtest.WriteSVGFile(base+".svg", rep))
		}
		cmp.Results = append(cmp.Results, res)
		if ctx.Err() != nil {
			break
		}
	}
	if setup == SetupSingle && cfg.PerfRecords > 0 && ctx.Err() == nil {
		pt := runPerfTest(ctx, cfg, kopts, target, cl, log)
		cmp.PerfTests = append(cmp.PerfTests, pt)
		if pt.Error != "" {
			errs = append(errs, fmt.Errorf("perf-test: %s", pt.Error))
		}
	}
	return errors.Join(errs...)
}

// runPerfTest runs kafka-producer-perf-test (acks=all, the Java
// producer's defaults otherwise) on a fresh topic of the target.
func runPerfTest(ctx context.Context, cfg Config, kopts KafkaOptions, target string, cl *cluster, log io.Writer) PerfTestRun {
	run := PerfTestRun{Target: target}
	topic := fmt.Sprintf("perf-test-%d", time.Now().UnixNano())
	if err := createTopic(ctx, cl.bootstrap, topic, cfg.Partitions, 1); err != nil {
		run.Error = err.Error()
		return run
	}
	fmt.Fprintf(log, "== %s: kafka-producer-perf-test, %d records of %d B, acks=all\n", target, cfg.PerfRecords, cfg.RecordSize.Max())
	var samplers []*brokerproc.RSSSampler
	for _, pid := range cl.pids {
		samplers = append(samplers, brokerproc.StartRSSSampler(pid, 100*time.Millisecond))
	}
	res, err := RunPerfTest(ctx, PerfTestOptions{Kafka: kopts, Bootstrap: cl.bootstrap, Topic: topic,
		Records: cfg.PerfRecords, RecordSize: cfg.RecordSize.Max(), Acks: "all", Timeout: 5 * time.Minute})
	for _, s := range samplers {
		s.Stop()
		run.BrokerPeakRSSBytes += s.Peak()
	}
	if err != nil {
		run.Error = err.Error()
		return run
	}
	fmt.Fprintf(log, "   %d records, %.0f rec/s, %.1f MB/s, p50 %.0f ms, p99 %.0f ms, p99.9 %.0f ms\n",
		res.Records, res.RecordsPerSec, res.MBPerSec, res.P50Ms, res.P99Ms, res.P999Ms)
	run.Result = &res
	return run
}

// createTopic creates topic with the given partitions and replication
// factor (1 for a single node, 3 for the three-node setup: a broker's
// default would not say which the figures are for).
func createTopic(ctx context.Context, bootstrap, topic string, partitions, replicationFactor int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.DisableClientMetrics())
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(partitions), int16(replicationFactor), nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// writeOutputs writes compare.json and compare.md (the ratio table).
func writeOutputs(dir string, cmp *Comparison) error {
	var md strings.Builder
	if err := WriteRatioTable(&md, cmp); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "compare.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return writeJSON(filepath.Join(dir, "compare.json"), cmp)
}
