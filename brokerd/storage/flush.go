package storage

import (
	"fmt"
	"path/filepath"
)

// Sync makes every batch appended so far durable: it fsyncs the sealed
// segments not yet synced (with their index files and producer
// snapshots), then the active segment. Concurrent callers share fsyncs:
// a Sync that finds its data already flushed by another returns at once.
func (l *Log) Sync() error { return l.sync(false, false) }

func (l *Log) sync(checkpoint, closing bool) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	return l.syncLocked(checkpoint, closing)
}

// syncLocked does the work of Sync with syncMu held. The fsyncs run
// without mu, so appends and reads continue meanwhile. The recovery-point
// checkpoint file is rewritten when checkpoint is set or when the
// recovery point moved to a newer segment: recovery validates from the
// start of the segment holding the recovery point, so a checkpoint inside
// the same segment would not shorten it and is not worth three fsyncs
// per acks=all produce.
func (l *Log) syncLocked(checkpoint, closing bool) error {
	l.mu.Lock()
	if l.closed && !closing {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.offline != nil {
		err := l.offline
		l.mu.Unlock()
		return fmt.Errorf("%w: log offline: %w", ErrStorage, err)
	}
	target := l.logEnd
	jobs := l.sealing
	l.sealing = nil
	active := l.active()
	dirty := target > l.flushed || len(jobs) > 0
	l.unflushed = 0
	l.mu.Unlock()

	if dirty {
		if err := l.flushFiles(jobs, active); err != nil {
			l.mu.Lock()
			l.setOfflineLocked(err)
			l.mu.Unlock()
			return err
		}
	}

	l.mu.Lock()
	if target > l.flushed {
		l.flushed = target
	}
	l.lastFlush = l.now()
	cp := l.flushed
	write := cp != l.checkpointed && (checkpoint || l.segmentFor(cp) != l.segmentFor(l.checkpointed))
	l.mu.Unlock()
	if l.onSealed != nil {
		for _, j := range jobs {
			l.onSealed(l.sealedSegment(j.seg))
		}
	}
	if !write {
		return nil
	}
	if err := writeRecoveryPoint(l.fs, l.dir, cp); err != nil {
		l.mu.Lock()
		l.setOfflineLocked(err)
		l.mu.Unlock()
		return err
	}
	l.mu.Lock()
	l.checkpointed = cp
	l.mu.Unlock()
	return nil
}

// flushFiles fsyncs sealed segments with their indexes and snapshots,
// then the active segment's log.
func (l *Log) flushFiles(jobs []sealJob, active *segment) error {
	for _, j := range jobs {
		if err := j.seg.log.Sync(); err != nil {
			return fmt.Errorf("%w: fsync segment %d: %w", ErrStorage, j.seg.base, err)
		}
		if err := j.seg.writeIndexes(l.fs); err != nil {
			return fmt.Errorf("segment %d indexes: %w", j.seg.base, err)
		}
		// The snapshot rename also fsyncs the directory, which makes the
		// new active segment's file creation durable.
		if err := writeFileAtomic(l.fs, l.dir, snapshotName(j.seg.next), j.snapshot); err != nil {
			return fmt.Errorf("producer snapshot at %d: %w", j.seg.next, err)
		}
	}
	if err := active.log.Sync(); err != nil {
		return fmt.Errorf("%w: fsync segment %d: %w", ErrStorage, active.base, err)
	}
	return nil
}

// Close flushes the log, writes the recovery point and the clean-shutdown
// marker, and closes the files. An offline log is closed without any
// write. Closing twice is a no-op.
func (l *Log) Close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	offline := l.offline != nil
	l.mu.Unlock()
	l.notifyClosed()

	var err error
	if !offline {
		err = l.syncLocked(true, true)
		if err == nil {
			// A snapshot at the log end spares the next Open any replay.
			l.mu.RLock()
			end, snap := l.logEnd, encodeSnapshot(l.producers)
			l.mu.RUnlock()
			err = writeFileAtomic(l.fs, l.dir, snapshotName(end), snap)
		}
		if err == nil {
			err = writeWholeFile(l.fs, filepath.Join(l.dir, cleanShutdownFile), nil)
		}
		if err == nil {
			if serr := l.fs.SyncDir(l.dir); serr != nil {
				err = fmt.Errorf("%w: fsync dir: %w", ErrStorage, serr)
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segments {
		if cerr := s.log.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%w: close segment %d: %w", ErrStorage, s.base, cerr)
		}
	}
	return err
}

// Delete closes the log without flushing and removes its directory.
func (l *Log) Delete() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	wasClosed := l.closed
	l.closed = true
	if !wasClosed {
		for _, s := range l.segments {
			s.log.Close()
		}
	}
	l.mu.Unlock()
	l.notifyClosed()
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("%w: remove %s: %w", ErrStorage, l.dir, err)
	}
	return nil
}
