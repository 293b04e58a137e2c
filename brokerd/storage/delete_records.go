package storage

import (
	"errors"
	"fmt"
	"slices"
)

// Roll seals the active segment and starts a new one at LogEndOffset, so
// that the next append begins a segment. An empty active segment is kept.
// Callers that later want to drop everything before a point (see
// DeleteRecordsBefore) roll first so that the point is a segment boundary.
func (l *Log) Roll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	_, err := l.rollLocked(l.now())
	return err
}

// ActiveSegmentBase is the base offset of the active segment: the
// lowest offset DeleteRecordsBefore can reach without a roll.
func (l *Log) ActiveSegmentBase() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.active().base
}

// DeleteRecordsBefore deletes every segment that lies entirely below
// offset and advances LogStartOffset to the base of the first segment
// kept (which is <= offset), or keeps it where it is if a logical start
// (AdvanceLogStart) is already higher. The active segment is never
// deleted. The new start is durable because it is the segment files
// themselves: recovery starts the log at its first segment at least.
// offset must be within [first segment base, LogEndOffset].
func (l *Log) DeleteRecordsBefore(offset int64) error {
	// syncMu until the files are gone: see Maintain.
	l.syncMu.Lock()
	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		l.syncMu.Unlock()
		return err
	}
	if offset < l.segments[0].base || offset > l.logEnd {
		l.mu.Unlock()
		l.syncMu.Unlock()
		return fmt.Errorf("%w: delete before %d, log is [%d, %d)", ErrOffsetOutOfRange, offset, l.logStart, l.logEnd)
	}
	n := 0
	for n < len(l.segments)-1 && l.segments[n+1].base <= offset {
		n++
	}
	if n == 0 {
		l.mu.Unlock()
		l.syncMu.Unlock()
		return nil
	}
	doomed := slices.Clone(l.segments[:n])
	l.segments = slices.Clone(l.segments[n:])
	for _, s := range doomed {
		l.size -= s.size
	}
	first := l.segments[0].base
	l.logStart = max(l.logStart, first)
	l.sealing = slices.DeleteFunc(l.sealing, func(j sealJob) bool { return j.seg.base < first })
	l.mu.Unlock()

	var errs []error
	for _, s := range doomed {
		if err := s.remove(l.fs); err != nil {
			errs = append(errs, fmt.Errorf("%w: delete segment %d: %w", ErrStorage, s.base, err))
		}
	}
	l.syncMu.Unlock()
	if err := l.pruneSnapshots(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
