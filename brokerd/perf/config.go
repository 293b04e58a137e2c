package perf

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/kcodec"
)

// ErrUsage marks an invalid command line: an unknown flag, a malformed or
// out-of-range value, or flags that contradict each other. It is detected
// before anything is started or connected to.
var ErrUsage = errors.New("usage")

// errHelp is returned by ParseFlags after --help printed the usage.
var errHelp = errors.New("help shown")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Defaults of the flags. The default matrix (2 sizes × 2 acks modes, 2 s
// warm-up + 10 s produce + at most 15 s consume per cell) finishes in under
// two minutes even when consumption is slow.
const (
	DefaultBootstrap          = "localhost:9092"
	BootstrapEnv              = "KAFKI_BOOTSTRAP_SERVER"
	DefaultPartitions         = 3
	DefaultLinger             = 5 * time.Millisecond
	DefaultBatchMaxBytes      = 1 << 20
	DefaultProducers          = 1
	DefaultDuration           = 10 * time.Second
	DefaultWarmup             = 2 * time.Second
	DefaultMaxBufferedRecords = 10000
	DefaultConsumeTimeout     = 15 * time.Second
	DefaultTimeout            = 10 * time.Second
	DefaultProgressInterval   = time.Second
	DefaultMaxInflight        = 5
)

// Limits on flag values: beyond them a run is certainly a typo, and the
// bounds keep every size within what the wire format and kgo accept.
const (
	maxRecordSize = 1 << 20
	minBatchBytes = 512
	maxBatchBytes = 1 << 30
	maxPartitions = 10000
	maxProducers  = 64
	maxBuffered   = 10_000_000
	// batchOverhead is a generous bound on a record batch's header plus one
	// record's framing, so that every record fits in one batch.
	batchOverhead = 128
)

// Acks is the acknowledgement mode of a cell.
type Acks int8

const (
	// AcksLeader is acks=1: the leader answers after its own append.
	// Idempotence is off (kgo requires that for acks other than all).
	AcksLeader Acks = 1
	// AcksAll is acks=all (-1): the leader answers once every in-sync
	// replica has the batch. Idempotent writes stay on, kgo's default.
	AcksAll Acks = -1
)

// String returns the form used on the command line and in reports.
func (a Acks) String() string {
	if a == AcksAll {
		return "all"
	}
	return strconv.Itoa(int(a))
}

func parseAcks(s string) (Acks, error) {
	switch strings.TrimSpace(s) {
	case "1":
		return AcksLeader, nil
	case "all", "-1":
		return AcksAll, nil
	}
	return 0, fmt.Errorf("acks %q: must be 1 or all", s)
}

// compressionNames are the accepted --compression values.
var compressionNames = kcodec.Names

// mustCodec maps a validated --compression value to kgo's codec.
func mustCodec(name string) kgo.CompressionCodec {
	c, _ := kcodec.Codec(name) // validated with the other options
	return c
}

// Config is one benchmark run. ParseFlags fills and validates it; Run
// expects a Config that passed Validate.
type Config struct {
	// Bootstrap is the host:port of a running broker. Empty when
	// SpawnBroker is set.
	Bootstrap string
	// SpawnBroker is the path of a brokerd binary to start on a free
	// loopback port with a fresh data directory, and stop at the end.
	SpawnBroker string
	// BrokerPID, when non-zero with Bootstrap, is the broker's process id,
	// so its memory and CPU can be sampled (same machine only).
	BrokerPID int

	RecordSizes []int  // value sizes in bytes; one matrix axis
	Acks        []Acks // acks modes; the other matrix axis
	Partitions  int    // partitions of each cell's fresh topic

	Linger             time.Duration // kgo.ProducerLinger
	BatchMaxBytes      int           // kgo.ProducerBatchMaxBytes
	Producers          int           // kgo clients producing concurrently
	Compression        string        // one of compressionNames
	MaxBufferedRecords int           // per producer client: kgo.MaxBufferedRecords
	MaxInflight        int           // produce requests in flight per broker with acks=1

	// Exactly one of Duration and Records drives the produce phase. With
	// Duration, Warmup runs first and is excluded from the figures (but its
	// records are consumed and verified like the others).
	Duration time.Duration
	Warmup   time.Duration
	Records  int64

	ConsumeTimeout   time.Duration // bound on each consume phase
	Timeout          time.Duration // bound on connecting, admin requests and broker start
	ProgressInterval time.Duration // progress lines while running; 0 disables
	KeepTopics       bool          // keep each cell's topic instead of deleting it

	JSONPath   string // write machine-readable results here when set
	CPUProfile string // write kafki-perf's own CPU profile here when set
}

// Cell is one point of the matrix.
type Cell struct {
	RecordSize int
	Acks       Acks
}

// String names the cell in progress lines: "100 B acks=1".
func (c Cell) String() string {
	return strconv.Itoa(c.RecordSize) + " B acks=" + c.Acks.String()
}

// Cells returns the matrix in run order: sizes outer, acks inner.
func (c Config) Cells() []Cell {
	cells := make([]Cell, 0, len(c.RecordSizes)*len(c.Acks))
	for _, size := range c.RecordSizes {
		for _, acks := range c.Acks {
			cells = append(cells, Cell{RecordSize: size, Acks: acks})
		}
	}
	return cells
}

// DefaultConfig returns the configuration of a run with no flags.
func DefaultConfig() Config {
	return Config{
		Bootstrap:          DefaultBootstrap,
		RecordSizes:        []int{100, 1024},
		Acks:               []Acks{AcksLeader, AcksAll},
		Partitions:         DefaultPartitions,
		Linger:             DefaultLinger,
		BatchMaxBytes:      DefaultBatchMaxBytes,
		Producers:          DefaultProducers,
		Compression:        "none",
		MaxBufferedRecords: DefaultMaxBufferedRecords,
		MaxInflight:        DefaultMaxInflight,
		Duration:           DefaultDuration,
		Warmup:             DefaultWarmup,
		ConsumeTimeout:     DefaultConsumeTimeout,
		Timeout:            DefaultTimeout,
		ProgressInterval:   DefaultProgressInterval,
	}
}

// Validate checks every field and their combinations. Errors wrap ErrUsage.
func (c Config) Validate() error {
	switch {
	case c.Bootstrap != "" && c.SpawnBroker != "":
		return usagef("--bootstrap-server and --spawn-broker are mutually exclusive")
	case c.Bootstrap == "" && c.SpawnBroker == "":
		return usagef("one of --bootstrap-server and --spawn-broker is required")
	case c.BrokerPID < 0:
		return usagef("--broker-pid %d: must be positive", c.BrokerPID)
	case c.BrokerPID != 0 && c.SpawnBroker != "":
		return usagef("--broker-pid is only for --bootstrap-server (a spawned broker is sampled anyway)")
	}
	if c.Bootstrap != "" {
		if err := checkHostPorts(c.Bootstrap); err != nil {
			return usagef("--bootstrap-server: %v", err)
		}
	}
	if len(c.RecordSizes) == 0 {
		return usagef("--record-size: at least one size is required")
	}
	for _, s := range c.RecordSizes {
		if s < 1 || s > maxRecordSize {
			return usagef("--record-size %d: must be between 1 and %d", s, maxRecordSize)
		}
		if s+batchOverhead > c.BatchMaxBytes {
			return usagef("--record-size %d does not fit in --batch-max-bytes %d", s, c.BatchMaxBytes)
		}
	}
	if len(c.Acks) == 0 {
		return usagef("--acks: at least one mode is required")
	}
	for _, a := range c.Acks {
		if a != AcksLeader && a != AcksAll {
			return usagef("--acks %d: must be 1 or all", a)
		}
	}
	switch {
	case c.Partitions < 1 || c.Partitions > maxPartitions:
		return usagef("--partitions %d: must be between 1 and %d", c.Partitions, maxPartitions)
	case c.Linger < 0 || c.Linger > time.Minute:
		return usagef("--linger %s: must be between 0 and 1m", c.Linger)
	case c.BatchMaxBytes < minBatchBytes || c.BatchMaxBytes > maxBatchBytes:
		return usagef("--batch-max-bytes %d: must be between %d and %d", c.BatchMaxBytes, minBatchBytes, maxBatchBytes)
	case c.Producers < 1 || c.Producers > maxProducers:
		return usagef("--producers %d: must be between 1 and %d", c.Producers, maxProducers)
	case !validCompression(c.Compression):
		return usagef("--compression %q: must be one of %s", c.Compression, strings.Join(compressionNames, ", "))
	case c.MaxBufferedRecords < 1 || c.MaxBufferedRecords > maxBuffered:
		return usagef("--max-buffered-records %d: must be between 1 and %d", c.MaxBufferedRecords, maxBuffered)
	case c.MaxInflight < 1 || c.MaxInflight > 100:
		return usagef("--max-inflight %d: must be between 1 and 100", c.MaxInflight)
	case c.Records < 0:
		return usagef("--records %d: must be positive", c.Records)
	case c.Records == 0 && c.Duration <= 0:
		return usagef("--duration %s: must be positive", c.Duration)
	case c.Records > 0 && c.Duration > 0:
		return usagef("--records and --duration are mutually exclusive")
	case c.Records > 0 && c.Warmup > 0:
		return usagef("--warmup applies only with --duration")
	case c.Records > 0 && c.Records < int64(c.Producers):
		return usagef("--records %d: fewer than --producers %d", c.Records, c.Producers)
	case c.Warmup < 0:
		return usagef("--warmup %s: must not be negative", c.Warmup)
	case c.ConsumeTimeout <= 0:
		return usagef("--consume-timeout %s: must be positive", c.ConsumeTimeout)
	case c.Timeout <= 0:
		return usagef("--timeout %s: must be positive", c.Timeout)
	case c.ProgressInterval < 0:
		return usagef("--progress-interval %s: must not be negative", c.ProgressInterval)
	}
	return nil
}

func validCompression(name string) bool {
	for _, n := range compressionNames {
		if n == name {
			return true
		}
	}
	return false
}

// checkHostPorts validates a comma-separated host:port list.
func checkHostPorts(list string) error {
	for _, hp := range strings.Split(list, ",") {
		hp = strings.TrimSpace(hp)
		i := strings.LastIndexByte(hp, ':')
		if i <= 0 || i == len(hp)-1 {
			return fmt.Errorf("%q is not host:port", hp)
		}
		port, err := strconv.Atoi(hp[i+1:])
		if err != nil || port < 1 || port > 65535 {
			return fmt.Errorf("%q: port must be 1-65535", hp)
		}
	}
	return nil
}

// Seeds returns the bootstrap addresses as kgo.SeedBrokers wants them.
func (c Config) Seeds() []string {
	var seeds []string
	for _, hp := range strings.Split(c.Bootstrap, ",") {
		if hp = strings.TrimSpace(hp); hp != "" {
			seeds = append(seeds, hp)
		}
	}
	return seeds
}

// intList is a flag.Value for a comma-separated list of sizes.
type intList struct{ v *[]int }

func (l intList) String() string {
	if l.v == nil {
		return ""
	}
	parts := make([]string, len(*l.v))
	for i, n := range *l.v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (l intList) Set(s string) error {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("%q is not a number", part)
		}
		out = append(out, n)
	}
	*l.v = out
	return nil
}

// acksList is a flag.Value for a comma-separated list of acks modes.
type acksList struct{ v *[]Acks }

func (l acksList) String() string {
	if l.v == nil {
		return ""
	}
	parts := make([]string, len(*l.v))
	for i, a := range *l.v {
		parts[i] = a.String()
	}
	return strings.Join(parts, ",")
}

func (l acksList) Set(s string) error {
	var out []Acks
	for _, part := range strings.Split(s, ",") {
		a, err := parseAcks(part)
		if err != nil {
			return err
		}
		out = append(out, a)
	}
	*l.v = out
	return nil
}

// ParseFlags parses kafki-perf's command line (without the program name)
// into a validated Config. getenv supplies KAFKI_BOOTSTRAP_SERVER (nil
// means unset). --help writes the usage to stdout and returns an error for
// which IsHelp is true; every other error wraps ErrUsage.
func ParseFlags(args []string, getenv func(string) string, stdout io.Writer) (Config, error) {
	cfg := DefaultConfig()
	if getenv != nil {
		if v := strings.TrimSpace(getenv(BootstrapEnv)); v != "" {
			cfg.Bootstrap = v
		}
	}
	fs := flag.NewFlagSet("kafki-perf", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, as one line
	fs.Usage = func() {}

	fs.StringVar(&cfg.Bootstrap, "bootstrap-server", cfg.Bootstrap, "")
	fs.StringVar(&cfg.SpawnBroker, "spawn-broker", "", "")
	fs.IntVar(&cfg.BrokerPID, "broker-pid", 0, "")
	fs.Var(intList{&cfg.RecordSizes}, "record-size", "")
	fs.Var(acksList{&cfg.Acks}, "acks", "")
	fs.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "")
	fs.DurationVar(&cfg.Linger, "linger", cfg.Linger, "")
	fs.IntVar(&cfg.BatchMaxBytes, "batch-max-bytes", cfg.BatchMaxBytes, "")
	fs.IntVar(&cfg.Producers, "producers", cfg.Producers, "")
	fs.StringVar(&cfg.Compression, "compression", cfg.Compression, "")
	fs.IntVar(&cfg.MaxBufferedRecords, "max-buffered-records", cfg.MaxBufferedRecords, "")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", cfg.MaxInflight, "")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "")
	fs.Int64Var(&cfg.Records, "records", 0, "")
	fs.DurationVar(&cfg.ConsumeTimeout, "consume-timeout", cfg.ConsumeTimeout, "")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "")
	fs.DurationVar(&cfg.ProgressInterval, "progress-interval", cfg.ProgressInterval, "")
	fs.BoolVar(&cfg.KeepTopics, "keep-topics", false, "")
	fs.StringVar(&cfg.JSONPath, "json", "", "")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return Config{}, errHelp
		}
		return Config{}, usagef("%s", strings.Replace(err.Error(), " -", " --", 1))
	}
	if fs.NArg() > 0 {
		return Config{}, usagef("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// --spawn-broker replaces the bootstrap default (but not an explicit
	// --bootstrap-server, which Validate rejects as contradictory).
	if set["spawn-broker"] && !set["bootstrap-server"] {
		cfg.Bootstrap = ""
	}
	// --records replaces the time-driven defaults; given together with an
	// explicit --duration or --warmup, Validate reports the contradiction.
	if set["records"] {
		if !set["duration"] {
			cfg.Duration = 0
		}
		if !set["warmup"] {
			cfg.Warmup = 0
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// IsHelp reports whether err is ParseFlags' answer to --help.
func IsHelp(err error) bool { return errors.Is(err, errHelp) }

const usageText = `Usage: kafki-perf [--spawn-broker PATH | --bootstrap-server HOST:PORT] [flags]

Produce/consume throughput benchmark for Kafki (or any Kafka-compatible
broker), through franz-go. Each cell of the matrix (record sizes × acks
modes) creates a fresh topic, produces flat out for --duration after a
--warmup (or exactly --records records), then consumes everything the cell
produced from the beginning and checks that the count read equals the count
acknowledged. Progress goes to stderr; the table of results to stdout.
MB are 10^6 bytes of record values. Latency is per record, from the Produce
call to its acknowledgement.

Broker:
  --spawn-broker PATH        start this brokerd on a free 127.0.0.1 port with a
                             temporary data dir, sample its RSS, stop it at the end
  --bootstrap-server LIST    host:port of a running broker (default localhost:9092,
                             or $KAFKI_BOOTSTRAP_SERVER)
  --broker-pid PID           with --bootstrap-server: sample this local process's
                             RSS and CPU
  --timeout D                bound on connecting, admin requests, broker start (10s)

Matrix and load:
  --record-size LIST         value sizes in bytes (default 100,1024)
  --acks LIST                1 and/or all (default 1,all; all = idempotent writes)
  --partitions N             partitions per cell topic (default 3)
  --duration D               produce time per cell after warm-up (default 10s)
  --warmup D                 unmeasured produce time before each cell (default 2s)
  --records N                produce exactly N records per cell instead of --duration
  --producers N              concurrent kgo producer clients (default 1)
  --linger D                 kgo producer linger (default 5ms)
  --batch-max-bytes N        kgo max record batch size (default 1048576)
  --max-buffered-records N   records in flight per producer client (default 10000)
  --max-inflight N           produce requests in flight per broker, acks=1 only (default 5)
  --compression C            none, gzip, snappy, lz4 or zstd (default none)
  --consume-timeout D        bound on each cell's consume phase (default 15s)

Output:
  --json FILE                write the results as JSON
  --cpuprofile FILE          write kafki-perf's own CPU profile
  --progress-interval D      progress line period, 0 for none (default 1s)
  --keep-topics              keep each cell's topic (default: delete after the cell)

Exit status: 0 when every cell produced without error and read back exactly
what was acknowledged; 1 otherwise or when the broker is unreachable; 2 for
bad flags.

Examples:
  kafki-perf --spawn-broker bin/brokerd
  kafki-perf --bootstrap-server 127.0.0.1:9092 --record-size 1024 --acks all --duration 30s
  kafki-perf --bootstrap-server 127.0.0.1:9092 --records 1000000 --producers 2 --json out.json
`
