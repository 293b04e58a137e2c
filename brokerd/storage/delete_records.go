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
// kept, which is <= offset. The active segment is never deleted. The new
// start is durable because it is the segment files themselves: recovery
// starts the log at its first segment. offset must be within
// [LogStartOffset, LogEndOffset].
func (l *Log) DeleteRecordsBefore(offset int64) error {
	// syncMu until the files are gone: see Maintain.
	l.syncMu.Lock()
	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		l.syncMu.Unlock()
		return err
	}
	if offset < l.logStart || offset > l.logEnd {
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
	l.logStart = l.segments[0].base
	l.sealing = slices.DeleteFunc(l.sealing, func(j sealJob) bool { return j.seg.base < l.logStart })
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

// FollowLogStart moves a follower's log start towards offset, the log
// start its leader reported (Kafka's maybeIncrementLogStartOffset on a
// follower). Deletion is by whole segments as in DeleteRecordsBefore, and
// a follower's segment boundaries need not match the leader's (the
// leader rolls explicitly before DeleteRecordsBefore, on its own
// segment.ms clock), so offset may fall inside a segment: if that segment
// is the active one it is rolled, so that the next advance past the roll
// point can drop it. The log thus keeps at most the data between two
// successive advances of the leader's start beyond offset. It returns
// the new log start. offset must be within [LogStartOffset, LogEndOffset]
// and no higher than what is committed; the caller caps it.
func (l *Log) FollowLogStart(offset int64) (int64, error) {
	l.mu.RLock()
	start, end := l.logStart, l.logEnd
	first := len(l.segments) == 1 || l.segments[1].base > offset
	inActive := l.active().base < offset && !l.active().empty()
	l.mu.RUnlock()
	if offset <= start || offset > end {
		return start, nil
	}
	if first && !inActive {
		// offset is inside the first, sealed segment: nothing to drop
		// until the leader's start passes its end.
		return start, nil
	}
	if inActive {
		if err := l.Roll(); err != nil {
			return start, fmt.Errorf("roll before advancing the log start to %d: %w", offset, err)
		}
	}
	err := l.DeleteRecordsBefore(offset)
	if errors.Is(err, ErrOffsetOutOfRange) {
		// Retention moved the start past offset meanwhile.
		err = nil
	}
	return l.LogStartOffset(), err
}
