// Package config parses and validates brokerd's configuration.
//
// Every setting is a command-line flag and an environment variable: flag
// --log.segment.bytes is KAFKI_LOG_SEGMENT_BYTES (upper case, dots and dashes
// become underscores, KAFKI_ prefix). A flag given on the command line wins
// over the environment, which wins over the built-in default. Load validates
// everything before the broker opens a file or a socket, so a bad value fails
// fast with one line that names the setting.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TimestampType is a topic's message.timestamp.type.
type TimestampType string

const (
	CreateTime    TimestampType = "CreateTime"
	LogAppendTime TimestampType = "LogAppendTime"
)

// Config is the whole broker configuration. Field comments give the flag
// name; see Flags for defaults and help text.
type Config struct {
	NodeID         int32  // node.id
	ClusterID      string // cluster.id
	Listen         string // listen: host:port the Kafka listener binds
	AdvertisedAddr string // advertised.listener: host:port given to clients in Metadata
	DataDir        string // data.dir
	MetricsListen  string // metrics.listen: host:port for /metrics, empty disables
	LogLevel       string // log.level
	LogFormat      string // log.format: text or json

	AutoCreateTopics  bool  // auto.create.topics.enable
	DefaultPartitions int32 // num.partitions
	MaxPartitions     int32 // max.partitions.per.topic: guards against typos like 100000

	// Topic defaults (Kafka's log.* broker settings).
	SegmentBytes       int64         // log.segment.bytes
	SegmentMs          time.Duration // log.roll.ms
	RetentionBytes     int64         // log.retention.bytes
	RetentionMs        time.Duration // log.retention.ms (negative = forever)
	IndexIntervalBytes int           // log.index.interval.bytes
	MaxMessageBytes    int32         // message.max.bytes
	TimestampType      TimestampType // log.message.timestamp.type

	// Flush policy, broker-wide.
	FlushIntervalMs time.Duration // log.flush.interval.ms (0 = never by time)
	FlushBytes      int64         // log.flush.interval.bytes (0 = never by size)
	FlushOnAck      bool          // log.flush.on.ack: fsync before answering acks=all

	RetentionCheckInterval time.Duration // log.retention.check.interval.ms

	// Transactions (Kafka's transaction.* settings).
	TransactionStatePartitions int32 // transaction.state.log.num.partitions
	// TransactionStateReplicationFactor is
	// transaction.state.log.replication.factor: __transaction_state's
	// replication factor in a cluster, capped at the live brokers when it
	// is created (as offsets.topic.replication.factor).
	TransactionStateReplicationFactor int16
	TransactionMaxTimeout             time.Duration // transaction.max.timeout (Kafka: .ms)
	// TransactionAbortInterval is transaction.abort.timed.out.transaction.cleanup.interval
	// (Kafka: .ms): how often the coordinator aborts expired transactions.
	TransactionAbortInterval time.Duration
	// TransactionVersion is the transaction.version feature the broker
	// finalizes (Kafka sets it with kafka-features.sh): 2 is KIP-890
	// part 2 (the epoch bumped at every commit or abort, partitions
	// added by the produce itself), 1 the protocol before it. Clients
	// choose by it; the request versions then decide per request.
	TransactionVersion int16

	// Consumer groups (Kafka's group.* and offsets.* settings).
	OffsetsTopicPartitions        int32         // offsets.topic.num.partitions
	GroupMinSessionTimeout        time.Duration // group.min.session.timeout (Kafka: .ms)
	GroupMaxSessionTimeout        time.Duration // group.max.session.timeout (Kafka: .ms)
	GroupInitialRebalanceDelay    time.Duration // group.initial.rebalance.delay (Kafka: .ms)
	GroupMaxSize                  int           // group.max.size
	OffsetMetadataMaxBytes        int           // offset.metadata.max.bytes
	OffsetsRetention              time.Duration // offsets.retention (Kafka: offsets.retention.minutes)
	OffsetsRetentionCheckInterval time.Duration // offsets.retention.check.interval (Kafka: .ms)
	MaxRequestBytes               int32         // socket.request.max.bytes
	ShutdownTimeout               time.Duration // shutdown.timeout
	// MemoryLimit is the Go runtime's soft memory limit (memory.limit,
	// bytes; 0 = none). The GC works harder as the heap nears it instead
	// of letting buffers recycled on the request path inflate RSS; the
	// GOMEMLIMIT environment variable, when set, wins.
	MemoryLimit int64

	// Tiered storage (issue 5). Tiering is on when TierDir or TierS3Bucket
	// is set; at most one of them may be. Off, nothing of it runs and
	// remote.storage.enable has no effect.
	MetadataStore       string        // metadata.store: embedded (single node, under data.dir) or dynamodb
	MetadataTable       string        // metadata.table: DynamoDB table (schema: package metastore)
	MetadataCreateTable bool          // metadata.create-table: create the table if missing (development)
	TierDir             string        // tier.dir: local-directory object store
	TierS3Bucket        string        // tier.s3.bucket: S3 object store (aws default config; AWS_ENDPOINT_URL honoured)
	TierS3PathStyle     bool          // tier.s3.path-style: path-style addressing (moto, MinIO)
	TierS3Prefix        string        // tier.s3.prefix: key prefix of every object ("kafki/prod/"), so clusters can share a bucket
	TierCacheBytes      int64         // tier.cache.bytes: remote read cache budget
	TierSweepInterval   time.Duration // tier.sweep.interval: how often remote retention and the sweeper run
	TierFetchMaxWait    time.Duration // tier.fetch.max.wait: longest a fetch waits for a remote read (Kafka's remote.fetch.max.wait.ms)
	TierSweepGrace      time.Duration // tier.sweep.grace: age at which the sweeper removes unreferenced objects and abandoned uploads

	// Cluster (metadata.store=dynamodb): brokers replicate partitions
	// among themselves; see package cluster and brokerd/node.
	BrokerRack           string        // broker.rack: availability zone, for replica placement
	ReplicaSelector      string        // replica.selector.class: RackAwareReplicaSelector (or rack) for KIP-392 follower reads; empty: leader only
	SessionLease         time.Duration // session.lease: broker session and controller lease duration
	ReplicaLagTimeMax    time.Duration // replica.lag.time.max (Kafka: .ms): a follower not caught up for this long leaves the ISR
	ReplicaFetchWaitMax  time.Duration // replica.fetch.wait.max (Kafka: .ms): long-poll time of follower fetches
	ReplicaFetchMaxBytes int32         // replica.fetch.max.bytes: per-partition bytes per follower fetch
	MetadataPollInterval time.Duration // metadata.poll.interval: how often the metadata version is read

	TriggersEnable                bool  // triggers.enable: run the Lambda trigger runner in-process (lambdas/triggers)
	DefaultReplicationFactor      int16 // default.replication.factor: for auto-created topics and CreateTopics with -1
	OffsetsTopicReplicationFactor int16 // offsets.topic.replication.factor (capped at the live brokers)

	// Authorization with Kafka ACLs (acl.go, package acl).
	AuthorizerClassName       string // authorizer.class.name: "" allows everything; acl or Kafka's StandardAuthorizer class
	SuperUsers                string // super.users: semicolon-separated principals allowed everything
	AllowEveryoneIfNoACLFound bool   // allow.everyone.if.no.acl.found: allow actions on resources no ACL names

	// Listeners and TLS (issue 12), under Kafka's names; see listeners.go.
	// Listeners empty: one PLAINTEXT listener on Listen, advertised as
	// AdvertisedAddr (the shorthand make run uses).
	Listeners                   string // listeners: NAME://host:port,...
	AdvertisedListeners         string // advertised.listeners: NAME://host:port,...
	ListenerSecurityProtocolMap string // listener.security.protocol.map: NAME:PROTOCOL,...
	InterBrokerListenerName     string // inter.broker.listener.name
	SSL                         SSLConfig

	// SASL (issue 12): sasl.go.
	SASLConfig

	// Log compaction (issue 16): the background cleaner of topics with
	// cleanup.policy=compact (package cleaner).
	CleanerEnable              bool          // log.cleaner.enable
	CleanerThreads             int           // log.cleaner.threads
	CleanerDedupeBufferSize    int64         // log.cleaner.dedupe.buffer.size: offset map memory, bytes
	CleanerIOMaxBytesPerSecond float64       // log.cleaner.io.max.bytes.per.second (0 = unlimited)
	CleanerBackoff             time.Duration // log.cleaner.backoff (Kafka: .ms): sleep when nothing is cleanable
}

// Clustered reports whether this broker runs as a member of a cluster
// (shared metadata in DynamoDB) rather than as a single node.
func (c *Config) Clustered() bool { return c.MetadataStore == MetadataDynamoDB }

// Metadata stores.
const (
	MetadataEmbedded = "embedded"
	MetadataDynamoDB = "dynamodb"
)

// TieringEnabled reports whether an object store is configured.
func (c *Config) TieringEnabled() bool { return c.TierDir != "" || c.TierS3Bucket != "" }

// Default returns the built-in defaults: what `make run` uses.
func Default() Config {
	return Config{
		NodeID:                 1,
		ClusterID:              "kafki-local",
		Listen:                 "127.0.0.1:9092",
		DataDir:                "./data",
		MetricsListen:          "127.0.0.1:9644",
		LogLevel:               "info",
		LogFormat:              "text",
		AutoCreateTopics:       true,
		DefaultPartitions:      1,
		MaxPartitions:          10000,
		SegmentBytes:           1 << 30,
		SegmentMs:              7 * 24 * time.Hour,
		RetentionBytes:         -1,
		RetentionMs:            7 * 24 * time.Hour,
		IndexIntervalBytes:     4096,
		MaxMessageBytes:        1048588,
		TimestampType:          CreateTime,
		FlushIntervalMs:        0,
		FlushBytes:             0,
		FlushOnAck:             false,
		RetentionCheckInterval: 5 * time.Minute,

		OffsetsTopicPartitions:            50,
		TransactionStatePartitions:        50,
		TransactionStateReplicationFactor: 3,
		TransactionMaxTimeout:             15 * time.Minute,
		TransactionAbortInterval:          10 * time.Second,
		TransactionVersion:                2,
		GroupMinSessionTimeout:            6 * time.Second,
		GroupMaxSessionTimeout:            30 * time.Minute,
		GroupInitialRebalanceDelay:        3 * time.Second,
		GroupMaxSize:                      math.MaxInt32,
		OffsetMetadataMaxBytes:            4096,
		OffsetsRetention:                  7 * 24 * time.Hour,
		OffsetsRetentionCheckInterval:     10 * time.Minute,

		MaxRequestBytes: 100 << 20,
		ShutdownTimeout: 30 * time.Second,
		MemoryLimit:     256 << 20,

		MetadataStore:     MetadataEmbedded,
		MetadataTable:     "kafki",
		TierCacheBytes:    64 << 20,
		TierSweepInterval: 5 * time.Minute,
		TierFetchMaxWait:  500 * time.Millisecond,
		TierSweepGrace:    time.Hour,

		SessionLease:                  6 * time.Second,
		ReplicaLagTimeMax:             10 * time.Second,
		ReplicaFetchWaitMax:           500 * time.Millisecond,
		ReplicaFetchMaxBytes:          1 << 20,
		MetadataPollInterval:          250 * time.Millisecond,
		DefaultReplicationFactor:      1,
		OffsetsTopicReplicationFactor: 3,

		SASLConfig:     defaultSASL(),
		CleanerEnable:  true,
		CleanerThreads: 1,
		// Kafka's default is 128 MiB; Kafki's offset map is a Go map,
		// which spends about twice Kafka's 24 bytes per key, so the same
		// budget in keys costs more memory: the default is smaller.
		CleanerDedupeBufferSize: 32 << 20,
		CleanerBackoff:          15 * time.Second,
	}
}

// EnvName is the environment variable that sets flag name.
func EnvName(flagName string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return "KAFKI_" + strings.ToUpper(r.Replace(flagName))
}

// ErrHelp is returned by Load when --help was asked for; the help text has
// been written to the output already.
var ErrHelp = flag.ErrHelp

// Load builds the configuration from defaults, the environment (looked up
// with getenv) and args, then validates it. Help and usage go to out.
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := Default()
	fs := flag.NewFlagSet("brokerd", flag.ContinueOnError)
	// The flag package prints errors and the whole usage text itself; keep
	// it quiet so a bad setting is exactly one line (the returned error).
	fs.SetOutput(io.Discard)
	c.bind(fs)
	fs.Usage = func() {}

	// Environment first, so that flags given on the command line win.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if envErr != nil {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %v", EnvName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(fs, out)
			return c, ErrHelp
		}
		return c, fmt.Errorf("%v (see brokerd --help)", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (settings are --name=value flags; see --help)", fs.Arg(0))
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Config) bind(fs *flag.FlagSet) {
	fs.Var(intValue[int32]{&c.NodeID}, "node.id", "this broker's id, unique in the cluster")
	fs.StringVar(&c.ClusterID, "cluster.id", c.ClusterID, "cluster id reported to clients")
	fs.StringVar(&c.Listen, "listen", c.Listen, "host:port the Kafka protocol listener binds")
	fs.StringVar(&c.AdvertisedAddr, "advertised.listener", c.AdvertisedAddr, "host:port clients are told to connect to (default: the bound listen address)")
	fs.StringVar(&c.DataDir, "data.dir", c.DataDir, "directory holding topic metadata and partition logs")
	fs.StringVar(&c.MetricsListen, "metrics.listen", c.MetricsListen, "host:port serving Prometheus /metrics (empty disables)")
	fs.StringVar(&c.LogLevel, "log.level", c.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log.format", c.LogFormat, "log format: text or json")
	fs.BoolVar(&c.AutoCreateTopics, "auto.create.topics.enable", c.AutoCreateTopics, "create unknown topics on Metadata requests that ask for it")
	fs.Var(intValue[int32]{&c.DefaultPartitions}, "num.partitions", "partitions of auto-created topics and of CreateTopics with -1")
	fs.Var(intValue[int32]{&c.MaxPartitions}, "max.partitions.per.topic", "largest partition count a topic may have")
	fs.Int64Var(&c.SegmentBytes, "log.segment.bytes", c.SegmentBytes, "default segment.bytes: roll a segment at this size")
	fs.DurationVar(&c.SegmentMs, "log.roll", c.SegmentMs, "default segment.ms: roll a segment at this age (0 never)")
	fs.Int64Var(&c.RetentionBytes, "log.retention.bytes", c.RetentionBytes, "default retention.bytes per partition (-1 unlimited)")
	fs.DurationVar(&c.RetentionMs, "log.retention", c.RetentionMs, "default retention.ms (negative keeps forever)")
	fs.IntVar(&c.IndexIntervalBytes, "log.index.interval.bytes", c.IndexIntervalBytes, "bytes between sparse offset index entries")
	fs.Var(intValue[int32]{&c.MaxMessageBytes}, "message.max.bytes", "default max.message.bytes: largest record batch accepted")
	fs.Var(timestampTypeValue{&c.TimestampType}, "log.message.timestamp.type", "default message.timestamp.type: CreateTime or LogAppendTime")
	fs.DurationVar(&c.FlushIntervalMs, "log.flush.interval", c.FlushIntervalMs, "fsync every partition with unflushed data at least this often (0 off)")
	fs.Int64Var(&c.FlushBytes, "log.flush.interval.bytes", c.FlushBytes, "fsync a partition once this many bytes are unflushed (0 off)")
	fs.BoolVar(&c.FlushOnAck, "log.flush.on.ack", c.FlushOnAck, "fsync before acknowledging acks=all produce requests")
	fs.DurationVar(&c.RetentionCheckInterval, "log.retention.check.interval", c.RetentionCheckInterval, "how often retention and age-based roll run; log maintenance (which also does interval flushes and finishes rolled segments) runs at the smallest of this, 5s and log.flush.interval")
	fs.Var(intValue[int32]{&c.TransactionStatePartitions}, "transaction.state.log.num.partitions", "partitions of __transaction_state when the broker creates it (an existing topic keeps its count)")
	fs.Var(intValue[int16]{&c.TransactionStateReplicationFactor}, "transaction.state.log.replication.factor", "cluster: replication factor of __transaction_state (at most the live brokers when it is created)")
	fs.DurationVar(&c.TransactionMaxTimeout, "transaction.max.timeout", c.TransactionMaxTimeout, "longest transaction timeout a transactional producer may ask for")
	fs.DurationVar(&c.TransactionAbortInterval, "transaction.abort.timed.out.transaction.cleanup.interval", c.TransactionAbortInterval, "how often the transaction coordinator aborts transactions past their timeout")
	fs.Var(intValue[int16]{&c.TransactionVersion}, "transaction.version", "the transaction.version feature clients are offered: 2 (KIP-890 part 2: an epoch per transaction, partitions added by produce) or 1")
	fs.Var(intValue[int32]{&c.OffsetsTopicPartitions}, "offsets.topic.num.partitions", "partitions of __consumer_offsets when the broker creates it (an existing topic keeps its count)")
	fs.DurationVar(&c.GroupMinSessionTimeout, "group.min.session.timeout", c.GroupMinSessionTimeout, "smallest session timeout a consumer group member may ask for")
	fs.DurationVar(&c.GroupMaxSessionTimeout, "group.max.session.timeout", c.GroupMaxSessionTimeout, "largest session timeout a consumer group member may ask for")
	fs.DurationVar(&c.GroupInitialRebalanceDelay, "group.initial.rebalance.delay", c.GroupInitialRebalanceDelay, "how long the first rebalance of an empty group waits for more members")
	fs.IntVar(&c.GroupMaxSize, "group.max.size", c.GroupMaxSize, "most members a consumer group may have")
	fs.IntVar(&c.OffsetMetadataMaxBytes, "offset.metadata.max.bytes", c.OffsetMetadataMaxBytes, "largest metadata string of an offset commit")
	fs.DurationVar(&c.OffsetsRetention, "offsets.retention", c.OffsetsRetention, "how long committed offsets of an empty group are kept")
	fs.DurationVar(&c.OffsetsRetentionCheckInterval, "offsets.retention.check.interval", c.OffsetsRetentionCheckInterval, "how often expired offsets are removed")
	fs.Var(intValue[int32]{&c.MaxRequestBytes}, "socket.request.max.bytes", "largest request frame accepted; larger closes the connection")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown.timeout", c.ShutdownTimeout, "how long SIGTERM waits for in-flight requests")
	fs.Int64Var(&c.MemoryLimit, "memory.limit", c.MemoryLimit, "soft limit in bytes on the Go heap; the GC works harder near it (0 none; GOMEMLIMIT wins)")
	fs.StringVar(&c.MetadataStore, "metadata.store", c.MetadataStore, "where topics and producer ids live: embedded (single node) or dynamodb (AWS default config; AWS_ENDPOINT_URL honoured)")
	fs.StringVar(&c.MetadataTable, "metadata.table", c.MetadataTable, "DynamoDB table of the metadata store")
	fs.BoolVar(&c.MetadataCreateTable, "metadata.create-table", c.MetadataCreateTable, "create the DynamoDB table if it does not exist (for development; deployments create it)")
	fs.StringVar(&c.TierDir, "tier.dir", c.TierDir, "tiered storage in this local directory (empty: no local-directory tier)")
	fs.StringVar(&c.TierS3Bucket, "tier.s3.bucket", c.TierS3Bucket, "tiered storage in this S3 bucket (AWS default config; AWS_ENDPOINT_URL honoured)")
	fs.BoolVar(&c.TierS3PathStyle, "tier.s3.path-style", c.TierS3PathStyle, "S3 path-style addressing (moto, MinIO)")
	fs.StringVar(&c.TierS3Prefix, "tier.s3.prefix", c.TierS3Prefix, "key prefix of every tiered object, e.g. kafki/prod/ (clusters sharing a bucket each use their own)")
	fs.Int64Var(&c.TierCacheBytes, "tier.cache.bytes", c.TierCacheBytes, "memory budget of the remote read cache")
	fs.DurationVar(&c.TierFetchMaxWait, "tier.fetch.max.wait", c.TierFetchMaxWait, "longest a fetch waits for a remote read; then it answers without that partition's data and the read warms the cache")
	fs.DurationVar(&c.TierSweepInterval, "tier.sweep.interval", c.TierSweepInterval, "how often remote retention and the orphan sweeper run")
	fs.DurationVar(&c.TierSweepGrace, "tier.sweep.grace", c.TierSweepGrace, "how old an unreferenced object or abandoned upload must be before the sweeper removes it (longer than any upload takes)")
	fs.StringVar(&c.BrokerRack, "broker.rack", c.BrokerRack, "availability zone of this broker; replicas of a partition are spread over racks")
	fs.StringVar(&c.ReplicaSelector, "replica.selector.class", c.ReplicaSelector, "org.apache.kafka.common.replica.RackAwareReplicaSelector (or rack): consumers with client.rack read from an in-sync follower in their rack (KIP-392); empty: from the leader")
	fs.DurationVar(&c.SessionLease, "session.lease", c.SessionLease, "cluster: broker session (and controller) lease; a broker silent this long loses its leaderships")
	fs.DurationVar(&c.ReplicaLagTimeMax, "replica.lag.time.max", c.ReplicaLagTimeMax, "cluster: a follower not caught up for this long leaves the ISR")
	fs.DurationVar(&c.ReplicaFetchWaitMax, "replica.fetch.wait.max", c.ReplicaFetchWaitMax, "cluster: how long a follower's fetch waits at the leader for new data")
	fs.Var(intValue[int32]{&c.ReplicaFetchMaxBytes}, "replica.fetch.max.bytes", "cluster: bytes per partition a follower fetch asks for")
	fs.BoolVar(&c.TriggersEnable, "triggers.enable", c.TriggersEnable, "run the Lambda triggers of the metadata store in this broker (kafki triggers; AWS default config, AWS_ENDPOINT_URL honoured)")
	fs.DurationVar(&c.MetadataPollInterval, "metadata.poll.interval", c.MetadataPollInterval, "cluster: how often the shared metadata version is read")
	// Log compaction (issue 16).
	fs.BoolVar(&c.CleanerEnable, "log.cleaner.enable", c.CleanerEnable, "run the log cleaner that compacts topics with cleanup.policy=compact")
	fs.IntVar(&c.CleanerThreads, "log.cleaner.threads", c.CleanerThreads, "log cleaner goroutines (each cleans one partition at a time)")
	fs.Int64Var(&c.CleanerDedupeBufferSize, "log.cleaner.dedupe.buffer.size", c.CleanerDedupeBufferSize, "memory of the cleaners' offset maps, bytes, shared by the threads (24 bytes per key); a partition with more dirty keys is cleaned in several passes")
	fs.Float64Var(&c.CleanerIOMaxBytesPerSecond, "log.cleaner.io.max.bytes.per.second", c.CleanerIOMaxBytesPerSecond, "bytes per second the cleaners read plus write, all threads together (0 unlimited)")
	fs.DurationVar(&c.CleanerBackoff, "log.cleaner.backoff", c.CleanerBackoff, "how long a cleaner sleeps when no partition is cleanable")
	fs.Var(intValue[int16]{&c.DefaultReplicationFactor}, "default.replication.factor", "cluster: replication factor of auto-created topics and CreateTopics with -1")
	fs.Var(intValue[int16]{&c.OffsetsTopicReplicationFactor}, "offsets.topic.replication.factor", "cluster: replication factor of __consumer_offsets (at most the live brokers when it is created)")
	c.bindACL(fs)
	c.bindListeners(fs)
	c.bindSASL(fs) // SASL (issue 12): sasl.go
}

// Validate checks every setting and returns the first problem as one line.
func (c *Config) Validate() error {
	for _, check := range []func() error{c.validateLog, c.validateGroups, c.validateCluster, c.validateReplicaSelector, c.validateTier, c.validateOps, c.validateACL, c.validateListeners, c.validateSASL, c.validateCleaner} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateLog checks the node's identity, the log (partitions,
// segments, retention, flushing) and request sizes.
func (c *Config) validateLog() error {
	switch {
	case c.NodeID < 0:
		return fmt.Errorf("node.id %d: must be >= 0", c.NodeID)
	case c.ClusterID == "":
		return errors.New("cluster.id: must not be empty")
	case c.DataDir == "":
		return errors.New("data.dir: must not be empty")
	case c.DefaultPartitions < 1:
		return fmt.Errorf("num.partitions %d: must be >= 1", c.DefaultPartitions)
	case c.MaxPartitions < c.DefaultPartitions:
		return fmt.Errorf("max.partitions.per.topic %d: must be >= num.partitions %d", c.MaxPartitions, c.DefaultPartitions)
	case c.SegmentBytes < 14:
		return fmt.Errorf("log.segment.bytes %d: must be >= 14", c.SegmentBytes)
	case c.SegmentMs < 0:
		return fmt.Errorf("log.roll %v: must be >= 0", c.SegmentMs)
	case c.RetentionBytes < -1:
		return fmt.Errorf("log.retention.bytes %d: must be -1 (unlimited) or >= 0", c.RetentionBytes)
	case c.IndexIntervalBytes < 1:
		return fmt.Errorf("log.index.interval.bytes %d: must be >= 1", c.IndexIntervalBytes)
	case c.MaxMessageBytes < 64:
		return fmt.Errorf("message.max.bytes %d: must be >= 64", c.MaxMessageBytes)
	case c.FlushIntervalMs < 0:
		return fmt.Errorf("log.flush.interval %v: must be >= 0", c.FlushIntervalMs)
	case c.FlushBytes < 0:
		return fmt.Errorf("log.flush.interval.bytes %d: must be >= 0", c.FlushBytes)
	case c.RetentionCheckInterval <= 0:
		return fmt.Errorf("log.retention.check.interval %v: must be > 0", c.RetentionCheckInterval)
	case c.MaxRequestBytes < 1024:
		return fmt.Errorf("socket.request.max.bytes %d: must be >= 1024", c.MaxRequestBytes)
	case c.MaxRequestBytes < c.MaxMessageBytes:
		return fmt.Errorf("socket.request.max.bytes %d: must be >= message.max.bytes %d", c.MaxRequestBytes, c.MaxMessageBytes)
	}
	return nil
}

// validateGroups checks the settings of consumer groups and their
// offsets.
func (c *Config) validateGroups() error {
	switch {
	case c.TransactionStatePartitions < 1 || c.TransactionStatePartitions > c.MaxPartitions:
		return fmt.Errorf("transaction.state.log.num.partitions %d: must be in [1, max.partitions.per.topic %d]", c.TransactionStatePartitions, c.MaxPartitions)
	case c.TransactionMaxTimeout <= 0 || c.TransactionAbortInterval <= 0:
		return fmt.Errorf("transaction.max.timeout %v and transaction.abort.timed.out.transaction.cleanup.interval %v: must be > 0", c.TransactionMaxTimeout, c.TransactionAbortInterval)
	case c.TransactionVersion != 1 && c.TransactionVersion != 2:
		return fmt.Errorf("transaction.version %d: must be 1 or 2", c.TransactionVersion)
	case c.OffsetsTopicPartitions < 1:
		return fmt.Errorf("offsets.topic.num.partitions %d: must be >= 1", c.OffsetsTopicPartitions)
	case c.OffsetsTopicPartitions > c.MaxPartitions:
		return fmt.Errorf("offsets.topic.num.partitions %d: must be <= max.partitions.per.topic %d", c.OffsetsTopicPartitions, c.MaxPartitions)
	case c.GroupMinSessionTimeout <= 0:
		return fmt.Errorf("group.min.session.timeout %v: must be > 0", c.GroupMinSessionTimeout)
	case c.GroupMaxSessionTimeout < c.GroupMinSessionTimeout:
		return fmt.Errorf("group.max.session.timeout %v: must be >= group.min.session.timeout %v", c.GroupMaxSessionTimeout, c.GroupMinSessionTimeout)
	case c.GroupMaxSessionTimeout > math.MaxInt32*time.Millisecond:
		return fmt.Errorf("group.max.session.timeout %v: must fit in 32-bit milliseconds", c.GroupMaxSessionTimeout)
	case c.GroupInitialRebalanceDelay < 0:
		return fmt.Errorf("group.initial.rebalance.delay %v: must be >= 0", c.GroupInitialRebalanceDelay)
	case c.GroupMaxSize < 1:
		return fmt.Errorf("group.max.size %d: must be >= 1", c.GroupMaxSize)
	case c.OffsetMetadataMaxBytes < 0:
		return fmt.Errorf("offset.metadata.max.bytes %d: must be >= 0", c.OffsetMetadataMaxBytes)
	case c.OffsetsRetention <= 0:
		return fmt.Errorf("offsets.retention %v: must be > 0", c.OffsetsRetention)
	case c.OffsetsRetentionCheckInterval <= 0:
		return fmt.Errorf("offsets.retention.check.interval %v: must be > 0", c.OffsetsRetentionCheckInterval)
	}
	return nil
}

// validateCluster checks the settings of the metadata store and
// replication.
// RackAwareReplicaSelector is Kafka's class name for rack-aware follower
// reads, which replica.selector.class accepts (as does "rack").
const RackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"

// RackAwareReads reports whether replica.selector.class asks for
// rack-aware follower reads.
func (c *Config) RackAwareReads() bool {
	return c.ReplicaSelector == RackAwareReplicaSelector || c.ReplicaSelector == "rack"
}

// validateReplicaSelector checks replica.selector.class.
func (c *Config) validateReplicaSelector() error {
	if c.ReplicaSelector != "" && !c.RackAwareReads() {
		return fmt.Errorf("replica.selector.class %q: Kafki has %s (or rack), or none", c.ReplicaSelector, RackAwareReplicaSelector)
	}
	return nil
}

func (c *Config) validateCluster() error {
	switch {
	case c.MetadataStore != MetadataEmbedded && c.MetadataStore != MetadataDynamoDB:
		return fmt.Errorf("metadata.store %q: must be embedded or dynamodb", c.MetadataStore)
	case c.MetadataStore == MetadataDynamoDB && c.MetadataTable == "":
		return errors.New("metadata.table: needed with metadata.store=dynamodb")
	case c.Clustered() && (c.SessionLease < 100*time.Millisecond || c.SessionLease > 10*time.Minute):
		return fmt.Errorf("session.lease %v: must be between 100ms and 10m", c.SessionLease)
	case c.Clustered() && c.ReplicaLagTimeMax < 10*time.Millisecond:
		return fmt.Errorf("replica.lag.time.max %v: must be at least 10ms", c.ReplicaLagTimeMax)
	case c.Clustered() && (c.ReplicaFetchWaitMax < 0 || c.ReplicaFetchWaitMax > time.Minute):
		return fmt.Errorf("replica.fetch.wait.max %v: must be between 0 and 1m", c.ReplicaFetchWaitMax)
	case c.ReplicaFetchMaxBytes < 1024:
		return fmt.Errorf("replica.fetch.max.bytes %d: must be at least 1024", c.ReplicaFetchMaxBytes)
	case c.Clustered() && (c.MetadataPollInterval < time.Millisecond || c.MetadataPollInterval > time.Minute):
		return fmt.Errorf("metadata.poll.interval %v: must be between 1ms and 1m", c.MetadataPollInterval)
	case c.DefaultReplicationFactor < 1:
		return fmt.Errorf("default.replication.factor %d: must be >= 1", c.DefaultReplicationFactor)
	case c.OffsetsTopicReplicationFactor < 1:
		return fmt.Errorf("offsets.topic.replication.factor %d: must be >= 1", c.OffsetsTopicReplicationFactor)
	case c.TransactionStateReplicationFactor < 1:
		return fmt.Errorf("transaction.state.log.replication.factor %d: must be >= 1", c.TransactionStateReplicationFactor)
	}
	return nil
}

// validateTier checks the settings of tiered storage.
func (c *Config) validateTier() error {
	switch {
	case c.TierSweepGrace < time.Second:
		return fmt.Errorf("tier.sweep.grace %v: must be at least 1s (an upload in progress must never look abandoned)", c.TierSweepGrace)
	case c.TierDir != "" && c.TierS3Bucket != "":
		return fmt.Errorf("tier.dir %q and tier.s3.bucket %q: set at most one", c.TierDir, c.TierS3Bucket)
	case c.TierFetchMaxWait <= 0:
		return fmt.Errorf("tier.fetch.max.wait %v: must be > 0", c.TierFetchMaxWait)
	case c.TierCacheBytes < 0:
		return fmt.Errorf("tier.cache.bytes %d: must be >= 0", c.TierCacheBytes)
	case c.TierSweepInterval <= 0:
		return fmt.Errorf("tier.sweep.interval %v: must be > 0", c.TierSweepInterval)
	case c.TierS3Prefix != "" && c.TierS3Bucket == "":
		return fmt.Errorf("tier.s3.prefix %q: needs tier.s3.bucket", c.TierS3Prefix)
	}
	return nil
}

// validateOps checks memory, shutdown, the listeners, logging and the
// data directory.
func (c *Config) validateOps() error {
	switch {
	case c.MemoryLimit != 0 && c.MemoryLimit < 32<<20:
		return fmt.Errorf("memory.limit %d: must be 0 (none) or at least 33554432 (32 MiB)", c.MemoryLimit)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("shutdown.timeout %v: must be > 0", c.ShutdownTimeout)
	}
	if err := checkHostPort("listen", c.Listen, true); err != nil {
		return err
	}
	if c.AdvertisedAddr != "" {
		if err := checkHostPort("advertised.listener", c.AdvertisedAddr, false); err != nil {
			return err
		}
	}
	if c.MetricsListen != "" {
		if err := checkHostPort("metrics.listen", c.MetricsListen, true); err != nil {
			return err
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level %q: must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log.format %q: must be text or json", c.LogFormat)
	}
	if st, err := os.Stat(c.DataDir); err == nil && !st.IsDir() {
		return fmt.Errorf("data.dir %q: exists and is not a directory", c.DataDir)
	}
	return nil
}

func checkHostPort(name, v string, allowZeroPort bool) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port (%v)", name, v, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !allowZeroPort) {
		return fmt.Errorf("%s %q: port must be a number in 1..65535", name, v)
	}
	if !allowZeroPort && host == "" {
		return fmt.Errorf("%s %q: needs a host clients can reach", name, v)
	}
	return nil
}

func usage(fs *flag.FlagSet, out io.Writer) {
	fmt.Fprintf(out, "Usage: brokerd [--name=value ...]\n\n")
	fmt.Fprintf(out, "Kafki broker: speaks the Kafka protocol over a durable segmented log.\n")
	fmt.Fprintf(out, "Every flag can also be set by the environment variable shown.\n\n")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		f := fs.Lookup(n)
		fmt.Fprintf(out, "  --%s (env %s, default %q)\n      %s\n", f.Name, EnvName(f.Name), f.DefValue, f.Usage)
	}
}

// intValue is a flag holding a fixed-size integer; Set refuses values
// that do not fit, so a typo cannot wrap around.
type intValue[T int16 | int32] struct{ p *T }

func (v intValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

func (v intValue[T]) Set(s string) error {
	bits := 32
	if _, ok := any(T(0)).(int16); ok {
		bits = 16
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return fmt.Errorf("not a %d-bit integer", bits)
	}
	*v.p = T(n)
	return nil
}

type timestampTypeValue struct{ p *TimestampType }

func (v timestampTypeValue) String() string {
	if v.p == nil {
		return ""
	}
	return string(*v.p)
}

func (v timestampTypeValue) Set(s string) error {
	t, err := ParseTimestampType(s)
	if err != nil {
		return err
	}
	*v.p = t
	return nil
}

// ParseTimestampType parses message.timestamp.type values.
func ParseTimestampType(s string) (TimestampType, error) {
	switch TimestampType(s) {
	case CreateTime, LogAppendTime:
		return TimestampType(s), nil
	}
	return "", fmt.Errorf("must be CreateTime or LogAppendTime, not %q", s)
}

// validateCleaner checks the log cleaner's settings (Kafka's bounds).
func (c *Config) validateCleaner() error {
	switch {
	case c.CleanerThreads < 1:
		return fmt.Errorf("log.cleaner.threads %d: must be >= 1", c.CleanerThreads)
	case c.CleanerDedupeBufferSize < 1<<10:
		return fmt.Errorf("log.cleaner.dedupe.buffer.size %d: must be >= 1024", c.CleanerDedupeBufferSize)
	case c.CleanerIOMaxBytesPerSecond < 0:
		return fmt.Errorf("log.cleaner.io.max.bytes.per.second %v: must be >= 0", c.CleanerIOMaxBytesPerSecond)
	case c.CleanerBackoff <= 0:
		return fmt.Errorf("log.cleaner.backoff %v: must be > 0", c.CleanerBackoff)
	}
	return nil
}
