package storage

import (
	"errors"
	"fmt"
	"io"

	"github.com/kafki/kafki/brokerd/batch"
)

// lookupChunk is the scanner read size for timestamp lookups, which
// usually find their batch within an index interval.
const lookupChunk = 64 << 10

// OffsetForTimestamp returns the first offset whose record timestamp is
// >= ts, with that timestamp (Kafka ListOffsets by timestamp). It skips
// segments by their largest timestamp, starts inside a segment at the
// last time index entry older than ts, scans batch headers, then decodes
// the records of the first batch whose max timestamp is >= ts. Records
// below LogStartOffset (inside the first segment, after AdvanceLogStart)
// are skipped, as Kafka does. found is false when no record is that
// recent.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return -1, -1, false, ErrClosed
	}
	for _, s := range l.segments {
		if s.maxTs < ts || s.empty() || s.next <= l.logStart {
			continue
		}
		off, t, ok, err := s.offsetForTimestamp(ts, l.logStart)
		if err != nil || ok {
			return off, t, ok, err
		}
	}
	return -1, -1, false, nil
}

// MaxTimestamp returns the offset and timestamp of the first record with
// the largest timestamp in the log (ListOffsets -3). found is false when
// the log holds no record with a timestamp (>= 0), or when that record
// lies below LogStartOffset (only its segment's maximum is tracked).
func (l *Log) MaxTimestamp() (offset, timestamp int64, found bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return -1, -1, false, ErrClosed
	}
	var best *segment
	for _, s := range l.segments {
		if !s.empty() && s.maxTs >= 0 && (best == nil || s.maxTs > best.maxTs) {
			best = s
		}
	}
	if best == nil {
		return -1, -1, false, nil
	}
	return best.offsetForTimestamp(best.maxTs, l.logStart)
}

// offsetForTimestamp searches one segment for the first record at or
// after offset from with a timestamp >= ts.
func (s *segment) offsetForTimestamp(ts, from int64) (int64, int64, bool, error) {
	var pos int64
	if rel, ok := s.tindex.lookupBefore(ts); ok {
		pos = s.index.lookup(rel)
	}
	sc := newScanner(s.log, pos, s.size, false)
	sc.chunk = lookupChunk
	for {
		h, b, err := sc.next()
		if errors.Is(err, io.EOF) {
			return -1, -1, false, nil
		}
		if err != nil {
			if errors.Is(err, errBadData) {
				err = fmt.Errorf("%w: segment %d: %w", ErrStorage, s.base, err)
			}
			return -1, -1, false, err
		}
		if h.MaxTimestamp < ts || h.LastOffset() < from {
			continue
		}
		off, t, ok, err := firstRecordAtOrAfter(b, &h, ts, from)
		if err != nil {
			return -1, -1, false, fmt.Errorf("%w: segment %d batch %d: %w", ErrStorage, s.base, h.BaseOffset, err)
		}
		if ok {
			return off, t, true, nil
		}
	}
}

// firstRecordAtOrAfter finds the first record of a batch at or after
// offset from whose timestamp is >= ts. With LogAppendTime every record
// carries the batch's max timestamp, so no decoding is needed.
func firstRecordAtOrAfter(b []byte, h *batch.Header, ts, from int64) (int64, int64, bool, error) {
	if h.Attributes&batch.AttrLogAppendTime != 0 {
		return max(h.BaseOffset, from), h.MaxTimestamp, h.MaxTimestamp >= ts, nil
	}
	off, t := int64(-1), int64(-1)
	err := eachRecordTime(b, h, func(offsetDelta int32, timestampDelta int64) bool {
		if rt := h.BaseTimestamp + timestampDelta; rt >= ts && h.BaseOffset+int64(offsetDelta) >= from {
			off, t = h.BaseOffset+int64(offsetDelta), rt
			return false
		}
		return true
	})
	if err != nil {
		return -1, -1, false, err
	}
	return off, t, off >= 0, nil
}
