package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
)

// The log start is logical, as Kafka's logStartOffset: it may lie inside
// the first segment, after DeleteRecords (AdvanceLogStart) moved it
// there. Offsets below it are gone for readers (ErrOffsetOutOfRange) even
// though their bytes stay on disk until the whole segment is below the
// start and is deleted. Invariant: segments[0].base <= logStart <= logEnd.
//
// Only a start inside the first segment needs a file of its own
// (logStartFile): a start at a segment base is the segment files
// themselves. Whatever removes segments (retention, DeleteRecordsBefore)
// sets the start to max(first base, logical start), which leaves the file
// stale but harmless: recovery takes max(first base, file).

// AdvanceLogStart moves the log start up to offset (Kafka's
// maybeIncrementLogStartOffset, used by DeleteRecords): offset may fall
// inside a batch or a segment, and becomes LogStartOffset exactly. The
// new start is durable when it returns (an fsynced checkpoint file), and
// then every segment lying entirely below it, except the active one, is
// deleted. An offset at or below the current start changes nothing; an
// offset beyond LogEndOffset fails with ErrOffsetOutOfRange. Refusing
// offsets above the high watermark is the caller's job: the log does not
// know what is committed. It returns the log start after the call.
func (l *Log) AdvanceLogStart(offset int64) (int64, error) {
	// syncMu for the whole call: it serializes checkpoint writes, and
	// no truncation or retention can move the start or the end below
	// offset while the checkpoint is written outside mu.
	l.syncMu.Lock()
	l.mu.RLock()
	start, end, err := l.logStart, l.logEnd, l.writableLocked()
	l.mu.RUnlock()
	if err != nil {
		l.syncMu.Unlock()
		return start, err
	}
	if offset > end {
		l.syncMu.Unlock()
		return start, fmt.Errorf("%w: advance log start to %d, log is [%d, %d)", ErrOffsetOutOfRange, offset, start, end)
	}
	if offset <= start {
		l.syncMu.Unlock()
		return start, nil
	}
	// Durable first: once readers see the new start, a crash must not
	// bring the deleted records back.
	if err := l.writeLogStart(offset); err != nil {
		l.syncMu.Unlock()
		return start, err
	}

	l.mu.Lock()
	l.logStart = offset
	n := 0
	for n < len(l.segments)-1 && l.segments[n].next <= offset {
		n++
	}
	doomed := slices.Clone(l.segments[:n])
	if n > 0 {
		l.segments = slices.Clone(l.segments[n:])
		for _, s := range doomed {
			l.size -= s.size
		}
		first := l.segments[0].base
		l.sealing = slices.DeleteFunc(l.sealing, func(j sealJob) bool { return j.seg.base < first })
	}
	l.mu.Unlock()
	l.logger.Info("storage: log start advanced", "dir", l.dir, "log_start_offset", offset, "segments_deleted", n)

	var errs []error
	for _, s := range doomed {
		if err := s.remove(l.fs); err != nil {
			errs = append(errs, fmt.Errorf("%w: delete segment %d: %w", ErrStorage, s.base, err))
		}
	}
	l.syncMu.Unlock()
	if n > 0 {
		if err := l.pruneSnapshots(); err != nil {
			errs = append(errs, err)
		}
	}
	return offset, errors.Join(errs...)
}

// writeLogStart checkpoints the logical log start atomically (temporary
// file, fsync, rename, directory fsync).
func (l *Log) writeLogStart(off int64) error {
	if err := writeFileAtomic(l.fs, l.dir, logStartFile, encodeOffsetFile(logStartMagic, off)); err != nil {
		return fmt.Errorf("checkpoint log start %d: %w", off, err)
	}
	return nil
}

// recoverLogStart sets logStart at Open, once the segments are validated:
// the checkpoint when it lies within [first segment base, log end], else
// the first segment's base. A checkpoint below the first segment is stale
// (retention passed it) and ignored quietly; a corrupt one is logged and
// removed, so that it cannot become valid again once the log grows. A
// valid checkpoint beyond the log end means recovery cut an unflushed
// tail below a start that DeleteRecords had made durable: the records
// below it were deleted and must not come back, so recoverLogStart
// returns it and Open restarts the log empty there (as Kafka's log loader
// does when its log start checkpoint is past the log end). It returns -1
// otherwise.
func (l *Log) recoverLogStart() (restartAt int64) {
	first := l.segments[0].base
	l.logStart = first
	b, err := readWholeFile(l.fs, filepath.Join(l.dir, logStartFile))
	if errors.Is(err, fs.ErrNotExist) {
		return -1
	}
	var cp int64
	if err == nil {
		cp, err = decodeOffsetFile(logStartMagic, b)
	}
	switch {
	case err != nil:
		l.logger.Warn("storage: unreadable log start checkpoint ignored; the log starts at its first segment", "dir", l.dir, "log_start_offset", first, "err", err)
		l.removeFile(logStartFile)
		return -1
	case cp > l.logEnd:
		l.logger.Warn("storage: log start checkpoint beyond the recovered log end; restarting the log empty at it", "dir", l.dir, "checkpoint", cp, "log_end_offset", l.logEnd)
		return cp
	default:
		l.logStart = max(first, cp)
		return -1
	}
}

// lowerLogStartLocked moves the log start down to off after a truncation
// cut the log below it (a batch is never split, so a cut at a logical
// start inside a batch ends the log at the batch's base). The checkpoint
// is rewritten first, or it would take the start back up once the log
// grows past it again.
func (l *Log) lowerLogStartLocked(off int64) error {
	if off >= l.logStart {
		return nil
	}
	if err := l.writeLogStart(off); err != nil {
		return err
	}
	l.logStart = off
	return nil
}
