package config

// Kafka names of broker settings, for DescribeConfigs on a broker resource
// and for the broker-level synonyms of topic configs.
//
// Invariants: every entry is a setting Kafka has with the same meaning, its
// value rendered in the unit Kafka's name states (ms, minutes) so a Kafka
// tool reads it correctly; a setting without such an equivalent (e.g.
// max.partitions.per.topic, log.flush.on.ack, the tier cache) is left out
// rather than approximated. Default renders the same entry
// from Default(), so Value != Default means the operator set it.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ConfigKind is a Kafka config type (ConfigDef.Type), as DescribeConfigs
// reports it.
type ConfigKind string

const (
	KindBoolean ConfigKind = "boolean"
	KindString  ConfigKind = "string"
	KindInt     ConfigKind = "int"
	KindShort   ConfigKind = "short"
	KindLong    ConfigKind = "long"
	KindList    ConfigKind = "list"
	KindDouble  ConfigKind = "double"
)

// ParseBoolean parses a value of a boolean config as Kafki accepts it
// everywhere (topic overrides and the broker defaults behind them):
// exactly "true" or "false". The topic manager and the controller both
// read unclean.leader.election.enable with it, so they never disagree on
// whether a topic allows unclean election.
func ParseBoolean(v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

// KafkaConfig is one broker setting under its Kafka name.
type KafkaConfig struct {
	Name    string // Kafka's broker config name, e.g. log.retention.ms
	Kind    ConfigKind
	Value   string // this broker's value, in Kafka's unit
	Default string // the built-in default (Default()), in the same unit
	// HasDefault is false for an optional setting Default() leaves unset
	// (broker.rack): Kafka's null default, which has no DEFAULT_CONFIG
	// synonym.
	HasDefault bool
}

// Set reports whether the operator changed the setting from the built-in
// default (Kafka's STATIC_BROKER_CONFIG as opposed to DEFAULT_CONFIG).
func (k KafkaConfig) Set() bool { return !k.HasDefault || k.Value != k.Default }

// kafkaSetting renders one setting of c; ok false means c has no value for
// it (an unset optional setting such as broker.rack), and it is not listed.
type kafkaSetting struct {
	name   string
	kind   ConfigKind
	render func(c *Config) (v string, ok bool)
}

func always(f func(c *Config) string) func(c *Config) (string, bool) {
	return func(c *Config) (string, bool) { return f(c), true }
}

func unlessEmpty(f func(c *Config) string) func(c *Config) (string, bool) {
	return func(c *Config) (string, bool) { v := f(c); return v, v != "" }
}

func itoa[T int | int16 | int32 | int64](n T) string { return strconv.FormatInt(int64(n), 10) }

func millis(d time.Duration) string { return itoa(d.Milliseconds()) }

func constant(v string) func(c *Config) (string, bool) {
	return always(func(*Config) string { return v })
}

// kafkaSettings is sorted by name (KafkaConfigs' order; a test checks it).
var kafkaSettings = []kafkaSetting{
	{"advertised.listeners", KindString, unlessEmpty(func(c *Config) string { return c.listenersString(true) })},
	{"auto.create.topics.enable", KindBoolean, always(func(c *Config) string { return strconv.FormatBool(c.AutoCreateTopics) })},
	{"broker.id", KindInt, always(func(c *Config) string { return itoa(c.NodeID) })},
	{"broker.rack", KindString, unlessEmpty(func(c *Config) string { return c.BrokerRack })},
	{"connection.failed.authentication.delay.ms", KindInt, always(func(c *Config) string { return millis(c.FailedAuthDelay) })}, // SASL (issue 12)
	{"connections.max.reauth.ms", KindLong, always(func(c *Config) string { return millis(c.ConnectionsMaxReauth) })},           // SASL (issue 12)
	{"default.replication.factor", KindInt, always(func(c *Config) string { return itoa(c.DefaultReplicationFactor) })},
	{"group.initial.rebalance.delay.ms", KindInt, always(func(c *Config) string { return millis(c.GroupInitialRebalanceDelay) })},
	{"group.max.session.timeout.ms", KindInt, always(func(c *Config) string { return millis(c.GroupMaxSessionTimeout) })},
	{"group.max.size", KindInt, always(func(c *Config) string { return itoa(c.GroupMaxSize) })},
	{"group.min.session.timeout.ms", KindInt, always(func(c *Config) string { return millis(c.GroupMinSessionTimeout) })},
	{"inter.broker.listener.name", KindString, always(func(c *Config) string {
		l, _ := c.InterBrokerListener()
		return l.Name
	})},
	{"listener.security.protocol.map", KindString, always(func(c *Config) string {
		ls, _ := c.ListenerList()
		var parts []string
		for _, l := range ls {
			parts = append(parts, l.Name+":"+l.Protocol)
		}
		return strings.Join(parts, ",")
	})},
	{"listeners", KindString, always(func(c *Config) string { return c.listenersString(false) })},
	// Kafki has one cleanup policy, one ISR floor and never elects an
	// unclean leader by default; Kafka's broker defaults say the same.
	// Compaction (issue 16): the cleaner's broker settings, and the
	// topic defaults behind delete.retention.ms, min/max.compaction.lag.ms
	// and min.cleanable.dirty.ratio (Kafka's defaults; no flags).
	{"log.cleaner.backoff.ms", KindLong, always(func(c *Config) string { return millis(c.CleanerBackoff) })},
	{"log.cleaner.dedupe.buffer.size", KindLong, always(func(c *Config) string { return itoa(c.CleanerDedupeBufferSize) })},
	{"log.cleaner.delete.retention.ms", KindLong, constant("86400000")},
	{"log.cleaner.enable", KindBoolean, always(func(c *Config) string { return strconv.FormatBool(c.CleanerEnable) })},
	{"log.cleaner.io.max.bytes.per.second", KindDouble, always(func(c *Config) string {
		if c.CleanerIOMaxBytesPerSecond <= 0 {
			return strconv.FormatFloat(math.MaxFloat64, 'E', -1, 64) // Kafka's "unlimited"
		}
		return strconv.FormatFloat(c.CleanerIOMaxBytesPerSecond, 'f', -1, 64)
	})},
	{"log.cleaner.max.compaction.lag.ms", KindLong, constant(itoa(int64(math.MaxInt64)))},
	{"log.cleaner.min.cleanable.ratio", KindDouble, constant("0.5")},
	{"log.cleaner.min.compaction.lag.ms", KindLong, constant("0")},
	{"log.cleaner.threads", KindInt, always(func(c *Config) string { return itoa(c.CleanerThreads) })},
	{"log.cleanup.policy", KindList, constant("delete")},
	{"log.dirs", KindList, always(func(c *Config) string { return c.DataDir })},
	// Kafki's 0 means "never by time"; Kafka says that with Long.MAX_VALUE
	// (a 0 there would flush on every check).
	{"log.flush.interval.ms", KindLong, always(func(c *Config) string {
		if c.FlushIntervalMs == 0 {
			return itoa(int64(math.MaxInt64))
		}
		return millis(c.FlushIntervalMs)
	})},
	{"log.index.interval.bytes", KindInt, always(func(c *Config) string { return itoa(c.IndexIntervalBytes) })},
	// Tiered storage: Kafki has no broker-wide local retention, so topics
	// default to Kafka's -2 (same as retention.ms / retention.bytes).
	{"log.local.retention.bytes", KindLong, constant("-2")},
	{"log.local.retention.ms", KindLong, constant("-2")},
	{"log.message.timestamp.type", KindString, always(func(c *Config) string { return string(c.TimestampType) })},
	{"log.retention.bytes", KindLong, always(func(c *Config) string { return itoa(c.RetentionBytes) })},
	{"log.retention.check.interval.ms", KindLong, always(func(c *Config) string { return millis(c.RetentionCheckInterval) })},
	{"log.retention.ms", KindLong, always(func(c *Config) string {
		if c.RetentionMs < 0 {
			return "-1" // forever, whatever negative duration was given
		}
		return millis(c.RetentionMs)
	})},
	{"log.roll.ms", KindLong, always(func(c *Config) string { return millis(c.SegmentMs) })},
	{"log.segment.bytes", KindInt, always(func(c *Config) string { return itoa(c.SegmentBytes) })},
	{"message.max.bytes", KindInt, always(func(c *Config) string { return itoa(c.MaxMessageBytes) })},
	{"min.insync.replicas", KindInt, constant("1")},
	{"node.id", KindInt, always(func(c *Config) string { return itoa(c.NodeID) })},
	{"num.partitions", KindInt, always(func(c *Config) string { return itoa(c.DefaultPartitions) })},
	{"offset.metadata.max.bytes", KindInt, always(func(c *Config) string { return itoa(c.OffsetMetadataMaxBytes) })},
	{"offsets.retention.check.interval.ms", KindLong, always(func(c *Config) string { return millis(c.OffsetsRetentionCheckInterval) })},
	// Whole minutes, as Kafka's name says; a sub-minute retention (tests)
	// shows as 0.
	{"offsets.retention.minutes", KindInt, always(func(c *Config) string { return itoa(int64(c.OffsetsRetention / time.Minute)) })},
	{"offsets.topic.num.partitions", KindInt, always(func(c *Config) string { return itoa(c.OffsetsTopicPartitions) })},
	{"offsets.topic.replication.factor", KindShort, always(func(c *Config) string { return itoa(c.OffsetsTopicReplicationFactor) })},
	{"remote.fetch.max.wait.ms", KindInt, always(func(c *Config) string { return millis(c.TierFetchMaxWait) })},
	{"remote.log.storage.system.enable", KindBoolean, always(func(c *Config) string { return strconv.FormatBool(c.TieringEnabled()) })},
	{"replica.fetch.max.bytes", KindInt, always(func(c *Config) string { return itoa(c.ReplicaFetchMaxBytes) })},
	{"replica.fetch.wait.max.ms", KindInt, always(func(c *Config) string { return millis(c.ReplicaFetchWaitMax) })},
	{"replica.lag.time.max.ms", KindLong, always(func(c *Config) string { return millis(c.ReplicaLagTimeMax) })},
	{"replica.selector.class", KindString, unlessEmpty(func(c *Config) string { return c.ReplicaSelector })},
	{"sasl.enabled.mechanisms", KindList, always(func(c *Config) string { return strings.Join(c.SASLEnabledMechanisms, ",") })}, // SASL (issue 12)
	{"sasl.mechanism.inter.broker.protocol", KindString, always(func(c *Config) string { return c.SASLInterBrokerMechanism })},  // SASL (issue 12)
	{"sasl.server.max.receive.size", KindInt, always(func(c *Config) string { return itoa(c.SASLMaxReceiveSize) })},             // SASL (issue 12)
	{"socket.request.max.bytes", KindInt, always(func(c *Config) string { return itoa(c.MaxRequestBytes) })},
	{"ssl.client.auth", KindString, always(func(c *Config) string { return string(c.SSL.ClientAuthMode()) })},
	{"ssl.principal.mapping.rules", KindString, always(func(c *Config) string {
		if c.SSL.PrincipalMappingRules == "" {
			return "DEFAULT"
		}
		return c.SSL.PrincipalMappingRules
	})},
	{"transaction.abort.timed.out.transaction.cleanup.interval.ms", KindInt, always(func(c *Config) string { return millis(c.TransactionAbortInterval) })},
	{"transaction.max.timeout.ms", KindInt, always(func(c *Config) string { return millis(c.TransactionMaxTimeout) })},
	{"transaction.state.log.num.partitions", KindInt, always(func(c *Config) string { return itoa(c.TransactionStatePartitions) })},
	{"transaction.state.log.replication.factor", KindShort, always(func(c *Config) string { return itoa(c.TransactionStateReplicationFactor) })},
	{"unclean.leader.election.enable", KindBoolean, constant("false")},
}

func (s kafkaSetting) of(c *Config, def *Config) (KafkaConfig, bool) {
	v, ok := s.render(c)
	if !ok {
		return KafkaConfig{}, false
	}
	d, hasDef := s.render(def)
	return KafkaConfig{Name: s.name, Kind: s.kind, Value: v, Default: d, HasDefault: hasDef}, true
}

// KafkaConfigs lists c's settings that Kafka has, under Kafka's names,
// sorted by name.
func (c *Config) KafkaConfigs() []KafkaConfig {
	def := Default()
	out := make([]KafkaConfig, 0, len(kafkaSettings))
	for _, s := range kafkaSettings {
		if k, ok := s.of(c, &def); ok {
			out = append(out, k)
		}
	}
	return out
}

// KafkaConfig returns the setting Kafka calls name; ok is false when there
// is no such setting or c leaves it unset.
func (c *Config) KafkaConfig(name string) (KafkaConfig, bool) {
	i, found := slices.BinarySearchFunc(kafkaSettings, name, func(s kafkaSetting, n string) int {
		return strings.Compare(s.name, n)
	})
	if !found {
		return KafkaConfig{}, false
	}
	def := Default()
	return kafkaSettings[i].of(c, &def)
}
