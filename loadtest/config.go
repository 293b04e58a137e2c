package loadtest

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUsage marks an invalid command line, detected before anything
// connects: an unknown workload or flag, a malformed or out-of-range value,
// or options that contradict each other.
var ErrUsage = errors.New("usage")

// errHelp is returned by ParseArgs after --help printed the usage.
var errHelp = errors.New("help shown")

// IsHelp reports whether err means --help was asked for (exit 0).
func IsHelp(err error) bool { return errors.Is(err, errHelp) }

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Workload names.
const (
	WorkloadProduce = "produce"
	WorkloadConsume = "consume"
	WorkloadE2E     = "e2e"
)

// Acks values, as on the command line and in Kafka's wire protocol.
const (
	AcksNone   = 0
	AcksLeader = 1
	AcksAll    = -1
)

// Defaults of the options.
const (
	DefaultBootstrap      = "127.0.0.1:9092"
	BootstrapEnv          = "KAFKI_BOOTSTRAP_SERVER"
	DefaultTopic          = "loadtest"
	DefaultPartitions     = 3
	DefaultRecordSize     = "1024"
	DefaultLinger         = 5 * time.Millisecond
	DefaultBatchBytes     = 1 << 20
	DefaultDuration       = 10 * time.Second
	DefaultWarmup         = 2 * time.Second
	DefaultPreload        = 200_000
	DefaultMaxBuffered    = 10_000
	DefaultTimeout        = 10 * time.Second
	DefaultConsumeTimeout = 30 * time.Second
	DefaultJSON           = "loadtest-report.json"
	DefaultSVG            = "loadtest-report.svg"
	DefaultFetchMaxBytes  = 50 << 20 // kgo's default
	DefaultFetchPartBytes = 1 << 20  // kgo's default
)

// Bounds beyond which a value is certainly a typo; they also keep sizes
// within what kgo and the wire format accept.
const (
	maxRecordSize  = 1 << 20
	minBatchBytes  = 1 << 10
	maxBatchBytes  = 64 << 20
	maxPartitions  = 10_000
	maxClients     = 256
	maxBuffered    = 10_000_000
	maxRate        = 100_000_000
	maxFetchBytes  = 1 << 30
	batchOverhead  = 128 // a batch header plus one record's framing, generously
	e2eStampLength = 8   // bytes of intended send time at the start of an e2e value
)

// Config is one load-test run. ParseArgs fills and validates it; Run
// expects a Config that passed Validate.
type Config struct {
	Workload          string
	Bootstrap         string // comma-separated host:port list
	Topic             string
	Partitions        int
	ReplicationFactor int
	// CreateTopic creates Topic (Partitions, ReplicationFactor) when it
	// does not exist; an existing topic is used as it is.
	CreateTopic bool
	// DeleteTopic deletes Topic at the end of the run.
	DeleteTopic bool
	RecordSize  SizeDist
	Keys        KeyDist
	Producers   int
	Consumers   int
	// Rate is the target of records per second over all producers; 0
	// means as fast as the cluster takes them.
	Rate        float64
	Acks        int
	Compression string
	Linger      time.Duration
	BatchBytes  int
	Idempotent  bool
	// MaxBuffered bounds each producer's records in flight (kgo's
	// MaxBufferedRecords): the producer blocks beyond it.
	MaxBuffered int
	// Duration is how long the measured period lasts, Records how many
	// records it holds (over all producers); the first reached ends it.
	// One of them is non-zero.
	Duration time.Duration
	Records  int64
	// Warmup runs the workload, unmeasured, before the measured period.
	Warmup time.Duration
	// Preload is the number of records the consume workload writes,
	// unmeasured, before it reads the whole topic (0: read what is there).
	Preload        int64
	Timeout        time.Duration
	ConsumeTimeout time.Duration
	// Progress is the interval of live progress lines (0: none). The
	// chart's time series uses the same interval (1 s when 0).
	Progress time.Duration
	JSONPath string // "" writes no JSON report
	SVGPath  string // "" writes no chart
	// BrokerPIDs are the broker processes (same machine) whose peak RSS
	// the report includes.
	BrokerPIDs []int
	// Label names the target in reports, e.g. "kafki" or "kafka".
	Label string
	// SpawnBroker is a brokerd binary to start on a free loopback port
	// with a fresh data directory for the run (brokerproc.Spawn), and stop
	// at its end; Bootstrap is then the spawned broker's address and its
	// RSS is sampled. Empty means the cluster at Bootstrap is used.
	SpawnBroker string
	// ReadBack makes the produce workload, once producing ended, read the
	// whole topic back from the offsets the run started at, as fast as it
	// can, and report that as the consume side (what kafki-perf measured).
	ReadBack bool
	// FetchMaxBytes and FetchPartitionBytes bound a consumer's fetch
	// response overall and per partition (kgo.FetchMaxBytes,
	// kgo.FetchMaxPartitionBytes); the defaults are kgo's.
	FetchMaxBytes       int
	FetchPartitionBytes int
	// TransactionalID, when set, makes producer i a transactional
	// producer with id TransactionalID-i that commits every
	// TransactionRecords records (txn.go); Isolation is the consumers'
	// isolation level (read_uncommitted or read_committed).
	TransactionalID    string
	TransactionRecords int
	Isolation          string
	// Security is how clients connect (--security-protocol, --tls-*);
	// security holds its kgo options once Run loaded its files.
	Security Security
	security []kgo.Opt
}

// DefaultConfig is the configuration with every option at its default.
func DefaultConfig() Config {
	size, _ := ParseSizeDist(DefaultRecordSize)
	return Config{
		Workload:          WorkloadProduce,
		Bootstrap:         DefaultBootstrap,
		Topic:             DefaultTopic,
		Partitions:        DefaultPartitions,
		ReplicationFactor: 1,
		CreateTopic:       true,
		RecordSize:        size,
		Keys:              KeyDist{},
		Producers:         1,
		Consumers:         1,
		Acks:              AcksAll,
		Compression:       "none",
		Linger:            DefaultLinger,
		BatchBytes:        DefaultBatchBytes,
		Idempotent:        true,
		MaxBuffered:       DefaultMaxBuffered,
		Duration:          DefaultDuration,
		Warmup:            DefaultWarmup,
		Preload:           DefaultPreload,
		Timeout:           DefaultTimeout,
		ConsumeTimeout:    DefaultConsumeTimeout,
		Progress:          time.Second,
		JSONPath:          DefaultJSON,
		SVGPath:           DefaultSVG,

		FetchMaxBytes:       DefaultFetchMaxBytes,
		FetchPartitionBytes: DefaultFetchPartBytes,
		Security:            Security{Protocol: ProtocolPlaintext},
		Isolation:           IsolationReadUncommitted,
	}
}

// Validate checks the configuration as a whole, one concern at a time:
// the target, the topic and records, the clients, the period.
func (c Config) Validate() error {
	for _, check := range []func() error{c.validateTarget, c.validateRecords, c.validateClients, c.validateProducer, c.validatePeriod, c.validateTxn, c.Security.validate} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateTarget checks the workload and where it runs.
func (c Config) validateTarget() error {
	switch c.Workload {
	case WorkloadProduce, WorkloadConsume, WorkloadE2E:
	default:
		return usagef("unknown workload %q: want produce, consume or e2e", c.Workload)
	}
	if c.ReadBack && c.Workload != WorkloadProduce {
		return usagef("--read-back applies only to the produce workload")
	}
	if err := checkHostPorts(c.Bootstrap); err != nil {
		return err
	}
	for _, pid := range c.BrokerPIDs {
		if pid <= 0 {
			return usagef("--broker-pid %d: must be positive", pid)
		}
	}
	if c.SpawnBroker != "" && len(c.BrokerPIDs) > 0 {
		return usagef("--broker-pid is only for a running broker (a spawned broker is sampled anyway)")
	}
	return nil
}

// validateRecords checks the topic and the records written to it.
func (c Config) validateRecords() error {
	switch {
	case c.Topic == "" || len(c.Topic) > 249:
		return usagef("--topic must be 1 to 249 characters")
	case c.Partitions < 1 || c.Partitions > maxPartitions:
		return usagef("--partitions %d: must be 1..%d", c.Partitions, maxPartitions)
	case c.ReplicationFactor < 1 || c.ReplicationFactor > 32:
		return usagef("--replication-factor %d: must be 1..32", c.ReplicationFactor)
	case c.RecordSize.Max() > maxRecordSize:
		return usagef("--record-size up to %d bytes", maxRecordSize)
	case c.Workload == WorkloadE2E && c.RecordSize.Min() < e2eStampLength:
		return usagef("e2e records carry an %d-byte send time: --record-size must be at least %d", e2eStampLength, e2eStampLength)
	}
	return nil
}

// validateClients checks the number of clients, their rate and the
// consumers' fetch sizes.
func (c Config) validateClients() error {
	switch {
	case c.Producers < 1 || c.Producers > maxClients:
		return usagef("--producers %d: must be 1..%d", c.Producers, maxClients)
	case c.Consumers < 1 || c.Consumers > maxClients:
		return usagef("--consumers %d: must be 1..%d", c.Consumers, maxClients)
	case c.Rate < 0 || c.Rate > maxRate || c.Rate != c.Rate:
		return usagef("--rate %v: must be 0 (unthrottled) or a positive number of records/s up to %d", c.Rate, maxRate)
	case c.FetchMaxBytes < minBatchBytes || c.FetchMaxBytes > maxFetchBytes:
		return usagef("--fetch-max-bytes %d: must be %d..%d", c.FetchMaxBytes, minBatchBytes, maxFetchBytes)
	case c.FetchPartitionBytes < minBatchBytes || c.FetchPartitionBytes > c.FetchMaxBytes:
		return usagef("--fetch-partition-bytes %d: must be %d..--fetch-max-bytes", c.FetchPartitionBytes, minBatchBytes)
	}
	return nil
}

// validateProducer checks the producer client's options.
func (c Config) validateProducer() error {
	switch c.Acks {
	case AcksNone, AcksLeader, AcksAll:
	default:
		return usagef("--acks %d: must be 0, 1 or all", c.Acks)
	}
	switch {
	case c.Idempotent && c.Acks != AcksAll:
		return usagef("--idempotent needs --acks=all (add --idempotent=false)")
	case !validCompression(c.Compression):
		return usagef("unknown compression %q: want one of %s", c.Compression, strings.Join(compressionNames, ", "))
	case c.Linger < 0 || c.Linger > time.Minute:
		return usagef("--linger %s: must be 0..1m", c.Linger)
	case c.BatchBytes < minBatchBytes || c.BatchBytes > maxBatchBytes:
		return usagef("--batch-bytes %d: must be %d..%d", c.BatchBytes, minBatchBytes, maxBatchBytes)
	case c.BatchBytes < c.RecordSize.Max()+batchOverhead:
		return usagef("--batch-bytes %d cannot hold a %d-byte record", c.BatchBytes, c.RecordSize.Max())
	case c.MaxBuffered < 1 || c.MaxBuffered > maxBuffered:
		return usagef("--max-buffered %d: must be 1..%d", c.MaxBuffered, maxBuffered)
	}
	return nil
}

// validatePeriod checks how long the run lasts and its bounds.
func (c Config) validatePeriod() error {
	switch {
	case c.Duration < 0 || c.Records < 0 || c.Warmup < 0 || c.Preload < 0:
		return usagef("--duration, --records, --warmup and --preload cannot be negative")
	case c.Duration == 0 && c.Records == 0:
		return usagef("set --duration or --records")
	case c.Timeout <= 0 || c.ConsumeTimeout <= 0:
		return usagef("--timeout and --consume-timeout must be positive")
	case c.Progress < 0:
		return usagef("--progress cannot be negative")
	}
	return nil
}

// checkHostPorts checks a comma-separated host:port list.
func checkHostPorts(list string) error {
	if strings.TrimSpace(list) == "" {
		return usagef("--bootstrap is empty")
	}
	for _, hp := range strings.Split(list, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(hp))
		if err != nil || host == "" {
			return usagef("--bootstrap %q: want host:port[,host:port...]", list)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return usagef("--bootstrap %q: bad port %q", list, port)
		}
	}
	return nil
}

// Seeds returns the bootstrap list as kgo seed brokers.
func (c Config) Seeds() []string {
	var seeds []string
	for _, hp := range strings.Split(c.Bootstrap, ",") {
		seeds = append(seeds, strings.TrimSpace(hp))
	}
	return seeds
}

// ParseArgs parses "WORKLOAD [--flag=value ...]". getenv supplies the
// bootstrap default (KAFKI_BOOTSTRAP_SERVER); usage goes to out on --help.
func ParseArgs(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	cfg := DefaultConfig()
	if getenv != nil {
		if v := getenv(BootstrapEnv); v != "" {
			cfg.Bootstrap = v
		}
	}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.Bootstrap, "bootstrap", cfg.Bootstrap, "bootstrap servers, host:port[,host:port...] (env "+BootstrapEnv+")")
	fs.StringVar(&cfg.Topic, "topic", cfg.Topic, "topic to use")
	fs.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of the topic when created")
	fs.IntVar(&cfg.ReplicationFactor, "replication-factor", cfg.ReplicationFactor, "replication factor of the topic when created")
	fs.BoolVar(&cfg.CreateTopic, "create-topic", cfg.CreateTopic, "create the topic if it does not exist")
	fs.BoolVar(&cfg.DeleteTopic, "delete-topic", cfg.DeleteTopic, "delete the topic at the end")
	flagFunc(fs, "record-size", DefaultRecordSize, "record value size in bytes: N, MIN-MAX (uniform) or A,B,C (uniform choice)", func(s string) error {
		d, err := ParseSizeDist(s)
		cfg.RecordSize = d
		return err
	})
	flagFunc(fs, "keys", "none", "key distribution: none, uniform:N or zipf:N (N distinct keys)", func(s string) error {
		k, err := ParseKeyDist(s)
		cfg.Keys = k
		return err
	})
	fs.IntVar(&cfg.Producers, "producers", cfg.Producers, "producer clients")
	fs.IntVar(&cfg.Consumers, "consumers", cfg.Consumers, "consumer clients (partitions are split among them)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "target records/s over all producers (0: unthrottled)")
	flagFunc(fs, "acks", "all", "acks: 0, 1 or all", func(s string) (err error) {
		cfg.Acks, err = parseAcks(s)
		return err
	})
	fs.StringVar(&cfg.Compression, "compression", cfg.Compression, "compression: "+strings.Join(compressionNames, ", "))
	fs.DurationVar(&cfg.Linger, "linger", cfg.Linger, "producer linger")
	fs.IntVar(&cfg.BatchBytes, "batch-bytes", cfg.BatchBytes, "largest record batch a producer builds, in bytes")
	fs.BoolVar(&cfg.Idempotent, "idempotent", cfg.Idempotent, "idempotent producer (needs acks=all; default off for other acks)")
	fs.IntVar(&cfg.MaxBuffered, "max-buffered", cfg.MaxBuffered, "records a producer may have in flight before it blocks")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured period (0: until --records)")
	fs.Int64Var(&cfg.Records, "records", cfg.Records, "records in the measured period, over all producers (0: until --duration)")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured warm-up before the measured period")
	fs.Int64Var(&cfg.Preload, "preload", cfg.Preload, "consume workload: records written, unmeasured, before reading the whole topic (0: read what is there)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound on connecting and on topic creation")
	fs.DurationVar(&cfg.ConsumeTimeout, "consume-timeout", cfg.ConsumeTimeout, "bound on reading the last records after producing ends")
	fs.DurationVar(&cfg.Progress, "progress", cfg.Progress, "interval of progress lines (0: none)")
	fs.StringVar(&cfg.JSONPath, "json", cfg.JSONPath, "JSON report path (empty: none)")
	fs.StringVar(&cfg.SVGPath, "svg", cfg.SVGPath, "SVG chart path (empty: none)")
	fs.StringVar(&cfg.Label, "label", cfg.Label, "name of the target in reports")
	fs.StringVar(&cfg.SpawnBroker, "spawn-broker", cfg.SpawnBroker, "start this brokerd on a free 127.0.0.1 port with a temporary data dir for the run, sample its RSS, stop it at the end (instead of --bootstrap)")
	fs.BoolVar(&cfg.ReadBack, "read-back", cfg.ReadBack, "produce workload: then read the whole topic back, flat out, as the consume side")
	fs.IntVar(&cfg.FetchMaxBytes, "fetch-max-bytes", cfg.FetchMaxBytes, "largest fetch response a consumer asks for, in bytes")
	fs.IntVar(&cfg.FetchPartitionBytes, "fetch-partition-bytes", cfg.FetchPartitionBytes, "largest part of a fetch response per partition, in bytes")
	fs.StringVar(&cfg.TransactionalID, "transactional-id", cfg.TransactionalID, "transactional producers: producer i uses the transactional id PREFIX-i (needs --transaction-records)")
	fs.IntVar(&cfg.TransactionRecords, "transaction-records", cfg.TransactionRecords, "with --transactional-id: each producer commits every N records; a record's latency runs to its commit")
	fs.StringVar(&cfg.Isolation, "isolation", cfg.Isolation, "consumers' isolation level: read_uncommitted or read_committed")
	cfg.Security.bind(fs)
	flagFunc(fs, "broker-pid", "", "comma-separated broker process ids to sample for peak RSS", func(s string) (err error) {
		cfg.BrokerPIDs, err = parsePIDs(s)
		return err
	})

	if len(args) == 0 {
		return cfg, usagef("missing workload: produce, consume or e2e")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		writeUsage(out, fs)
		return cfg, errHelp
	}
	if strings.HasPrefix(args[0], "-") {
		return cfg, usagef("missing workload before %s: produce, consume or e2e", args[0])
	}
	cfg.Workload = args[0]
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(out, fs)
			return cfg, errHelp
		}
		return cfg, usagef("%s", err.Error())
	}
	if fs.NArg() > 0 {
		return cfg, usagef("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["idempotent"] && cfg.Acks != AcksAll {
		cfg.Idempotent = false
	}
	if set["spawn-broker"] && set["bootstrap"] {
		return cfg, usagef("--bootstrap and --spawn-broker are mutually exclusive")
	}
	return cfg, cfg.Validate()
}

// parseAcks reads --acks: 0, 1, or all (also -1).
func parseAcks(s string) (int, error) {
	switch strings.TrimSpace(s) {
	case "0":
		return AcksNone, nil
	case "1":
		return AcksLeader, nil
	case "all", "-1":
		return AcksAll, nil
	}
	return 0, fmt.Errorf("want 0, 1 or all")
}

// parsePIDs reads --broker-pid: comma-separated process ids.
func parsePIDs(s string) ([]int, error) {
	var pids []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("not a process id")
		}
		pids = append(pids, n)
	}
	return pids, nil
}

// flagFunc is flag.Func with a default shown in the usage; the default is
// applied by DefaultConfig, not by parsing it again.
func flagFunc(fs *flag.FlagSet, name, def, usage string, set func(string) error) *flag.Flag {
	fs.Func(name, usage, set)
	f := fs.Lookup(name)
	f.DefValue = def
	return f
}

func writeUsage(out io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(out, `Usage: loadtest WORKLOAD [--flag=value ...]
       loadtest compare [--flag=value ...]   (Kafki vs Apache Kafka; see loadtest compare --help)

Workloads:
  produce   producers write records; latency = ack time - intended send time
  consume   --preload records are written, then consumers read the whole topic
  e2e       produce and consume at once; latency = receive time - intended send time

Flags:`)
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(out, "  --%s%s\n      %s\n", f.Name, def, f.Usage)
	})
}
