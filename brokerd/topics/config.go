package topics

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/storage"
)

// Topic-level config keys Kafki understands, with Kafka's names.
const (
	KeyRetentionMs        = "retention.ms"
	KeyRetentionBytes     = "retention.bytes"
	KeySegmentBytes       = "segment.bytes"
	KeySegmentMs          = "segment.ms"
	KeyCleanupPolicy      = "cleanup.policy"
	KeyTimestampType      = "message.timestamp.type"
	KeyMaxMessageBytes    = "max.message.bytes"
	KeyIndexIntervalBytes = "index.interval.bytes"
	KeyMinInsyncReplicas  = "min.insync.replicas"
	KeyUncleanElection    = "unclean.leader.election.enable"
	// Tiered storage (Kafka's KIP-405 names).
	KeyRemoteStorageEnable = "remote.storage.enable"
	KeyLocalRetentionMs    = "local.retention.ms"
	KeyLocalRetentionBytes = "local.retention.bytes"
	// Compaction (issue 16; see compaction.go).
	KeyDeleteRetentionMs      = "delete.retention.ms"
	KeyMinCompactionLagMs     = "min.compaction.lag.ms"
	KeyMaxCompactionLagMs     = "max.compaction.lag.ms"
	KeyMinCleanableDirtyRatio = "min.cleanable.dirty.ratio"
)

// ConfigSource says where an effective value came from, as DescribeConfigs
// reports it (Kafka's ConfigSource numbers).
type ConfigSource int8

const (
	SourceTopic   ConfigSource = 1 // DYNAMIC_TOPIC_CONFIG: the topic's override
	SourceStatic  ConfigSource = 4 // STATIC_BROKER_CONFIG: a broker flag the operator set
	SourceDefault ConfigSource = 5 // DEFAULT_CONFIG: the built-in default
)

// ConfigEntry is one effective topic setting.
type ConfigEntry struct {
	Kind      config.ConfigKind // for DescribeConfigs' config type
	Name      string
	Value     string
	Source    ConfigSource
	Sensitive bool
	// Synonyms are every layer that sets the value, highest precedence
	// first, as Kafka lists them: the topic override, then the broker
	// setting that supplies the default (STATIC_BROKER_CONFIG when the
	// operator set it, then DEFAULT_CONFIG with the built-in value). The
	// first one is where Value came from; a key with neither an override
	// nor a broker setting (remote.storage.enable) has none.
	Synonyms []ConfigSynonym
}

// ConfigSynonym is one layer of a config's value.
type ConfigSynonym struct {
	Name   string // the topic key for an override, else the broker's Kafka name
	Value  string
	Source ConfigSource
}

// Settings are a topic's effective settings, parsed.
type Settings struct {
	Log             storage.Config
	TimestampType   config.TimestampType
	MaxMessageBytes int32
	MinInsync       int32
	CleanupPolicy   string
	// UncleanElection lets the controller elect an out-of-sync replica
	// when no in-sync one is alive, which can lose acknowledged writes.
	UncleanElection bool
}

type keySpec struct {
	kind config.ConfigKind
	// broker is the Kafka broker setting that supplies the default (see
	// config.KafkaConfigs); empty for keys without one, which default to
	// fixed.
	broker string
	fixed  string
	// apply parses v into s, or explains why it cannot.
	apply func(s *Settings, v string) error
}

// brokerDefault returns the broker setting behind the key's default.
func (sp keySpec) brokerDefault(c *config.Config) (config.KafkaConfig, bool) {
	if sp.broker == "" {
		return config.KafkaConfig{}, false
	}
	return c.KafkaConfig(sp.broker)
}

// def renders the key's default on a broker configured as c.
func (sp keySpec) def(c *config.Config) string {
	if k, ok := sp.brokerDefault(c); ok {
		return k.Value
	}
	return sp.fixed
}

func parseInt(v string, min int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	if n < min {
		return 0, fmt.Errorf("%d is below the minimum %d", n, min)
	}
	return n, nil
}

var specs = map[string]keySpec{
	KeyRemoteStorageEnable: {
		kind:  config.KindBoolean,
		fixed: "false", // Kafka has no broker-wide default for it either
		apply: func(s *Settings, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			s.Log.RemoteStorage = b
			return nil
		},
	},
	KeyLocalRetentionMs: {
		kind:   config.KindLong,
		broker: "log.local.retention.ms",
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, storage.SameAsRetention)
			s.Log.LocalRetentionMs = time.Duration(n) * time.Millisecond
			return err
		},
	},
	KeyLocalRetentionBytes: {
		kind:   config.KindLong,
		broker: "log.local.retention.bytes",
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, storage.SameAsRetention)
			s.Log.LocalRetentionBytes = n
			return err
		},
	},
	KeyRetentionMs: {
		kind:   config.KindLong,
		broker: "log.retention.ms",
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, -1)
			if err != nil {
				return err
			}
			s.Log.RetentionMs = time.Duration(n) * time.Millisecond
			if n < 0 {
				s.Log.RetentionMs = -1
			}
			return nil
		},
	},
	KeyRetentionBytes: {
		kind:   config.KindLong,
		broker: "log.retention.bytes",
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, -1)
			s.Log.RetentionBytes = n
			return err
		},
	},
	KeySegmentBytes: {
		kind:   config.KindInt,
		broker: "log.segment.bytes",
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, 14)
			if err == nil && n > 1<<31-1 {
				err = fmt.Errorf("%d is above the maximum %d", n, 1<<31-1)
			}
			s.Log.SegmentBytes = n
			return err
		},
	},
	KeySegmentMs: {
		kind:   config.KindLong,
		broker: "log.roll.ms",
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, 1)
			s.Log.SegmentMs = time.Duration(n) * time.Millisecond
			return err
		},
	},
	KeyIndexIntervalBytes: {
		kind:   config.KindInt,
		broker: "log.index.interval.bytes",
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, 0)
			if err == nil && n > 1<<31-1 {
				err = fmt.Errorf("%d is too large", n)
			}
			s.Log.IndexIntervalBytes = int(n)
			if n == 0 {
				s.Log.IndexIntervalBytes = 1
			}
			return err
		},
	},
	KeyTimestampType: {
		kind:   config.KindString,
		broker: "log.message.timestamp.type",
		apply: func(s *Settings, v string) error {
			t, err := config.ParseTimestampType(v)
			s.TimestampType = t
			return err
		},
	},
	KeyMaxMessageBytes: {
		kind:   config.KindInt,
		broker: "message.max.bytes",
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, 0)
			if err == nil && n > 1<<31-1 {
				err = fmt.Errorf("%d is too large", n)
			}
			s.MaxMessageBytes = int32(n)
			return err
		},
	},
	KeyMinInsyncReplicas: {
		kind:   config.KindInt,
		broker: "min.insync.replicas",
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, 1)
			if err == nil && n > 1<<15 {
				err = fmt.Errorf("%d is too large", n)
			}
			s.MinInsync = int32(n)
			return err
		},
	},
	KeyUncleanElection: {
		kind:   config.KindBoolean,
		broker: "unclean.leader.election.enable",
		apply: func(s *Settings, v string) error {
			b, err := config.ParseBoolean(v)
			s.UncleanElection = b
			return err
		},
	},
}

// ErrInvalidConfig wraps every config validation failure (INVALID_CONFIG).
var ErrInvalidConfig = fmt.Errorf("invalid config")

// ValidateConfigs checks a set of overrides: known keys, parseable values,
// and remote.storage.enable only on a broker with tiering on.
func ValidateConfigs(defaults *config.Config, overrides map[string]string) error {
	s, err := resolve(defaults, overrides)
	if err != nil {
		return err
	}
	if err := checkCompactedTiering(s); err != nil {
		return err
	}
	return checkTiering(defaults, s)
}

// checkTiering refuses remote storage on a broker without an object store
// (Kafka refuses it without remote.log.storage.system.enable). It is not
// part of resolve: a topic that has it keeps loading on a broker restarted
// without tiering, and then simply keeps everything local.
func checkTiering(defaults *config.Config, s Settings) error {
	if s.Log.RemoteStorage && !defaults.TieringEnabled() {
		return fmt.Errorf("%w: %s: tiered storage is off on this broker (set --tier.dir or --tier.s3.bucket)", ErrInvalidConfig, KeyRemoteStorageEnable)
	}
	return nil
}

// DefaultSettings are the settings of a topic with no overrides: the
// broker defaults (validated when the broker starts).
func DefaultSettings(defaults *config.Config) (Settings, error) {
	return resolve(defaults, nil)
}

// resolve computes effective settings from broker defaults and overrides.
func resolve(defaults *config.Config, overrides map[string]string) (Settings, error) {
	var s Settings
	for key, spec := range specs {
		if err := spec.apply(&s, spec.def(defaults)); err != nil {
			return s, fmt.Errorf("%w: broker default for %s: %v", ErrInvalidConfig, key, err)
		}
	}
	for key, v := range overrides {
		spec, ok := specs[key]
		if !ok {
			return s, fmt.Errorf("%w: unknown or unsupported topic config %q", ErrInvalidConfig, key)
		}
		if err := spec.apply(&s, v); err != nil {
			return s, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, key, err)
		}
	}
	// Kafka's rule: the local copy cannot be kept longer than the whole.
	l := s.Log
	if l.LocalRetentionBytes >= 0 && l.RetentionBytes >= 0 && l.LocalRetentionBytes > l.RetentionBytes {
		return s, fmt.Errorf("%w: %s %d: must be <= %s %d", ErrInvalidConfig, KeyLocalRetentionBytes, l.LocalRetentionBytes, KeyRetentionBytes, l.RetentionBytes)
	}
	if l.LocalRetentionBytes == -1 && l.RetentionBytes >= 0 {
		return s, fmt.Errorf("%w: %s -1 (unlimited): must be <= %s %d", ErrInvalidConfig, KeyLocalRetentionBytes, KeyRetentionBytes, l.RetentionBytes)
	}
	if l.LocalRetentionMs >= 0 && l.RetentionMs >= 0 && l.LocalRetentionMs > l.RetentionMs {
		return s, fmt.Errorf("%w: %s %d: must be <= %s %d", ErrInvalidConfig, KeyLocalRetentionMs, l.LocalRetentionMs.Milliseconds(), KeyRetentionMs, l.RetentionMs.Milliseconds())
	}
	if l.LocalRetentionMs == -time.Millisecond && l.RetentionMs >= 0 {
		return s, fmt.Errorf("%w: %s -1 (unlimited): must be <= %s %d", ErrInvalidConfig, KeyLocalRetentionMs, KeyRetentionMs, l.RetentionMs.Milliseconds())
	}
	if err := checkCompactionLags(s); err != nil {
		return s, err
	}
	return s, nil
}

// ConfigKeys lists every supported key, sorted.
func ConfigKeys() []string {
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// BrokerConfigName returns the Kafka broker setting that supplies key's
// default, or "" when there is none.
func BrokerConfigName(key string) string { return specs[key].broker }

// EffectiveConfigs renders every supported key's effective value, source
// and synonyms, sorted by key.
func EffectiveConfigs(defaults *config.Config, overrides map[string]string) []ConfigEntry {
	out := make([]ConfigEntry, 0, len(specs))
	for _, k := range ConfigKeys() {
		sp := specs[k]
		e := ConfigEntry{Kind: sp.kind, Name: k}
		if v, ok := overrides[k]; ok {
			e.Synonyms = append(e.Synonyms, ConfigSynonym{Name: k, Value: v, Source: SourceTopic})
		}
		if b, ok := sp.brokerDefault(defaults); ok {
			if b.Set() {
				e.Synonyms = append(e.Synonyms, ConfigSynonym{Name: b.Name, Value: b.Value, Source: SourceStatic})
			}
			if b.HasDefault {
				e.Synonyms = append(e.Synonyms, ConfigSynonym{Name: b.Name, Value: b.Default, Source: SourceDefault})
			}
		}
		if len(e.Synonyms) > 0 {
			e.Value, e.Source = e.Synonyms[0].Value, e.Synonyms[0].Source
		} else {
			e.Value, e.Source = sp.fixed, SourceDefault
		}
		out = append(out, e)
	}
	return out
}
