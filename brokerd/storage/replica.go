package storage

// This file is the follower's side of replication: appending batches a
// leader already numbered (AppendReplica) and cutting the log back when
// leadership changes (TruncateTo, KIP-101/KIP-279) or when the follower
// must restart from the leader's log start (TruncateFullyAndStartAt).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
)

// Header positions AppendReplica needs to judge a trailing partial batch
// before the whole header is present.
const (
	replicaOffLength = 8  // batchLength int32
	replicaOffMagic  = 16 // magic int8
)

// replicaBatch is one whole batch of an AppendReplica input.
type replicaBatch struct {
	h    batch.Header
	pos  int               // position in the input
	ctrl batch.ControlType // marker type of a control batch
}

// AppendReplica appends batches as a follower copies them from its
// leader: one or more whole v2 batches, back to back, as a Fetch response
// returns them. Offsets and partition leader epochs are the leader's and
// are kept as they are; the log does not modify batches.
//
//   - The first batch must start at LogEndOffset and each next batch right
//     after the previous one's last offset; otherwise the call fails with
//     ErrOffsetMismatch.
//   - Every whole batch's framing, magic and CRC are checked (the CRC again
//     even if the caller did: recovery would cut a bad batch and everything
//     after it); bad bytes fail with ErrInvalidBatch.
//   - A trailing partial batch, which a Fetch response may end with, is
//     dropped as Kafka's followers drop it, provided the part present is
//     plausible (sane length, magic 2 if visible); the follower fetches it
//     again from the new log end.
//
// Validation runs over the whole input first: on a validation error
// nothing is appended. A write error takes the log offline as for Append;
// batches written by earlier write(2)s of the same call (one per segment)
// stay. No idempotence check runs (the leader did it), but producer
// state is updated from each batch so that the follower can take over as
// leader, and each batch's leader epoch enters the leader-epoch history.
// Segments roll by size and age and the flush policy applies as for
// Append; sync fsyncs before returning.
//
// The result gives the first appended batch's base offset and the last
// one's last offset; with nothing appended (empty input, or only a
// partial batch) both are -1 and the call succeeds.
func (l *Log) AppendReplica(batches []byte, sync bool) (AppendResult, error) {
	res := AppendResult{BaseOffset: -1, LastOffset: -1, LogAppendTime: -1}
	if len(batches) == 0 {
		return res, nil
	}
	bs, err := parseReplicaBatches(batches)
	if err != nil {
		return res, err
	}

	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return res, err
	}
	res.LogStartOffset = l.logStart
	if len(bs) == 0 {
		l.mu.Unlock()
		return res, nil
	}
	want := l.logEnd
	gapTo := int64(-1)
	for i := range bs {
		h := &bs[i].h
		if h.BaseOffset != want {
			// A compacted leader's log has gaps: the batch after one
			// starts beyond the offset asked for, as in Kafka.
			if !l.cfg.Compact || h.BaseOffset < want {
				l.mu.Unlock()
				return res, fmt.Errorf("%w: batch %d of %d starts at offset %d, log end is %d", ErrOffsetMismatch, i, len(bs), h.BaseOffset, want)
			}
			gapTo = h.BaseOffset
		}
		want = h.LastOffset() + 1
	}
	if gapTo > l.gapBound {
		// Recovery must accept the gap even in the active segment: the
		// bound is durable before the batches after it are written.
		l.gapBound = gapTo
		if err := l.writeCleanerCheckpointLocked(); err != nil {
			l.mu.Unlock()
			return res, err
		}
	}

	now := l.now()
	epochsChanged := false
	var werr error
	// Batches bound for the same segment go out in one write(2): each
	// pass rolls if needed, then writes the run bs[from:to] that fits.
	from := 0
	for from < len(bs) {
		seg := l.active()
		first := &bs[from].h
		if !seg.fits(first.Size(), first.LastOffset(), l.cfg.SegmentBytes) || l.agedLocked(seg, now) {
			if seg, werr = l.rollLocked(now); werr != nil {
				break
			}
		}
		to, n := from+1, int64(first.Size())
		for to < len(bs) && seg.fitsAfter(n, bs[to].h.Size(), bs[to].h.LastOffset(), l.cfg.SegmentBytes) {
			n += int64(bs[to].h.Size())
			to++
		}
		start := bs[from].pos
		pos := seg.size
		if _, err := seg.log.WriteAt(batches[start:start+int(n)], pos); err != nil {
			werr = l.failWriteLocked(seg, pos, err)
			break
		}
		for i := from; i < to; i++ {
			h := &bs[i].h
			seg.track(h, pos+int64(bs[i].pos-start), h.Size(), l.cfg.IndexIntervalBytes, now)
			l.applyProducerLocked(seg, h, bs[i].ctrl, true)
			if l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset) {
				epochsChanged = true
			}
		}
		l.logEnd = seg.next
		l.size += n
		l.unflushed += n
		from = to
	}
	if epochsChanged {
		// As in Append: rare, and a missing checkpoint is rebuilt from the
		// stamped batches at the next open.
		if err := l.writeEpochs(); err != nil {
			l.logger.Error("storage: leader-epoch checkpoint", "err", err)
			_ = l.fs.Remove(filepath.Join(l.dir, leaderEpochFile))
		}
	}
	if from > 0 {
		res.BaseOffset, res.LastOffset = bs[0].h.BaseOffset, bs[from-1].h.LastOffset()
	}
	needSync := werr == nil && (sync || (l.flush.Bytes > 0 && l.unflushed >= l.flush.Bytes))
	l.mu.Unlock()

	if from > 0 {
		l.notify()
	}
	if werr != nil {
		return res, werr
	}
	if needSync {
		if err := l.sync(false, false); err != nil {
			return res, err
		}
	}
	return res, nil
}

// parseReplicaBatches splits b into whole batches, checking each one's
// header, offsets and CRC, and drops a plausible trailing partial batch.
func parseReplicaBatches(b []byte) ([]replicaBatch, error) {
	var out []replicaBatch
	for p := 0; p < len(b); {
		rest := b[p:]
		if len(rest) < batch.HeaderSize {
			if err := checkPartialHeader(rest); err != nil {
				return nil, fmt.Errorf("%w: at byte %d: %w", ErrInvalidBatch, p, err)
			}
			break
		}
		h, err := batch.ParseHeader(rest)
		if errors.Is(err, batch.ErrTruncated) {
			// The header is whole and sane; only the records are cut off.
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: at byte %d: %w", ErrInvalidBatch, p, err)
		}
		if h.BaseOffset < 0 || h.LastOffsetDelta < 0 || h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1 {
			return nil, fmt.Errorf("%w: at byte %d: base offset %d, last offset delta %d", ErrInvalidBatch, p, h.BaseOffset, h.LastOffsetDelta)
		}
		if err := batch.CheckCRC(rest, &h); err != nil {
			return nil, fmt.Errorf("%w: batch at offset %d: %w", ErrInvalidBatch, h.BaseOffset, err)
		}
		ctrl, err := controlType(rest[:h.Size()], &h)
		if err != nil {
			return nil, err
		}
		out = append(out, replicaBatch{h: h, pos: p, ctrl: ctrl})
		p += h.Size()
	}
	return out, nil
}

// checkPartialHeader rejects a tail shorter than a batch header whose
// visible fields already show it is not the start of a batch.
func checkPartialHeader(rest []byte) error {
	if len(rest) >= replicaOffLength+4 {
		if n := int32(binary.BigEndian.Uint32(rest[replicaOffLength:])); n < batch.HeaderSize-batch.LengthPrefix {
			return fmt.Errorf("trailing batch length %d below header size", n)
		}
	}
	if len(rest) > replicaOffMagic && rest[replicaOffMagic] != 2 {
		return fmt.Errorf("trailing batch magic %d", int8(rest[replicaOffMagic]))
	}
	return nil
}

// TruncateTo removes every record at or after offset, as a follower does
// after asking the leader where its last leader epoch ends (KIP-101). A
// batch is never split: if offset falls inside one, the whole batch goes
// and the log ends at its base offset (Kafka truncates at batch
// boundaries too). offset >= LogEndOffset is a no-op; offset below
// LogStartOffset fails with ErrOffsetOutOfRange (use
// TruncateFullyAndStartAt).
//
// Segments after the one holding the cut are deleted; that one is cut at
// the batch boundary and becomes the active segment, even when it is
// left empty (a cut at a segment's base keeps the segment, as Kafka
// does). The leader-epoch history drops epochs starting at or after the
// new end, producer state is rebuilt from the newest snapshot at or below
// it plus a replay, snapshots beyond it are deleted, and the recovery
// point and the MarkUploaded mark are lowered to it. The cut segment is
// fsynced so the dropped bytes cannot come back after a machine crash.
//
// Reads and appends wait for the truncation, which reads at most a few
// index intervals of the cut segment plus what the producer-state replay
// needs. A crash in the middle leaves a prefix of the old log, which a
// follower handles by asking its leader again.
func (l *Log) TruncateTo(offset int64) error {
	// syncMu first: no fsync may run on a file this closes or cuts, and
	// no seal job may be taken while the list is rewritten.
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if offset < l.logStart {
		return fmt.Errorf("%w: truncate to %d, log is [%d, %d)", ErrOffsetOutOfRange, offset, l.logStart, l.logEnd)
	}
	if offset >= l.logEnd {
		return nil
	}
	i := l.segmentFor(offset)
	s := l.segments[i]
	c, err := s.findCut(offset)
	if err != nil {
		return err
	}
	newEnd := c.next
	l.logger.Info("storage: truncating log", "dir", l.dir, "requested", offset, "new_end", newEnd, "old_end", l.logEnd)

	// A lower recovery point first: a crash from here on validates more.
	if l.checkpointed > newEnd {
		if err := writeRecoveryPoint(l.fs, l.dir, newEnd); err != nil {
			l.setOfflineLocked(err)
			return err
		}
		l.checkpointed = newEnd
	}
	// Snapshots beyond the new end describe batches that are going away.
	if err := l.removeSnapshotsAbove(newEnd); err != nil {
		l.setOfflineLocked(err)
		return err
	}
	// A logical start inside the batch holding the cut goes down to the
	// batch's base with it (Kafka lowers its log start to the target too).
	if err := l.lowerLogStartLocked(newEnd); err != nil {
		l.setOfflineLocked(err)
		return err
	}

	doomed := slices.Clone(l.segments[i+1:])
	l.segments = slices.Clone(l.segments[:i+1])
	for _, d := range doomed {
		l.size -= d.size
	}
	oldSize := s.size
	l.size -= oldSize - c.pos
	// s is active again: a pending seal of it (or of anything later) no
	// longer applies.
	l.sealing = slices.DeleteFunc(l.sealing, func(j sealJob) bool { return j.seg.base >= s.base })
	s.applyCut(c, l.now())
	l.logEnd = newEnd
	l.flushed = min(l.flushed, newEnd)
	// Cleaned data beyond the cut is gone; what is appended after it is
	// dirty. (The checkpoint file catches up at the next clean; a stale
	// one is clamped into the log at Open.)
	l.firstDirty = min(l.firstDirty, newEnd)
	l.remoteEnd = min(l.remoteEnd, newEnd)

	var errs []error
	// Last segment first, so that a crash midway leaves a prefix.
	for k := len(doomed) - 1; k >= 0; k-- {
		if err := doomed[k].remove(l.fs); err != nil {
			errs = append(errs, fmt.Errorf("%w: delete segment %d: %w", ErrStorage, doomed[k].base, err))
		}
	}
	if c.pos < oldSize {
		if err := s.log.Truncate(c.pos); err != nil {
			errs = append(errs, fmt.Errorf("%w: truncate segment %d to %d: %w", ErrStorage, s.base, c.pos, err))
		}
	}
	if err := s.log.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("%w: fsync segment %d: %w", ErrStorage, s.base, err))
	}
	// Index files of a segment that is active again are stale; recovery
	// never reads an active segment's, and the next seal rewrites them.
	for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		l.removeFile(filepath.Base(segmentPath(l.dir, s.base, suf)))
	}
	// Aborted transactions whose marker was cut are gone with it.
	s.aborted = slices.DeleteFunc(s.aborted, func(a AbortedTxn) bool { return a.LastOffset >= newEnd })
	if err := l.fs.SyncDir(l.dir); err != nil {
		errs = append(errs, fmt.Errorf("%w: fsync dir: %w", ErrStorage, err))
	}
	if l.epochs.truncateFromEnd(newEnd) {
		if err := l.writeEpochs(); err != nil {
			// Rebuilt from the stamped batches at the next open.
			l.logger.Error("storage: leader-epoch checkpoint", "err", err)
			_ = l.fs.Remove(filepath.Join(l.dir, leaderEpochFile))
		}
	}
	if err := l.rebuildProducersLocked(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		l.setOfflineLocked(err)
		return err
	}
	// Fetch long-polls re-check against the new end. notify takes only
	// chMu, never held while taking mu, so calling it under mu is safe.
	l.notify()
	return nil
}

// TruncateFullyAndStartAt empties the log and restarts it at offset:
// every segment is deleted and a fresh empty one starts at offset, which
// becomes both LogStartOffset and LogEndOffset. Producer state and the
// leader-epoch history are cleared, and the recovery point moves to
// offset. A follower does this when its log does not overlap the
// leader's (it is behind the leader's log start, or must truncate below
// its own). A crash in the middle leaves a prefix of the old log, or an
// empty log at 0; either way the follower asks its leader again.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: start at negative offset %d", ErrOffsetOutOfRange, offset)
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	l.logger.Info("storage: truncating log fully", "dir", l.dir, "new_start", offset, "old_start", l.logStart, "old_end", l.logEnd)
	fail := func(err error) error {
		l.setOfflineLocked(err)
		return err
	}
	if err := l.removeSnapshotsAbove(-1); err != nil {
		return fail(err)
	}
	// The logical start of the old log must not apply to the new one
	// once it grows past it; the directory fsync below makes this last.
	if err := l.fs.Remove(filepath.Join(l.dir, logStartFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(fmt.Errorf("%w: remove log start checkpoint: %w", ErrStorage, err))
	}
	var errs []error
	for k := len(l.segments) - 1; k >= 0; k-- {
		s := l.segments[k]
		if err := s.remove(l.fs); err != nil {
			errs = append(errs, fmt.Errorf("%w: delete segment %d: %w", ErrStorage, s.base, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		// The old segments' files are closed: reads fail until a reopen.
		return fail(err)
	}
	seg, err := openSegment(l.fs, l.dir, offset, true)
	if err != nil {
		return fail(err)
	}
	if seg.size != 0 {
		// Cannot be ours: every segment file was just removed.
		if err := seg.log.Truncate(0); err != nil {
			seg.log.Close()
			return fail(fmt.Errorf("%w: truncate new segment %d: %w", ErrStorage, offset, err))
		}
		seg.size = 0
	}
	seg.lastModified = l.now()
	l.segments = []*segment{seg}
	l.logStart, l.logEnd = offset, offset
	l.size, l.unflushed = 0, 0
	l.sealing = nil
	l.producers = make(producers)
	l.epochs = epochCache{}
	l.remoteEnd = min(l.remoteEnd, offset)
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fail(fmt.Errorf("%w: fsync dir: %w", ErrStorage, err))
	}
	if err := writeRecoveryPoint(l.fs, l.dir, offset); err != nil {
		return fail(err)
	}
	l.flushed, l.checkpointed = offset, offset
	if err := l.writeEpochs(); err != nil {
		return fail(err)
	}
	l.notify() // under mu: see TruncateTo
	return nil
}

// removeSnapshotsAbove deletes the producer snapshots at offsets above
// off (all of them for off < 0).
func (l *Log) removeSnapshotsAbove(off int64) error {
	offs, err := listSnapshots(l.fs, l.dir)
	if err != nil {
		return err
	}
	for _, o := range offs {
		if o > off {
			if err := l.fs.Remove(filepath.Join(l.dir, snapshotName(o))); err != nil {
				return fmt.Errorf("%w: remove snapshot %d: %w", ErrStorage, o, err)
			}
		}
	}
	return nil
}

// rebuildProducersLocked recomputes producer state for the current
// segments as recovery does: the newest usable snapshot within the log,
// then a replay of the batch headers after it.
func (l *Log) rebuildProducersLocked() error {
	snaps, err := listSnapshots(l.fs, l.dir)
	if err != nil {
		return err
	}
	l.producers = make(producers)
	return l.restoreProducers(snaps)
}

// segmentCut describes a segment cut back to a batch boundary: what stays
// is the first pos bytes, ending before offset next.
type segmentCut struct {
	whole      bool  // nothing of the segment is dropped
	pos        int64 // size of what stays
	next       int64 // offset after the last batch that stays
	lastBatch  int64 // base offset of the last batch that stays, -1 if none
	maxTs      int64 // largest max timestamp of the scanned batches that stay
	firstTs    int64 // max timestamp of the first batch, if scanned; else -1
	indexN     int   // offset index entries that stay
	tindexN    int   // time index entries that stay
	sinceIndex int
}

// findCut finds where the segment is cut to drop every batch whose last
// offset is >= offset. It reads from the index entry before the last one
// at or below offset: that entry's batch always stays (index entries are
// at distinct batches, and the last one may be the batch that goes), so
// the scan sees the last index entry that stays and every batch after it,
// which is what the segment's metadata needs.
func (s *segment) findCut(offset int64) (segmentCut, error) {
	if offset >= s.next {
		// Only after an offset gap left by recovery: nothing goes.
		return segmentCut{whole: true, pos: s.size, next: s.next}, nil
	}
	rel := offset - s.base
	k := sort.Search(s.index.len(), func(j int) bool {
		r, _ := s.index.entry(j)
		return int64(r) > rel
	})
	var start int64
	if k >= 2 {
		_, p := s.index.entry(k - 2)
		start = int64(p)
	}
	c := segmentCut{pos: -1, next: s.base, lastBatch: -1, maxTs: -1, firstTs: -1}
	sc := newScanner(s.log, start, s.size, false)
	for {
		pos := sc.pos
		h, _, err := sc.next()
		if err != nil {
			// offset < s.next, so a batch reaching offset exists; not
			// finding it means the file is damaged.
			return c, fmt.Errorf("%w: find truncation point %d in segment %d: %w", ErrStorage, offset, s.base, err)
		}
		if h.LastOffset() >= offset {
			c.pos = pos
			break
		}
		if pos == 0 {
			c.firstTs = h.MaxTimestamp
		}
		c.maxTs = max(c.maxTs, h.MaxTimestamp)
		c.lastBatch = h.BaseOffset
		c.next = h.LastOffset() + 1
	}
	c.indexN = sort.Search(s.index.len(), func(j int) bool {
		_, p := s.index.entry(j)
		return int64(p) >= c.pos
	})
	c.tindexN = sort.Search(s.tindex.len(), func(j int) bool {
		_, r := s.tindex.entry(j)
		return int64(r) >= c.next-s.base
	})
	// track counts from the batch of the last entry (or the segment's
	// start) up to the end.
	c.sinceIndex = int(c.pos)
	if c.indexN > 0 {
		_, p := s.index.entry(c.indexN - 1)
		c.sinceIndex = int(c.pos - int64(p))
	}
	return c, nil
}

// applyCut updates the segment's in-memory state for c (the file is cut
// by the caller) and readies it to be the active segment again.
func (s *segment) applyCut(c segmentCut, now time.Time) {
	if !c.whole {
		s.index.buf = s.index.buf[:c.indexN*offsetEntrySize]
		s.tindex.buf = s.tindex.buf[:c.tindexN*timeEntrySize]
		s.size = c.pos
		s.next = c.next
		s.lastBatch = c.lastBatch
		// The kept time index entries cover every batch up to the last
		// kept offset index entry, the scan the ones after it.
		s.maxTs = max(s.tindex.lastTimestamp(), c.maxTs)
		s.sinceIndex = c.sinceIndex
		s.lastModified = now
		if s.empty() {
			s.maxTs, s.firstTs, s.lastBatch = -1, -1, -1
			s.firstAppend = time.Time{}
			return
		}
		if s.firstTs < 0 {
			s.firstTs = c.firstTs
		}
	}
	if s.firstAppend.IsZero() && !s.empty() {
		// A sealed segment loaded at open has no append time; segment.ms
		// counts from its first batch's timestamp if sane, as at open.
		s.firstAppend = now
		if s.firstTs >= 0 && time.UnixMilli(s.firstTs).Before(now) {
			s.firstAppend = time.UnixMilli(s.firstTs)
		}
	}
}
