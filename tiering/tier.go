package tiering

import (
	"context"
	"time"

	"github.com/kafki/kafki/tiering/audit"
	"github.com/kafki/kafki/tiering/cleanup"
	"github.com/kafki/kafki/tiering/fetch"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
	"github.com/kafki/kafki/tiering/upload"
)

// Config assembles a Tier.
type Config struct {
	Store objstore.Store
	Meta  remote.Store
	// Reader tunes remote reads (cache budget, chunk size, concurrency).
	Reader fetch.Options
	// SweepGrace is how old an unreferenced object or an unfinished
	// upload must be before Sweep deletes it; it must exceed the longest
	// upload (0: cleanup.DefaultGrace).
	SweepGrace time.Duration
	// Now is the clock (nil: time.Now); tests move it.
	Now func() time.Time
}

// Tier is tiered storage for all partitions of a broker.
type Tier struct {
	store     objstore.Store
	meta      remote.Store
	uploader  *upload.Uploader
	reader    *fetch.Reader
	sweeper   *cleanup.Sweeper
	retention *cleanup.Retention
}

// New returns a Tier; Close releases it.
func New(cfg Config) *Tier {
	return &Tier{
		store:     cfg.Store,
		meta:      cfg.Meta,
		uploader:  upload.New(cfg.Store, cfg.Meta, cfg.Now),
		reader:    fetch.NewReader(cfg.Store, cfg.Meta, cfg.Reader),
		sweeper:   cleanup.NewSweeper(cfg.Store, cfg.Meta, cfg.SweepGrace, cfg.Now),
		retention: cleanup.NewRetention(cfg.Store, cfg.Meta, cfg.Now),
	}
}

// OnSegmentSealed uploads a rolled segment and commits its metadata.
func (t *Tier) OnSegmentSealed(ctx context.Context, s upload.Sealed) (remote.Segment, error) {
	return t.uploader.Upload(ctx, s)
}

// ReadRemote returns whole batches from offset, up to maxBytes (at least
// one batch), from the remote segment holding offset.
func (t *Tier) ReadRemote(ctx context.Context, tp remote.TopicPartition, offset int64, maxBytes int) (fetch.Result, error) {
	return t.reader.Read(ctx, tp, offset, maxBytes)
}

// TxnIndexes visits the aborted-transactions indexes of tp's remote
// segments from the one holding from (see fetch.Reader.TxnIndexes).
func (t *Tier) TxnIndexes(ctx context.Context, tp remote.TopicPartition, from int64, visit func(fetch.TxnIndex) bool) error {
	return t.reader.TxnIndexes(ctx, tp, from, visit)
}

// RemoteBounds returns the remote tier's first offset and the offset
// after its last; ok is false when it holds nothing for tp.
func (t *Tier) RemoteBounds(ctx context.Context, tp remote.TopicPartition) (start, end int64, ok bool, err error) {
	return t.reader.Bounds(ctx, tp)
}

// OffsetForTimestamp returns the earliest remote offset with a timestamp
// >= ts; found is false if all remote records are older.
func (t *Tier) OffsetForTimestamp(ctx context.Context, tp remote.TopicPartition, ts int64) (offset int64, found bool, err error) {
	return t.reader.OffsetForTimestamp(ctx, tp, ts)
}

// ApplyRetention deletes remote segments past total retention.
func (t *Tier) ApplyRetention(ctx context.Context, tp remote.TopicPartition, epoch int32, p cleanup.Policy, localBytes int64) (cleanup.RetentionResult, error) {
	return t.retention.Apply(ctx, tp, epoch, p, localBytes)
}

// Sweep removes crash leftovers of tp.
func (t *Tier) Sweep(ctx context.Context, tp remote.TopicPartition, epoch int32) (cleanup.SweepResult, error) {
	return t.sweeper.Sweep(ctx, tp, epoch)
}

// Verify audits tp's remote tier against its metadata (read only); with
// checksums every finished segment's objects are read whole.
func (t *Tier) Verify(ctx context.Context, tp remote.TopicPartition, checksums bool) (audit.Report, error) {
	return audit.Verify(ctx, t.store, t.meta, tp, checksums)
}

// ReaderStats returns the remote reader's cache and fetch counters.
func (t *Tier) ReaderStats() fetch.Stats { return t.reader.Stats() }

// Close stops background read-ahead.
func (t *Tier) Close() error { return t.reader.Close() }
