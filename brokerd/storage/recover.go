package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
)

// Open opens the log in dir, creating dir if missing, and recovers it:
//
//  1. Segments before the one holding the recovery point are trusted
//     (they were fsynced); their index files are loaded and checked, and
//     rebuilt from the log if missing or damaged.
//  2. From the start of the segment holding the recovery point, every
//     batch is validated (framing, CRC, contiguous offsets). The log is
//     truncated at the first invalid byte and any later segment is
//     deleted; what was cut and why is logged.
//  3. Producer state is loaded from the newest usable snapshot (Close
//     writes one at the log end) and brought up to date by replaying the
//     batch headers after it.
//  4. Everything validated is fsynced and becomes the new recovery point.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	l := &Log{
		dir:                dir,
		fs:                 opts.FS,
		now:                opts.Now,
		logger:             opts.Logger,
		flush:              opts.Flush,
		producerExpiration: opts.ProducerExpiration,
		onSealed:           opts.OnSealed,
		cfg:                opts.Config,
		producers:          make(producers),
		rebuildTxnFrom:     math.MaxInt64,
	}
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: create %s: %w", ErrStorage, dir, err)
	}
	if err := l.recover(); err != nil {
		for _, s := range l.segments {
			s.log.Close()
		}
		return nil, err
	}
	l.lastFlush = l.now()
	return l, nil
}

// recover implements Open's steps on l.
func (l *Log) recover() error {
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("%w: list %s: %w", ErrStorage, l.dir, err)
	}
	// An interrupted compaction swap is finished (or an unfinished clean
	// discarded) before anything looks at the segments.
	if err := l.recoverSwaps(names); err != nil {
		return err
	}
	if names, err = l.fs.ReadDir(l.dir); err != nil {
		return fmt.Errorf("%w: list %s: %w", ErrStorage, l.dir, err)
	}
	l.readCleanerCheckpoint()
	var bases, snaps []int64
	indexFiles := map[int64][]string{}
	clean := false
	for _, name := range names {
		switch {
		case name == cleanShutdownFile:
			clean = true
			continue
		case name == recoveryPointFile, name == logStartFile, name == cleanerFile:
			continue
		case filepath.Ext(name) == tmpSuffix:
			// An atomic write interrupted by a crash.
			l.removeFile(name)
			continue
		}
		base, suf, ok := parseBaseName(name)
		if !ok {
			continue
		}
		switch suf {
		case logSuffix:
			bases = append(bases, base)
		case indexSuffix, timeIndexSuffix, txnIndexSuffix:
			indexFiles[base] = append(indexFiles[base], name)
		case snapshotSuffix:
			snaps = append(snaps, base)
		}
	}
	slices.Sort(bases)
	for base, files := range indexFiles {
		if _, found := slices.BinarySearch(bases, base); !found {
			for _, name := range files {
				l.removeFile(name)
			}
		}
	}
	if clean {
		// Removed first, so that a crash from here on is not mistaken
		// for a clean shutdown. Recovery validates from the recovery
		// point either way; the marker only tells the log what to say.
		l.removeFile(cleanShutdownFile)
	}
	rp := l.readRecoveryPoint(len(bases) > 0)
	l.logger.Debug("storage: opening log", "dir", l.dir, "segments", len(bases), "recovery_point", rp, "clean_shutdown", clean)

	if len(bases) == 0 {
		seg, err := openSegment(l.fs, l.dir, 0, true)
		if err != nil {
			return err
		}
		seg.lastModified = l.now()
		l.segments = []*segment{seg}
	} else {
		for _, base := range bases {
			seg, err := openSegment(l.fs, l.dir, base, false)
			if err != nil {
				return err
			}
			l.segments = append(l.segments, seg)
		}
	}

	r := max(l.segmentFor(rp), 0)
	if err := l.loadTrusted(r); err != nil {
		return err
	}
	if err := l.validateFrom(r); err != nil {
		return err
	}
	act := l.active()
	l.logEnd = act.next
	restartAt := l.recoverLogStart()
	for _, s := range l.segments {
		l.size += s.size
	}
	if !act.empty() {
		// segment.ms counts from the first batch's append; the closest
		// record of it is the batch's timestamp, if sane.
		act.firstAppend = l.now()
		if act.firstTs >= 0 && time.UnixMilli(act.firstTs).Before(act.firstAppend) {
			act.firstAppend = time.UnixMilli(act.firstTs)
		}
	}
	for _, off := range snaps {
		if off > l.logEnd {
			// Written before the batches it covers were cut.
			l.removeFile(snapshotName(off))
		}
	}
	if err := l.restoreProducers(snaps); err != nil {
		return err
	}
	l.rebuildTxnFrom = math.MaxInt64
	if err := l.loadEpochs(); err != nil {
		return err
	}
	if err := l.persistRecovered(r); err != nil {
		return err
	}
	if restartAt >= 0 {
		return l.TruncateFullyAndStartAt(restartAt)
	}
	return nil
}

// readRecoveryPoint returns the checkpointed recovery point, 0 (validate
// everything) if there is none or it is unreadable.
func (l *Log) readRecoveryPoint(haveSegments bool) int64 {
	b, err := readWholeFile(l.fs, filepath.Join(l.dir, recoveryPointFile))
	if err != nil {
		if haveSegments {
			l.logger.Warn("storage: no recovery point, validating the whole log", "dir", l.dir, "err", err)
		}
		return 0
	}
	rp, err := decodeRecoveryPoint(b)
	if err != nil {
		l.logger.Warn("storage: bad recovery point, validating the whole log", "dir", l.dir, "err", err)
		return 0
	}
	l.checkpointed = rp
	return rp
}

// restoreProducers loads the newest readable producer snapshot within
// [first segment base, LogEndOffset] (older ones miss the batches of
// deleted segments, newer ones include batches recovery cut) and replays
// the batches after it. Without one, state is rebuilt from the whole log.
// Producer state follows the segments, not the logical log start: batches
// below a start inside the first segment are still on disk and still
// replayed, as Kafka rebuilds from its segments.
//
// When recovery found segments whose aborted-transactions lists must be
// rebuilt (rebuildTxnFrom, see validateFrom and loadTrusted), the replay
// starts no later than the first of them, so that each abort marker is
// replayed with the producer state that gives its transaction's first
// offset, and those lists are rebuilt from the replay.
func (l *Log) restoreProducers(snaps []int64) error {
	from := l.segments[0].base
	limit := min(l.logEnd, l.rebuildTxnFrom)
	for _, s := range l.segments {
		if s.base >= l.rebuildTxnFrom {
			s.aborted = nil
		}
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		off := snaps[i]
		if off > limit || off < from {
			continue
		}
		b, err := readWholeFile(l.fs, filepath.Join(l.dir, snapshotName(off)))
		if err == nil {
			var p producers
			if p, err = decodeSnapshot(b); err == nil {
				l.producers, from = p, off
				// An open transaction in the snapshot is transactional
				// data of this log (the replay below may not see its
				// batches).
				if _, open := p.firstUnstable(); open {
					l.txnData = true
				}
				break
			}
		}
		l.logger.Warn("storage: unreadable producer snapshot, trying an older one", "offset", off, "err", err)
	}
	for _, s := range l.segments {
		if s.next <= from || s.empty() {
			continue
		}
		var pos int64
		if from > s.base {
			pos = s.index.lookup(uint32(from - s.base))
		}
		sc := newScanner(s.log, pos, s.size, false)
		for {
			h, b, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%w: replay producer state from segment %d: %w", ErrStorage, s.base, err)
			}
			if h.BaseOffset >= from {
				l.replayProducerLocked(s, &h, b)
			}
		}
	}
	return nil
}

// replayProducerLocked applies one replayed batch of s to producer state.
// A control batch that is not a readable marker (the log never writes
// one) changes nothing and is logged.
func (l *Log) replayProducerLocked(s *segment, h *batch.Header, b []byte) {
	ctrl, err := controlType(b, h)
	if err != nil {
		l.logger.Warn("storage: unreadable control batch ignored by producer state", "offset", h.BaseOffset, "err", err)
		return
	}
	l.applyProducerLocked(s, h, ctrl, s.base >= l.rebuildTxnFrom)
}

// loadTrusted prepares segments [0, r), which precede the recovery point:
// their index files are loaded, or rebuilt by a scan if damaged.
func (l *Log) loadTrusted(r int) error {
	for i := 0; i < r; i++ {
		s := l.segments[i]
		s.next = l.segments[i+1].base
		if terr := s.loadTxnIndex(l.fs); terr != nil {
			l.logger.Warn("storage: rebuilding aborted-transactions index of sealed segment", "segment", s.base, "reason", terr)
			l.rebuildTxnFrom = min(l.rebuildTxnFrom, s.base)
		}
		ierr := s.loadIndexes(l.fs)
		if ierr != nil {
			l.logger.Warn("storage: rebuilding index of sealed segment", "segment", s.base, "reason", ierr)
		}
		if ierr == nil {
			continue
		}
		next := s.next
		valid, bad, err := l.scanSegment(s, false)
		if err != nil {
			return err
		}
		if bad != nil {
			// Damage below the recovery point: keep later segments
			// (they were fsynced too) and leave an offset gap.
			l.truncateSegment(s, valid, bad)
		}
		if s.next != next && next > l.gapBound {
			l.logger.Warn("storage: sealed segment ends early, leaving an offset gap", "segment", s.base, "end", s.next, "next_segment", next)
		}
		if bad == nil && next <= l.gapBound {
			// A cleaned segment: it ends where the next one starts.
			s.next = max(s.next, next)
		}
		s.seal()
		if err := s.writeIndexes(l.fs); err != nil {
			return err
		}
	}
	return nil
}

// validateFrom validates segments r and later batch by batch, truncating
// at the first invalid batch and deleting every later segment.
func (l *Log) validateFrom(r int) error {
	for i := r; i < len(l.segments); i++ {
		s := l.segments[i]
		valid, bad, err := l.scanSegment(s, true)
		if err != nil {
			return err
		}
		cut := bad != nil
		if cut {
			l.truncateSegment(s, valid, bad)
		}
		if i+1 < len(l.segments) && !cut && l.segments[i+1].base > s.next && l.segments[i+1].base <= l.gapBound {
			// A cleaned segment whose last records were removed: the
			// next one starts where it used to end.
			s.next = l.segments[i+1].base
		}
		if i+1 < len(l.segments) && !cut && l.segments[i+1].base != s.next {
			l.logger.Warn("storage: segment does not continue the log; deleting it and all later ones",
				"segment", l.segments[i+1].base, "expected", s.next)
			cut = true
		}
		if cut {
			for _, later := range l.segments[i+1:] {
				l.logger.Warn("storage: deleting segment after truncation point", "segment", later.base, "bytes", later.size)
				if err := later.remove(l.fs); err != nil {
					return fmt.Errorf("%w: delete segment %d: %w", ErrStorage, later.base, err)
				}
			}
			l.segments = l.segments[:i+1]
			return nil
		}
	}
	return nil
}

// scanSegment reads a whole segment, verifying every batch and rebuilding
// the indexes and metadata. With strict, offsets must be contiguous from
// the segment's base. It returns
// the length of the valid prefix and, if the segment does not end there,
// why; err is an I/O error.
func (l *Log) scanSegment(s *segment, strict bool) (valid int64, bad, err error) {
	s.resetIndexes()
	end := s.size
	// track moves size along; the caller wants the original back to
	// report what a truncation drops.
	defer func() { s.size = end }()
	sc := newScanner(s.log, 0, end, true)
	interval := l.cfg.IndexIntervalBytes
	for {
		pos := sc.pos
		h, b, err := sc.next()
		if errors.Is(err, io.EOF) {
			return pos, nil, nil
		}
		if err != nil {
			if errors.Is(err, errBadData) {
				return pos, err, nil
			}
			return pos, nil, err
		}
		switch {
		case strict && h.BaseOffset != s.next && (h.BaseOffset < s.next || h.BaseOffset > l.gapBound):
			// Offsets are contiguous except below the gap bound, where
			// compaction removed records.
			return pos, fmt.Errorf("batch base offset %d, expected %d", h.BaseOffset, s.next), nil
		case h.BaseOffset < s.next || h.LastOffset()-s.base > 1<<32-1:
			return pos, fmt.Errorf("batch offsets %d..%d out of order or beyond the segment (next %d)", h.BaseOffset, h.LastOffset(), s.next), nil
		}
		s.track(&h, pos, len(b), interval, s.lastModified)
		if h.IsTransactional() || h.IsControl() {
			l.txnData = true
			if strict && h.IsControl() {
				// The validated segments' aborted lists come from the
				// producer-state replay (restoreProducers).
				l.rebuildTxnFrom = min(l.rebuildTxnFrom, s.base)
			}
		}
	}
}

// truncateSegment cuts s back to its valid prefix and reports it.
func (l *Log) truncateSegment(s *segment, valid int64, why error) {
	l.logger.Warn("storage: truncating log at invalid data",
		"segment", s.base, "position", valid, "bytes_dropped", s.size-valid, "next_offset", s.next, "reason", why)
	s.size = valid
	s.sinceIndex = 0
	if err := s.log.Truncate(valid); err != nil {
		// Reads never go past s.size; the next Open will retry.
		l.logger.Error("storage: truncate failed", "segment", s.base, "err", err)
	}
}

// persistRecovered makes the validated state durable: the validated
// segments are fsynced (what they hold may have been in the page cache
// only), sealed ones get fresh index files, and the recovery point moves
// to the log end.
func (l *Log) persistRecovered(r int) error {
	last := len(l.segments) - 1
	for i := r; i <= last; i++ {
		s := l.segments[i]
		if err := s.log.Sync(); err != nil {
			return fmt.Errorf("%w: fsync segment %d: %w", ErrStorage, s.base, err)
		}
		if i < last {
			s.seal()
			if err := s.writeIndexes(l.fs); err != nil {
				return err
			}
		}
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fmt.Errorf("%w: fsync dir: %w", ErrStorage, err)
	}
	l.flushed = l.logEnd
	if l.checkpointed != l.logEnd {
		if err := writeRecoveryPoint(l.fs, l.dir, l.logEnd); err != nil {
			return err
		}
		l.checkpointed = l.logEnd
	}
	return nil
}

// removeFile deletes a file of the log directory, logging failures:
// leftovers are harmless and retried at the next Open.
func (l *Log) removeFile(name string) {
	if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.logger.Warn("storage: cannot remove file", "file", name, "err", err)
	}
}
