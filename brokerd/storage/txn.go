package storage

// This file is the log's side of transactions: the last stable offset and
// the aborted-transactions index (Kafka's .txnindex).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"

	"github.com/kafki/kafki/brokerd/batch"
)

// txnIndexSuffix names a segment's aborted-transactions index.
const txnIndexSuffix = ".txnindex"

// txnEntrySize is one .txnindex entry, laid out as Kafka's: version int16
// (0) | producer id int64 | first offset int64 | last offset int64 |
// last stable offset int64.
const txnEntrySize = 2 + 8 + 8 + 8 + 8

// AbortedTxn is one aborted transaction of a partition, as a Fetch
// response's AbortedTransactions and Kafka's .txnindex give it.
type AbortedTxn struct {
	ProducerID int64
	// FirstOffset is the transaction's first batch in this partition,
	// LastOffset its ABORT marker.
	FirstOffset, LastOffset int64
	// LastStableOffset is the partition's first unstable offset right
	// after the abort (no transaction open before it was still open).
	LastStableOffset int64
}

// ProducerState is what the log knows of one producer (DescribeProducers).
type ProducerState struct {
	ProducerID    int64
	Epoch         int16
	LastSequence  int32 // -1 if none
	LastTimestamp int64
	// TxnStartOffset is the first offset of the producer's open
	// transaction, -1 if none.
	TxnStartOffset int64
}

// FirstUnstableOffset returns the first offset of the oldest open
// transaction, LogEndOffset if none is open.
func (l *Log) FirstUnstableOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.firstUnstableLocked()
}

func (l *Log) firstUnstableLocked() int64 {
	// Every fetch of every partition asks: a log that never held a
	// transaction answers without walking its producers.
	if !l.txnData {
		return l.logEnd
	}
	if first, ok := l.producers.firstUnstable(); ok && first < l.logEnd {
		return first
	}
	return l.logEnd
}

// LastStableOffset is Kafka's LSO: the smaller of the high watermark and
// the first offset of the oldest open transaction. read_committed
// consumers read below it.
func (l *Log) LastStableOffset(highWatermark int64) int64 {
	return min(l.FirstUnstableOffset(), highWatermark)
}

// AbortedTxns returns the aborted transactions overlapping [from, to):
// those whose marker is at or after from and whose first offset is below
// to, ordered by marker offset. A read_committed Fetch returning the
// records of [from, to) sends them so the client drops aborted records.
func (l *Log) AbortedTxns(from, to int64) []AbortedTxn {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []AbortedTxn
	// A marker at or after from lives in the segment holding from or a
	// later one; a transaction of such a marker may start before to even
	// in a much later segment, so all later segments are looked at (their
	// lists are in memory and short).
	for i := max(l.segmentFor(from), 0); i < len(l.segments); i++ {
		for _, a := range l.segments[i].aborted {
			if a.LastOffset >= from && a.FirstOffset < to {
				out = append(out, a)
			}
		}
	}
	return out
}

// Producers lists the producer state of the log, ordered by producer id.
func (l *Log) Producers() []ProducerState {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]ProducerState, 0, len(l.producers))
	for id, e := range l.producers {
		ps := ProducerState{ProducerID: id, Epoch: e.epoch, LastSequence: -1, LastTimestamp: e.lastTimestamp, TxnStartOffset: -1}
		if e.n > 0 {
			ps.LastSequence = e.newest().lastSeq
		}
		if e.ongoing {
			ps.TxnStartOffset = e.txnFirst
		}
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b ProducerState) int {
		switch {
		case a.ProducerID < b.ProducerID:
			return -1
		case a.ProducerID > b.ProducerID:
			return 1
		}
		return 0
	})
	return out
}

// HasTransactionalData reports whether a transactional or control batch
// was appended to (or found in) this log since it was opened, or its
// producer snapshot holds an open transaction.
func (l *Log) HasTransactionalData() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.txnData
}

// controlType returns the marker type of a control batch; for other
// batches it returns 0 and nil.
func controlType(b []byte, h *batch.Header) (batch.ControlType, error) {
	if !h.IsControl() {
		return 0, nil
	}
	t, err := batch.ParseControl(b, h)
	if err != nil {
		return 0, fmt.Errorf("%w: control batch at %d: %w", ErrInvalidBatch, h.BaseOffset, err)
	}
	return t, nil
}

// applyProducerLocked updates producer state for a batch just written to
// seg (or replayed from it, with record true only where seg's aborted
// list is being rebuilt), adding an aborted transaction to seg's index.
func (l *Log) applyProducerLocked(seg *segment, h *batch.Header, ctrl batch.ControlType, record bool) {
	if h.IsTransactional() || h.IsControl() {
		l.txnData = true
	}
	end, ok := l.producers.update(h, ctrl)
	if !ok || !end.abort || !record {
		return
	}
	lso := h.LastOffset() + 1
	if first, open := l.producers.firstUnstable(); open {
		lso = min(lso, first)
	}
	seg.aborted = append(seg.aborted, AbortedTxn{
		ProducerID: end.producerID, FirstOffset: end.first, LastOffset: end.last, LastStableOffset: lso,
	})
}

// encodeTxnIndex lays out entries as Kafka's .txnindex.
func encodeTxnIndex(entries []AbortedTxn) []byte {
	b := make([]byte, 0, len(entries)*txnEntrySize)
	for _, a := range entries {
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint64(b, uint64(a.ProducerID))
		b = binary.BigEndian.AppendUint64(b, uint64(a.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(a.LastOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(a.LastStableOffset))
	}
	return b
}

// ParseTxnIndex parses the .txnindex of a segment holding offsets [base,
// next) (next <= base: unknown, unbounded), as uploaded to the remote
// tier; bytes from there are untrusted, so every entry is checked.
func ParseTxnIndex(b []byte, base, next int64) ([]AbortedTxn, error) {
	if next <= base {
		next = math.MaxInt64
	}
	return decodeTxnIndex(b, base, next)
}

// decodeTxnIndex parses a .txnindex of a segment holding offsets [base,
// next), checking every entry's marker lies in it.
func decodeTxnIndex(b []byte, base, next int64) ([]AbortedTxn, error) {
	if len(b)%txnEntrySize != 0 {
		return nil, fmt.Errorf("txn index: %d bytes is not a whole number of entries", len(b))
	}
	var out []AbortedTxn
	for r := b; len(r) > 0; r = r[txnEntrySize:] {
		if v := binary.BigEndian.Uint16(r); v != 0 {
			return nil, fmt.Errorf("txn index: entry version %d", v)
		}
		a := AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(r[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(r[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(r[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(r[26:])),
		}
		if a.LastOffset < base || a.LastOffset >= next || a.FirstOffset < 0 || a.FirstOffset > a.LastOffset {
			return nil, fmt.Errorf("txn index: entry %d..%d outside segment [%d, %d)", a.FirstOffset, a.LastOffset, base, next)
		}
		if n := len(out); n > 0 && out[n-1].LastOffset >= a.LastOffset {
			return nil, fmt.Errorf("txn index: markers out of order at %d", a.LastOffset)
		}
		out = append(out, a)
	}
	return out, nil
}

// writeTxnIndex writes the segment's aborted-transactions index, or
// removes a stale one when it has none.
func (s *segment) writeTxnIndex(fsys FS) error {
	name := segmentPath(s.dir, s.base, txnIndexSuffix)
	if len(s.aborted) == 0 {
		if err := fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: remove txn index %d: %w", ErrStorage, s.base, err)
		}
		return nil
	}
	return writeWholeFile(fsys, name, encodeTxnIndex(s.aborted))
}

// loadTxnIndex reads a sealed segment's aborted-transactions index. A
// missing file is an empty index (a segment with no aborted transaction,
// or one written before transactions existed), as in Kafka.
func (s *segment) loadTxnIndex(fsys FS) error {
	b, err := readWholeFile(fsys, segmentPath(s.dir, s.base, txnIndexSuffix))
	if errors.Is(err, fs.ErrNotExist) {
		s.aborted = nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("txn index: %w", err)
	}
	next := s.next
	if next <= s.base {
		next = math.MaxInt64
	}
	s.aborted, err = decodeTxnIndex(b, s.base, next)
	return err
}
