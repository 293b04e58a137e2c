package storage

import (
	"log/slog"
	"math"
	"time"
)

// Defaults applied by Open and SetConfig to zero or out-of-range values.
const (
	DefaultSegmentBytes       = 1 << 30 // Kafka's segment.bytes default
	DefaultIndexIntervalBytes = 4096    // Kafka's index.interval.bytes default
	DefaultProducerExpiration = 24 * time.Hour
	// maxSegmentBytes keeps file positions within the index's uint32.
	maxSegmentBytes = math.MaxInt32
)

// Config holds the per-topic settings of a log. Field comments give the
// Kafka topic config each one implements.
type Config struct {
	// SegmentBytes (segment.bytes): roll before an append would make the
	// active segment exceed this. A single batch larger than this still
	// goes in, alone in its segment. <= 0 means DefaultSegmentBytes; values
	// above MaxInt32 are capped.
	SegmentBytes int64
	// SegmentMs (segment.ms): roll when the active segment's first batch
	// was appended longer ago than this. 0 = never.
	SegmentMs time.Duration
	// RetentionBytes (retention.bytes): delete the oldest whole segments
	// while the log would still hold at least this many bytes without them
	// (Kafka's rule). -1 (any negative) = unlimited. Note 0 is a real
	// limit: keep only the active segment.
	RetentionBytes int64
	// RetentionMs (retention.ms): delete whole segments whose largest
	// timestamp is older than now-RetentionMs. < 0 = unlimited. Note 0 is
	// a real limit.
	RetentionMs time.Duration
	// IndexIntervalBytes (index.interval.bytes): one sparse index entry per
	// about this many bytes of log. <= 0 means DefaultIndexIntervalBytes.
	IndexIntervalBytes int
	// RemoteStorage (remote.storage.enable, and tiering on in the broker):
	// sealed segments go to the remote tier, and retention deletes a local
	// segment only once MarkUploaded covers it, by the local limits below
	// instead of RetentionBytes/RetentionMs (which then bound the remote
	// tier). Off, the two fields below are ignored.
	RemoteStorage bool
	// LocalRetentionBytes (local.retention.bytes): as RetentionBytes, for
	// the local copy. -2 = same as RetentionBytes.
	LocalRetentionBytes int64
	// LocalRetentionMs (local.retention.ms): as RetentionMs, for the local
	// copy. -2ms = same as RetentionMs.
	LocalRetentionMs time.Duration

	// Compaction (cleanup.policy and the cleaner's topic configs; see
	// doc.go, Compaction).

	// Compact (cleanup.policy contains compact): Clean keeps the last
	// record of each key. Off, Clean does nothing.
	Compact bool
	// NoRetention (cleanup.policy lacks delete): retention.* never
	// delete segments.
	NoRetention bool
	// DeleteRetention (delete.retention.ms): a tombstone is kept this
	// long after the clean that first kept it (its batch's delete
	// horizon, KIP-534), then removed.
	DeleteRetention time.Duration
	// MinCompactionLag (min.compaction.lag.ms): a segment holding a
	// record newer than this is not cleaned (KIP-58).
	MinCompactionLag time.Duration
	// MaxCompactionLag (max.compaction.lag.ms): a log with a dirty
	// record older than this is due for cleaning whatever its dirty
	// ratio (KIP-354). 0 = no limit.
	MaxCompactionLag time.Duration
	// MinCleanableRatio (min.cleanable.dirty.ratio): the cleaner skips a
	// log whose dirty ratio is below this unless it is due.
	MinCleanableRatio float64
}

// SameAsRetention is the value of LocalRetentionBytes (and, in
// milliseconds, LocalRetentionMs) that means "as retention.*" (Kafka's -2).
const SameAsRetention = -2

// localLimits returns the retention limits that bound the local log:
// retention.* without remote storage, local.retention.* with it.
func (c Config) localLimits() (bytes int64, age time.Duration) {
	if !c.RemoteStorage {
		return c.RetentionBytes, c.RetentionMs
	}
	bytes, age = c.LocalRetentionBytes, c.LocalRetentionMs
	if bytes == SameAsRetention {
		bytes = c.RetentionBytes
	}
	if age == SameAsRetention*time.Millisecond {
		age = c.RetentionMs
	}
	return bytes, age
}

// DefaultConfig returns Kafka's topic defaults: 1 GiB segments, 7 days
// retention, no size limit, no time roll, 4 KiB index interval.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       DefaultSegmentBytes,
		SegmentMs:          7 * 24 * time.Hour,
		RetentionBytes:     -1,
		RetentionMs:        7 * 24 * time.Hour,
		IndexIntervalBytes: DefaultIndexIntervalBytes,
		// Unused unless RemoteStorage is set.
		LocalRetentionBytes: SameAsRetention,
		LocalRetentionMs:    SameAsRetention * time.Millisecond,
		// Unused unless Compact is set.
		DeleteRetention:   24 * time.Hour,
		MinCleanableRatio: 0.5,
	}
}

// normalized returns c with defaults applied to zero or invalid fields.
func (c Config) normalized() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentBytes > maxSegmentBytes {
		c.SegmentBytes = maxSegmentBytes
	}
	if c.SegmentMs < 0 {
		c.SegmentMs = 0
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	return c
}

// FlushPolicy is the broker-wide fsync policy. See doc.go for the
// durability each setting gives an acknowledged write.
type FlushPolicy struct {
	// Interval: fsync dirty data at least this often, done by Maintain.
	// 0 = off.
	Interval time.Duration
	// Bytes: fsync from Append once this many bytes are unflushed. 0 = off.
	Bytes int64
}

// Options configure Open.
type Options struct {
	Config Config
	Flush  FlushPolicy
	// Now is the clock, injected for tests. Default time.Now.
	Now func() time.Time
	// Logger receives recovery and error reports. Default slog.Default().
	Logger *slog.Logger
	// FS is the filesystem. Default OSFS.
	FS FS
	// ProducerExpiration (producer.id.expiration.ms): Maintain forgets an
	// idempotent producer whose last batch timestamp is older than this.
	// 0 means DefaultProducerExpiration; negative = never.
	ProducerExpiration time.Duration
	// OnSealed, when set, is called once for each rolled segment after its
	// log, indexes and producer snapshot are fsynced (tiered storage offers
	// it for upload). It runs on the syncing goroutine with the log's sync
	// lock held (never its state lock): it must return quickly and must not
	// call Sync, Close, Delete or Maintain of the log; MarkUploaded and
	// the read methods are fine.
	OnSealed func(SealedSegment)
}

func (o Options) withDefaults() Options {
	o.Config = o.Config.normalized()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.ProducerExpiration == 0 {
		o.ProducerExpiration = DefaultProducerExpiration
	}
	return o
}
