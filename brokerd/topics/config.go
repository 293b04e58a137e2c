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
)

// ConfigSource says where an effective value came from, as DescribeConfigs
// reports it.
type ConfigSource int8

const (
	SourceTopic   ConfigSource = 1 // DYNAMIC_TOPIC_CONFIG
	SourceDefault ConfigSource = 5 // DEFAULT_CONFIG
	SourceStatic  ConfigSource = 4 // STATIC_BROKER_CONFIG
)

// ConfigEntry is one effective topic setting.
type ConfigEntry struct {
	Kind      string // long, int, string or list, for DescribeConfigs' config type
	Name      string
	Value     string
	Source    ConfigSource
	Sensitive bool
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
	kind string
	// def renders the broker default.
	def func(c *config.Config) string
	// apply parses v into s, or explains why it cannot.
	apply func(s *Settings, v string) error
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

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

var specs = map[string]keySpec{
	KeyRemoteStorageEnable: {
		kind: "string", // BOOLEAN once DescribeConfigs maps it
		def:  func(c *config.Config) string { return "false" },
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
		kind: "long",
		def:  func(c *config.Config) string { return "-2" },
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, storage.SameAsRetention)
			s.Log.LocalRetentionMs = time.Duration(n) * time.Millisecond
			return err
		},
	},
	KeyLocalRetentionBytes: {
		kind: "long",
		def:  func(c *config.Config) string { return "-2" },
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, storage.SameAsRetention)
			s.Log.LocalRetentionBytes = n
			return err
		},
	},
	KeyRetentionMs: {
		kind: "long",
		def: func(c *config.Config) string {
			if c.RetentionMs < 0 {
				return "-1"
			}
			return ms(c.RetentionMs)
		},
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
		kind: "long",
		def:  func(c *config.Config) string { return strconv.FormatInt(c.RetentionBytes, 10) },
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, -1)
			s.Log.RetentionBytes = n
			return err
		},
	},
	KeySegmentBytes: {
		kind: "int",
		def:  func(c *config.Config) string { return strconv.FormatInt(c.SegmentBytes, 10) },
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
		kind: "long",
		def:  func(c *config.Config) string { return ms(c.SegmentMs) },
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, 1)
			s.Log.SegmentMs = time.Duration(n) * time.Millisecond
			return err
		},
	},
	KeyIndexIntervalBytes: {
		kind: "int",
		def:  func(c *config.Config) string { return strconv.Itoa(c.IndexIntervalBytes) },
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
	KeyCleanupPolicy: {
		kind: "list",
		def:  func(c *config.Config) string { return "delete" },
		apply: func(s *Settings, v string) error {
			if v != "delete" {
				return fmt.Errorf("%q is not supported yet: Kafki topics use cleanup.policy=delete", v)
			}
			s.CleanupPolicy = v
			return nil
		},
	},
	KeyTimestampType: {
		kind: "string",
		def:  func(c *config.Config) string { return string(c.TimestampType) },
		apply: func(s *Settings, v string) error {
			t, err := config.ParseTimestampType(v)
			s.TimestampType = t
			return err
		},
	},
	KeyMaxMessageBytes: {
		kind: "int",
		def:  func(c *config.Config) string { return strconv.FormatInt(int64(c.MaxMessageBytes), 10) },
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
		kind: "int",
		def:  func(c *config.Config) string { return "1" },
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
		kind: "boolean",
		def:  func(c *config.Config) string { return "false" },
		apply: func(s *Settings, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil || (v != "true" && v != "false") {
				return fmt.Errorf("%q is not true or false", v)
			}
			s.UncleanElection = b
			return nil
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

// EffectiveConfigs renders every supported key's effective value and source.
func EffectiveConfigs(defaults *config.Config, overrides map[string]string) []ConfigEntry {
	out := make([]ConfigEntry, 0, len(specs))
	for _, k := range ConfigKeys() {
		if v, ok := overrides[k]; ok {
			out = append(out, ConfigEntry{Kind: specs[k].kind, Name: k, Value: v, Source: SourceTopic})
			continue
		}
		out = append(out, ConfigEntry{Kind: specs[k].kind, Name: k, Value: specs[k].def(defaults), Source: SourceDefault})
	}
	return out
}
