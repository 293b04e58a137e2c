package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// snapshotsKept is how many producer snapshots at or below the recovery
// point survive pruning; more recent ones are all kept.
const snapshotsKept = 2

// Maintain does the periodic work of the log: roll by segment.ms, delete
// segments by retention.ms and retention.bytes (advancing LogStartOffset),
// forget expired producers, finish pending seals and the interval flush.
// The broker calls it every few seconds for every log.
func (l *Log) Maintain() error {
	now := l.now()
	// syncMu is held from choosing the doomed segments until their files
	// are gone: no fsync may run on them, and TruncateFullyAndStartAt
	// must not create a segment at a base whose old file is about to be
	// removed by path.
	l.syncMu.Lock()
	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		l.syncMu.Unlock()
		return err
	}
	var errs []error
	if l.agedLocked(l.active(), now) {
		if _, err := l.rollLocked(now); err != nil {
			errs = append(errs, err)
		}
	}
	doomed := l.retentionLocked(now)
	if l.producerExpiration > 0 {
		if n := l.producers.expire(now.Add(-l.producerExpiration).UnixMilli()); n > 0 {
			l.logger.Debug("storage: expired idempotent producers", "count", n)
		}
	}
	sealed := len(l.sealing) > 0
	flushDue := l.flush.Interval > 0 && l.logEnd > l.flushed && now.Sub(l.lastFlush) >= l.flush.Interval
	needSync := sealed || flushDue || l.flushed != l.checkpointed
	l.mu.Unlock()

	for _, s := range doomed {
		if err := s.remove(l.fs); err != nil {
			errs = append(errs, fmt.Errorf("%w: delete segment %d: %w", ErrStorage, s.base, err))
		}
	}
	l.syncMu.Unlock()
	if needSync {
		if err := l.sync(true, false); err != nil {
			errs = append(errs, err)
		}
	}
	if len(doomed) > 0 || sealed {
		if err := l.pruneSnapshots(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// largestTimestamp is what retention.ms compares: the segment's largest
// record timestamp, or its last write time if no batch had one.
func (s *segment) largestTimestamp() int64 {
	if s.maxTs >= 0 {
		return s.maxTs
	}
	return s.lastModified.UnixMilli()
}

// retentionLocked removes the segments that retention deletes from the
// log's view and returns them for the caller to delete outside mu.
func (l *Log) retentionLocked(now time.Time) []*segment {
	n := 0
	limitBytes, limitAge := l.cfg.localLimits()
	if l.cfg.NoRetention {
		// cleanup.policy=compact alone: only the cleaner removes data.
		limitBytes, limitAge = -1, -1
	}
	if limitAge >= 0 {
		cutoff := now.Add(-limitAge).UnixMilli()
		// A closed segment the cleaner emptied holds nothing to keep.
		for n < len(l.segments) && (n < len(l.segments)-1 && l.segments[n].empty() ||
			!l.segments[n].empty() && l.segments[n].largestTimestamp() < cutoff) {
			n++
		}
		if n == len(l.segments) {
			// Every record is past retention: roll so the active
			// segment can go too, as Kafka does.
			if _, err := l.rollLocked(now); err != nil {
				l.logger.Warn("storage: cannot roll for retention", "err", err)
				n--
			}
		}
	}
	if limitBytes >= 0 {
		total := l.size
		for _, s := range l.segments[:n] {
			total -= s.size
		}
		// Kafka's rule: delete a segment only if the log keeps at
		// least retention.bytes without it. Never the active one.
		for n < len(l.segments)-1 && total-l.segments[n].size >= limitBytes {
			total -= l.segments[n].size
			n++
		}
	}
	if l.cfg.RemoteStorage {
		n = l.uploadedPrefixLocked(n)
	}
	if n == 0 {
		return nil
	}
	doomed := slices.Clone(l.segments[:n])
	l.segments = slices.Clone(l.segments[n:])
	for _, s := range doomed {
		l.size -= s.size
	}
	first := l.segments[0].base
	l.logStart = max(l.logStart, first) // a logical start inside the new first segment stays
	l.sealing = slices.DeleteFunc(l.sealing, func(j sealJob) bool { return j.seg.base < first })
	l.logger.Info("storage: retention deleted segments", "count", n, "log_start_offset", l.logStart)
	return doomed
}

// pruneSnapshots deletes producer snapshots that recovery can no longer
// use (below the first segment) or will not need (all but the newest few
// at or below the recovery point).
func (l *Log) pruneSnapshots() error {
	l.mu.RLock()
	start, cp := l.segments[0].base, l.checkpointed
	l.mu.RUnlock()
	offs, err := listSnapshots(l.fs, l.dir)
	if err != nil {
		return err
	}
	kept := 0
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		if off > cp {
			continue
		}
		if off >= start && kept < snapshotsKept {
			kept++
			continue
		}
		if err := l.fs.Remove(filepath.Join(l.dir, snapshotName(off))); err != nil {
			return fmt.Errorf("%w: remove snapshot %d: %w", ErrStorage, off, err)
		}
	}
	return nil
}

// listSnapshots returns the offsets of the snapshot files, ascending.
func listSnapshots(fsys FS, dir string) ([]int64, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: list %s: %w", ErrStorage, dir, err)
	}
	var offs []int64
	for _, name := range names {
		if base, suf, ok := parseBaseName(name); ok && suf == snapshotSuffix {
			offs = append(offs, base)
		}
	}
	slices.Sort(offs)
	return offs, nil
}
