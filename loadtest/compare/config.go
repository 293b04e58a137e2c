package compare

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kafki/kafki/loadtest"
)

// ErrUsage marks an invalid command line.
var ErrUsage = errors.New("usage")

var errHelp = errors.New("help shown")

// IsHelp reports whether err means --help was shown.
func IsHelp(err error) bool { return errors.Is(err, errHelp) }

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Setups.
const (
	SetupSingle = "single" // one node, replication factor 1
	SetupRF3    = "rf3"    // three nodes on loopback, replication factor 3
)

// KafkaVersion is the Apache Kafka release loadtest/kafka/pom.xml fetches.
const KafkaVersion = "4.3.1"

// KafkaLibsEnv overrides the directory of the Kafka jars.
const KafkaLibsEnv = "KAFKI_KAFKA_LIBS"

// DefaultKafkaLibs is where make kafka-deps puts the jars:
// $HOME/.cache/kafki/kafka-server-<version>/libs.
func DefaultKafkaLibs() string {
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".cache", "kafki", "kafka-server-"+KafkaVersion, "libs")
}

// Config is one comparison run.
type Config struct {
	KafkiBin string
	// KafkiClusterBin is kafki-dev-cluster, which runs the three-node
	// Kafki cluster (moto_server as DynamoDB plus brokerd processes).
	KafkiClusterBin string
	KafkaLibs       string
	Java            string
	JVMOpts         []string
	Fsync           Fsync
	Setups          []string
	Workloads       []string
	Partitions      int
	RecordSize      loadtest.SizeDist
	Producers       int
	Consumers       int
	Duration        time.Duration
	Warmup          time.Duration
	E2ERate         float64 // records/s of the e2e workload (a latency test needs a fixed rate)
	Preload         int64
	PerfRecords     int64 // ProducerPerformance records; 0 skips it
	StartTimeout    time.Duration
	OutDir          string
	Progress        time.Duration
	// TransactionalID and TransactionRecords make the produce and e2e
	// workloads transactional, Isolation is every consumer's isolation
	// level (loadtest's flags of the same names).
	TransactionalID    string
	TransactionRecords int
	Isolation          string
}

// DefaultConfig is a comparison that takes about four minutes on two
// cores.
func DefaultConfig() Config {
	size, _ := loadtest.ParseSizeDist("1024")
	return Config{
		KafkiBin:        "bin/brokerd",
		KafkiClusterBin: "bin/kafki-dev-cluster",
		KafkaLibs:       DefaultKafkaLibs(),
		JVMOpts:         DefaultKafkaJVMOpts(),
		Fsync:           FsyncPageCache,
		Setups:          []string{SetupSingle, SetupRF3},
		Workloads:       []string{loadtest.WorkloadProduce, loadtest.WorkloadConsume, loadtest.WorkloadE2E},
		Partitions:      3,
		RecordSize:      size,
		Producers:       1,
		Consumers:       1,
		Duration:        10 * time.Second,
		Warmup:          5 * time.Second, // the JVM's JIT needs a few seconds

		E2ERate:      20_000,
		Preload:      500_000,
		PerfRecords:  500_000,
		StartTimeout: 90 * time.Second,
		OutDir:       "bin/bench-compare",
		Progress:     time.Second,
		Isolation:    loadtest.IsolationReadUncommitted,
	}
}

// ParseArgs parses the flags of "loadtest compare".
func ParseArgs(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	cfg := DefaultConfig()
	if getenv != nil {
		if v := getenv(KafkaLibsEnv); v != "" {
			cfg.KafkaLibs = v
		}
	}
	fs := flag.NewFlagSet("loadtest compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.KafkiBin, "kafki-bin", cfg.KafkiBin, "brokerd binary")
	fs.StringVar(&cfg.KafkiClusterBin, "kafki-cluster-bin", cfg.KafkiClusterBin, "kafki-dev-cluster binary, which runs Kafki's three-node setup (needs moto_server)")
	fs.StringVar(&cfg.KafkaLibs, "kafka-libs", cfg.KafkaLibs, "directory of the Apache Kafka jars (env "+KafkaLibsEnv+"; make kafka-deps fills it)")
	fs.StringVar(&cfg.Java, "java", cfg.Java, "java binary (default: java on PATH)")
	jvm := fs.String("kafka-jvm-opts", strings.Join(cfg.JVMOpts, " "), "JVM options of each Kafka node (Kafka's own script defaults)")
	fsync := fs.String("fsync", string(cfg.Fsync), "fsync policy of both brokers: page-cache or per-ack")
	setups := fs.String("setups", strings.Join(cfg.Setups, ","), "setups: single (1 node, RF 1), rf3 (3 nodes, RF 3)")
	workloads := fs.String("workloads", strings.Join(cfg.Workloads, ","), "workloads: produce, consume, e2e")
	fs.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of every topic")
	size := fs.String("record-size", cfg.RecordSize.String(), "record size (as loadtest --record-size)")
	fs.IntVar(&cfg.Producers, "producers", cfg.Producers, "producer clients")
	fs.IntVar(&cfg.Consumers, "consumers", cfg.Consumers, "consumer clients")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured period of produce and e2e")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up before each measured period")
	fs.Float64Var(&cfg.E2ERate, "e2e-rate", cfg.E2ERate, "target records/s of the e2e workload")
	fs.Int64Var(&cfg.Preload, "preload", cfg.Preload, "records the consume workload reads")
	fs.Int64Var(&cfg.PerfRecords, "perf-records", cfg.PerfRecords, "records of each kafka-producer-perf-test run (0: skip)")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", cfg.StartTimeout, "bound on starting a cluster")
	fs.StringVar(&cfg.OutDir, "out", cfg.OutDir, "directory for the reports and charts")
	fs.DurationVar(&cfg.Progress, "progress", cfg.Progress, "progress interval (0: none)")
	fs.StringVar(&cfg.TransactionalID, "transactional-id", cfg.TransactionalID, "produce and e2e: transactional producers with this id prefix (as loadtest --transactional-id)")
	fs.IntVar(&cfg.TransactionRecords, "transaction-records", cfg.TransactionRecords, "with --transactional-id: records per transaction")
	fs.StringVar(&cfg.Isolation, "isolation", cfg.Isolation, "consumers' isolation level: read_uncommitted or read_committed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(out, "Usage: loadtest compare [--flag=value ...]\n\nRuns the loadtest workloads against Kafki and Apache Kafka and prints Kafki/Kafka ratios.\n\nFlags:")
			fs.SetOutput(out)
			fs.PrintDefaults()
			return cfg, errHelp
		}
		return cfg, usagef("%s", err.Error())
	}
	if fs.NArg() > 0 {
		return cfg, usagef("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.Fsync, err = ParseFsync(*fsync); err != nil {
		return cfg, usagef("%s", err.Error())
	}
	if cfg.RecordSize, err = loadtest.ParseSizeDist(*size); err != nil {
		return cfg, usagef("%s", err.Error())
	}
	cfg.JVMOpts = strings.Fields(*jvm)
	cfg.Setups = splitList(*setups)
	cfg.Workloads = splitList(*workloads)
	return cfg, cfg.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Validate checks the configuration, including each workload's loadtest
// configuration.
func (c Config) Validate() error {
	if len(c.Setups) == 0 || len(c.Workloads) == 0 {
		return usagef("--setups and --workloads cannot be empty")
	}
	for _, s := range c.Setups {
		if s != SetupSingle && s != SetupRF3 {
			return usagef("unknown setup %q: want single or rf3", s)
		}
	}
	if c.PerfRecords < 0 {
		return usagef("--perf-records cannot be negative")
	}
	if c.StartTimeout <= 0 {
		return usagef("--start-timeout must be positive")
	}
	for _, w := range c.Workloads {
		lc := c.loadtestConfig(w, SetupRF3, "x", "127.0.0.1:9092")
		if err := lc.Validate(); err != nil {
			return usagef("%s", strings.TrimPrefix(err.Error(), loadtest.ErrUsage.Error()+": "))
		}
	}
	return nil
}

// loadtestConfig is the loadtest run of workload w in setup s, the same
// for both targets apart from label and bootstrap.
func (c Config) loadtestConfig(w, setup, label, bootstrap string) loadtest.Config {
	lc := loadtest.DefaultConfig()
	lc.Workload = w
	lc.Label = label + " " + setup
	lc.Bootstrap = bootstrap
	lc.Topic = fmt.Sprintf("compare-%s-%s-%d", w, setup, time.Now().UnixNano())
	lc.Partitions = c.Partitions
	lc.ReplicationFactor = 1
	if setup == SetupRF3 {
		lc.ReplicationFactor = 3
	}
	lc.DeleteTopic = true
	lc.RecordSize = c.RecordSize
	lc.Producers = c.Producers
	lc.Consumers = c.Consumers
	lc.Duration = c.Duration
	lc.Warmup = c.Warmup
	lc.Preload = c.Preload
	lc.Progress = c.Progress
	lc.Timeout = 30 * time.Second
	lc.ConsumeTimeout = 60 * time.Second
	lc.JSONPath, lc.SVGPath = "", ""
	if w == loadtest.WorkloadE2E {
		lc.Rate = c.E2ERate
	}
	// The consume workload's preload is not transactional (loadtest
	// refuses it); its reads take the isolation level all the same.
	if w != loadtest.WorkloadConsume {
		lc.TransactionalID, lc.TransactionRecords = c.TransactionalID, c.TransactionRecords
	}
	lc.Isolation = c.Isolation
	return lc
}
