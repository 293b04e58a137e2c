package storage

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Index entry sizes on disk and in memory.
const (
	offsetEntrySize = 8  // relative offset uint32 + file position uint32
	timeEntrySize   = 12 // timestamp int64 + relative offset uint32
)

// offsetIndex is a segment's sparse offset index: entry (rel, pos) says
// the batch whose base offset is segment base + rel starts at byte pos of
// the log file. Invariant: rel and pos strictly increase from entry to
// entry. The entries live in memory in their on-disk encoding (big
// endian), so writing the file is one write of buf.
type offsetIndex struct {
	buf []byte
}

func (x *offsetIndex) len() int { return len(x.buf) / offsetEntrySize }

func (x *offsetIndex) entry(i int) (rel, pos uint32) {
	e := x.buf[i*offsetEntrySize:]
	return binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
}

func (x *offsetIndex) append(rel, pos uint32) {
	x.buf = binary.BigEndian.AppendUint32(x.buf, rel)
	x.buf = binary.BigEndian.AppendUint32(x.buf, pos)
}

// lookup returns the position of the last indexed batch whose relative
// base offset is <= rel, or 0 (the start of the segment) if none is.
func (x *offsetIndex) lookup(rel uint32) int64 {
	n := x.len()
	i := sort.Search(n, func(i int) bool {
		r, _ := x.entry(i)
		return r > rel
	})
	if i == 0 {
		return 0
	}
	_, pos := x.entry(i - 1)
	return int64(pos)
}

// check verifies an index loaded from disk against its segment: whole
// entries, strictly increasing, within the log's offsets and size.
func (x *offsetIndex) check(maxRel int64, logSize int64) error {
	if len(x.buf)%offsetEntrySize != 0 {
		return fmt.Errorf("size %d is not a multiple of %d", len(x.buf), offsetEntrySize)
	}
	var prevRel, prevPos int64 = -1, -1
	for i := 0; i < x.len(); i++ {
		r, p := x.entry(i)
		rel, pos := int64(r), int64(p)
		if rel <= prevRel || pos <= prevPos {
			return fmt.Errorf("entry %d (%d,%d) does not increase", i, rel, pos)
		}
		if rel > maxRel || pos >= logSize {
			return fmt.Errorf("entry %d (%d,%d) beyond the log (max rel %d, size %d)", i, rel, pos, maxRel, logSize)
		}
		prevRel, prevPos = rel, pos
	}
	return nil
}

// timeIndex is a segment's sparse time index: entry (ts, rel) says that
// the largest timestamp of all batches of the segment up to and including
// the batch with relative base offset rel is ts. Invariant: ts strictly
// increases and rel does not decrease from entry to entry. So every batch
// up to rel has only records older than ts, which lets a search for a
// target timestamp start at the batch of the last entry with ts < target.
type timeIndex struct {
	buf []byte
}

func (x *timeIndex) len() int { return len(x.buf) / timeEntrySize }

func (x *timeIndex) entry(i int) (ts int64, rel uint32) {
	e := x.buf[i*timeEntrySize:]
	return int64(binary.BigEndian.Uint64(e)), binary.BigEndian.Uint32(e[8:])
}

// lastTimestamp returns the last entry's timestamp, -1 if empty.
func (x *timeIndex) lastTimestamp() int64 {
	if x.len() == 0 {
		return -1
	}
	ts, _ := x.entry(x.len() - 1)
	return ts
}

// maybeAppend adds (ts, rel) if ts exceeds the last entry's timestamp.
func (x *timeIndex) maybeAppend(ts int64, rel uint32) {
	if ts <= x.lastTimestamp() {
		return
	}
	x.buf = binary.BigEndian.AppendUint64(x.buf, uint64(ts))
	x.buf = binary.BigEndian.AppendUint32(x.buf, rel)
}

// lookupBefore returns the relative offset of the last entry whose
// timestamp is < ts; ok is false if there is none.
func (x *timeIndex) lookupBefore(ts int64) (rel uint32, ok bool) {
	i := sort.Search(x.len(), func(i int) bool {
		t, _ := x.entry(i)
		return t >= ts
	})
	if i == 0 {
		return 0, false
	}
	_, rel = x.entry(i - 1)
	return rel, true
}

// check verifies a time index loaded from disk against its segment.
func (x *timeIndex) check(maxRel int64) error {
	if len(x.buf)%timeEntrySize != 0 {
		return fmt.Errorf("size %d is not a multiple of %d", len(x.buf), timeEntrySize)
	}
	var prevTs, prevRel int64 = -1 << 63, -1
	for i := 0; i < x.len(); i++ {
		ts, r := x.entry(i)
		rel := int64(r)
		if ts <= prevTs || rel < prevRel {
			return fmt.Errorf("entry %d (%d,%d) is not monotonic", i, ts, rel)
		}
		if rel > maxRel {
			return fmt.Errorf("entry %d (%d,%d) beyond the log (max rel %d)", i, ts, rel, maxRel)
		}
		prevTs, prevRel = ts, rel
	}
	return nil
}
