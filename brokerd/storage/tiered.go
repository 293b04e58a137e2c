package storage

// This file is the log's side of tiered storage: it offers sealed
// segments (Options.OnSealed, SealedSegments) and learns which offsets
// the remote tier holds (MarkUploaded), so that with
// Config.RemoteStorage retention never deletes a local segment whose
// data is not remote yet.

// SealedSegment names the files of a rolled, fsynced segment. The files
// stay in place until retention deletes the segment, which with
// Config.RemoteStorage happens only after MarkUploaded covered it; the
// producer snapshot may be pruned earlier (SnapshotPath may not exist).
type SealedSegment struct {
	// BaseOffset is the segment's first offset; NextOffset the offset
	// after its last batch.
	BaseOffset, NextOffset int64
	Size                   int64
	LogPath                string
	IndexPath              string
	TimeIndexPath          string
	// SnapshotPath is the producer snapshot as of NextOffset.
	SnapshotPath string
	// TxnIndexPath is the aborted-transactions index; the file exists
	// only when an ABORT marker is in the segment.
	TxnIndexPath string
}

func (l *Log) sealedSegment(s *segment) SealedSegment {
	return SealedSegment{
		BaseOffset: s.base, NextOffset: s.next, Size: s.size,
		LogPath:       segmentPath(l.dir, s.base, logSuffix),
		IndexPath:     segmentPath(l.dir, s.base, indexSuffix),
		TimeIndexPath: segmentPath(l.dir, s.base, timeIndexSuffix),
		SnapshotPath:  segmentPath(l.dir, s.next, snapshotSuffix),
		TxnIndexPath:  segmentPath(l.dir, s.base, txnIndexSuffix),
	}
}

// SealedSegments returns, in offset order, the segments that are rolled
// and durably sealed (data, indexes and snapshot fsynced): what may be
// uploaded. The active segment and segments still waiting for their seal
// fsync are not included.
func (l *Log) SealedSegments() []SealedSegment {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []SealedSegment
	for _, s := range l.segments[:len(l.segments)-1] {
		if s.next > l.flushed || l.pendingSealLocked(s) {
			break
		}
		out = append(out, l.sealedSegment(s))
	}
	return out
}

func (l *Log) pendingSealLocked(s *segment) bool {
	for _, j := range l.sealing {
		if j.seg == s {
			return true
		}
	}
	return false
}

// MarkUploaded records that the remote tier holds every offset below
// next. It only moves forward. With Config.RemoteStorage, retention may
// delete local segments that end at or below it.
func (l *Log) MarkUploaded(next int64) {
	l.mu.Lock()
	if next > l.remoteEnd {
		l.remoteEnd = next
	}
	l.mu.Unlock()
}

// RemoteEnd returns what MarkUploaded last recorded (0 if never).
func (l *Log) RemoteEnd() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.remoteEnd
}

// uploadedPrefixLocked caps a count of leading segments that retention
// would delete to those the remote tier fully holds.
func (l *Log) uploadedPrefixLocked(n int) int {
	for i := 0; i < n; i++ {
		if l.segments[i].next > l.remoteEnd {
			return i
		}
	}
	return n
}
