package storage

import (
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
)

// Log is the durable log of one partition. All methods are safe for
// concurrent use.
type Log struct {
	dir                string
	fs                 FS
	now                func() time.Time
	logger             *slog.Logger
	flush              FlushPolicy
	producerExpiration time.Duration
	onSealed           func(SealedSegment)

	// syncMu serializes fsyncs, checkpoint writes and the closing of files
	// of removed segments, so an fsync running outside mu never races a
	// Close of the same file. Lock order: syncMu before mu.
	syncMu sync.Mutex
	// cleanMu serializes Clean passes; lock order: cleanMu before syncMu.
	cleanMu sync.Mutex

	mu        sync.RWMutex
	cfg       Config
	segments  []*segment // sorted by base; the last is active; never empty while open
	producers producers
	// txnData: a transactional or control batch was appended or found
	// since Open, or the producer snapshot loaded holds an open
	// transaction (the cleaner refuses such logs, see clean.go; without
	// it no transaction can be open, which the LSO relies on).
	txnData bool
	// rebuildTxnFrom is, during recovery only, the base of the first
	// segment whose aborted-transactions list must be rebuilt by the
	// producer-state replay (math.MaxInt64: none).
	rebuildTxnFrom int64
	epochs         epochCache // leader-epoch history
	logStart       int64
	logEnd         int64
	size           int64 // sum of segment sizes
	// unflushed counts bytes appended since the last fsync began.
	unflushed int64
	// flushed is the in-memory recovery point: every batch below it, and
	// every sealed segment below it with indexes and snapshot, is fsynced.
	flushed int64
	// checkpointed is the recovery point last written to its file.
	checkpointed int64
	lastFlush    time.Time
	// sealing holds rolled segments whose data, indexes and producer
	// snapshot are not fsynced yet; the next sync does it.
	sealing []sealJob
	offline error
	closed  bool
	// remoteEnd is the offset after the last one the remote tier holds
	// (MarkUploaded); with Config.RemoteStorage retention deletes only
	// segments below it. In memory only: after a restart nothing local is
	// deleted until the uploader has reported again.
	remoteEnd int64
	// firstDirty is where the next Clean starts its offset map: below
	// it, the log was cleaned (clamped into the log when used). gapBound
	// is the end of the highest segment group a clean swapped in:
	// recovery accepts offset gaps below it. Both are persisted in the
	// cleaner checkpoint (clean.go).
	firstDirty, gapBound int64
	// tombstonesDue (ms, 0 none) is the earliest delete horizon of the
	// tombstones the last clean kept: from then on a pass removes them
	// even without new dirty data. In memory only.
	tombstonesDue int64

	chMu     sync.Mutex
	changed  chan struct{} // nil until someone waits
	chClosed bool          // set by Close/Delete: Changed returns a closed channel
}

// sealJob is the deferred durable part of a roll.
type sealJob struct {
	seg      *segment
	snapshot []byte // producer state as of seg.next, written as seg.next's snapshot
}

// AppendOptions modify one Append.
type AppendOptions struct {
	// LogAppendTime (message.timestamp.type=LogAppendTime) stamps the
	// batch with the broker's clock.
	LogAppendTime bool
	// Sync fsyncs before returning (acks=all in fsync-on-ack mode).
	Sync bool
	// LeaderEpoch is stamped on the batch as its partition leader epoch,
	// as a Kafka leader does; a new epoch is recorded in the log's
	// leader-epoch history (0 on a single node).
	LeaderEpoch int32
	// Coordinator marks the broker's own batch (the group coordinator's
	// transactional offset commits, Kafka's AppendOrigin.COORDINATOR):
	// its producer epoch is checked, its sequence is not. The
	// coordinator writes one producer's batches in order under its own
	// lock and never retries them, so there is nothing to deduplicate,
	// and it cannot know the sequences storage remembers.
	Coordinator bool
}

// AppendResult describes an appended batch.
type AppendResult struct {
	BaseOffset, LastOffset int64
	LogAppendTime          int64 // -1 unless stamped
	LogStartOffset         int64
	// Duplicate: an idempotent retry of a batch already in the log. The
	// offsets are those of the original append; nothing was written.
	Duplicate bool
}

// Append appends exactly one already-validated v2 batch. The log owns b
// afterwards: it rewrites its base offset (and for LogAppendTime its max
// timestamp, attributes and CRC). It costs one write(2) and no
// allocation, plus an fsync when opts.Sync or the Bytes flush policy asks.
func (l *Log) Append(b []byte, opts AppendOptions) (AppendResult, error) {
	res := AppendResult{BaseOffset: -1, LastOffset: -1, LogAppendTime: -1}
	h, err := batch.ParseHeader(b)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrInvalidBatch, err)
	}
	if h.Size() != len(b) || h.LastOffsetDelta < 0 {
		return res, fmt.Errorf("%w: %d bytes, header says %d, last offset delta %d", ErrInvalidBatch, len(b), h.Size(), h.LastOffsetDelta)
	}
	ctrl, err := controlType(b, &h)
	if err != nil {
		return res, err
	}

	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return res, err
	}
	var dup *batchMeta
	if opts.Coordinator {
		err = l.producers.checkEpoch(&h)
	} else {
		dup, err = l.producers.check(&h)
	}
	if err != nil {
		l.mu.Unlock()
		return res, err
	}
	if dup != nil {
		res.BaseOffset, res.LastOffset = dup.firstOffset, dup.lastOffset
		res.LogStartOffset = l.logStart
		res.Duplicate = true
		l.mu.Unlock()
		return res, nil
	}
	if l.logEnd > math.MaxInt64-int64(h.LastOffsetDelta)-1 {
		l.mu.Unlock()
		return res, fmt.Errorf("%w: offset space exhausted", ErrInvalidBatch)
	}
	now := l.now()
	h.BaseOffset = l.logEnd
	seg := l.active()
	if !seg.fits(len(b), h.LastOffset(), l.cfg.SegmentBytes) || l.agedLocked(seg, now) {
		if seg, err = l.rollLocked(now); err != nil {
			l.mu.Unlock()
			return res, err
		}
	}
	batch.SetBaseOffset(b, h.BaseOffset)
	batch.SetPartitionLeaderEpoch(b, opts.LeaderEpoch)
	h.PartitionLeaderEpoch = opts.LeaderEpoch
	if opts.LogAppendTime {
		ts := now.UnixMilli()
		batch.SetLogAppendTime(b, ts)
		h.MaxTimestamp = ts
		h.Attributes |= batch.AttrLogAppendTime
		res.LogAppendTime = ts
	}
	pos := seg.size
	if _, err := seg.log.WriteAt(b, pos); err != nil {
		err = l.failWriteLocked(seg, pos, err)
		l.mu.Unlock()
		return res, err
	}
	seg.track(&h, pos, len(b), l.cfg.IndexIntervalBytes, now)
	l.applyProducerLocked(seg, &h, ctrl, true)
	if l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset) {
		// Rare (once per leadership). If the checkpoint cannot be
		// written, remove it: the next open rebuilds the history from
		// the epochs stamped on the batches.
		if err := l.writeEpochs(); err != nil {
			l.logger.Error("storage: leader-epoch checkpoint", "err", err)
			_ = l.fs.Remove(filepath.Join(l.dir, leaderEpochFile))
		}
	}
	l.logEnd = seg.next
	l.size += int64(len(b))
	l.unflushed += int64(len(b))
	res.BaseOffset, res.LastOffset = h.BaseOffset, h.LastOffset()
	res.LogStartOffset = l.logStart
	needSync := opts.Sync || (l.flush.Bytes > 0 && l.unflushed >= l.flush.Bytes)
	l.mu.Unlock()

	l.notify()
	if needSync {
		if err := l.sync(false, false); err != nil {
			return res, err
		}
	}
	return res, nil
}

// writableLocked returns why the log cannot be appended to, if it cannot.
func (l *Log) writableLocked() error {
	if l.closed {
		return ErrClosed
	}
	if l.offline != nil {
		return fmt.Errorf("%w: log offline: %w", ErrStorage, l.offline)
	}
	return nil
}

// failWriteLocked handles a failed write at pos: it cuts the file back so
// no partial batch stays behind and takes the log offline.
func (l *Log) failWriteLocked(seg *segment, pos int64, werr error) error {
	err := fmt.Errorf("%w: write segment %d at %d: %w", ErrStorage, seg.base, pos, werr)
	if terr := seg.log.Truncate(pos); terr != nil {
		l.logger.Error("storage: cannot truncate after failed write; recovery will", "segment", seg.base, "size", pos, "err", terr)
	}
	l.setOfflineLocked(err)
	return err
}

func (l *Log) setOfflineLocked(err error) {
	if l.offline == nil {
		l.offline = err
		l.logger.Error("storage: log offline", "dir", l.dir, "err", err)
	}
}

// Offline returns the error that took the log offline, nil if none.
func (l *Log) Offline() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.offline
}

func (l *Log) active() *segment { return l.segments[len(l.segments)-1] }

// agedLocked reports whether seg is due for a roll by segment.ms, or, in
// a compacted log, by max.compaction.lag.ms (KIP-354: the active segment
// is never cleaned, so it must close for its records to be compacted in
// time).
func (l *Log) agedLocked(seg *segment, now time.Time) bool {
	if seg.empty() {
		return false
	}
	age := now.Sub(seg.firstAppend)
	return l.cfg.SegmentMs > 0 && age > l.cfg.SegmentMs ||
		l.cfg.Compact && l.cfg.MaxCompactionLag > 0 && age > l.cfg.MaxCompactionLag
}

// rollLocked seals the active segment and starts a new one at logEnd. The
// fsyncs of the sealed segment are left to the next sync (see sealing).
func (l *Log) rollLocked(now time.Time) (*segment, error) {
	old := l.active()
	if old.empty() {
		return old, nil
	}
	seg, err := openSegment(l.fs, l.dir, l.logEnd, true)
	if err != nil {
		return nil, err
	}
	if seg.size != 0 {
		// A leftover file at this base cannot hold valid data: recovery
		// would have loaded it. Start clean.
		if err := seg.log.Truncate(0); err != nil {
			seg.log.Close()
			return nil, fmt.Errorf("%w: truncate new segment %d: %w", ErrStorage, l.logEnd, err)
		}
		seg.size = 0
	}
	seg.lastModified = now
	old.seal()
	l.segments = append(l.segments, seg)
	l.sealing = append(l.sealing, sealJob{seg: old, snapshot: encodeSnapshot(l.producers)})
	l.logger.Debug("storage: rolled segment", "old", old.base, "new", seg.base)
	return seg, nil
}

// segmentFor returns the index of the last segment with base <= off.
func (l *Log) segmentFor(off int64) int {
	return sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > off }) - 1
}

// LogStartOffset is the first offset still in the log.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.logStart
}

// LogEndOffset is the next offset to assign.
func (l *Log) LogEndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.logEnd
}

// Size is the number of bytes in all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// NumSegments is the number of segments, the active one included.
func (l *Log) NumSegments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segments)
}

// Config returns the current per-topic settings (defaults applied).
func (l *Log) Config() Config {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cfg
}

// SetConfig changes the per-topic settings; they apply from the next
// Append or Maintain.
func (l *Log) SetConfig(c Config) {
	l.mu.Lock()
	l.cfg = c.normalized()
	l.mu.Unlock()
}

// Changed returns a channel closed at the next successful append, or when
// the log is closed or deleted. Fetch long-polls take it, check for data,
// then wait on it.
func (l *Log) Changed() <-chan struct{} {
	l.chMu.Lock()
	defer l.chMu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
		if l.chClosed {
			close(l.changed)
		}
	}
	return l.changed
}

// notify wakes the waiters of Changed. It allocates nothing when nobody
// waits.
func (l *Log) notify() {
	l.chMu.Lock()
	if l.changed != nil && !l.chClosed {
		close(l.changed)
		l.changed = nil
	}
	l.chMu.Unlock()
}

func (l *Log) notifyClosed() {
	l.chMu.Lock()
	if !l.chClosed {
		l.chClosed = true
		if l.changed != nil {
			close(l.changed)
		}
	}
	l.chMu.Unlock()
}
