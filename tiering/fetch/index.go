package fetch

import (
	"encoding/binary"
	"sort"
)

// Entry sizes of brokerd/storage's index files.
const (
	offsetEntrySize = 8  // relative offset uint32, position uint32
	timeEntrySize   = 12 // timestamp int64, relative offset uint32
)

// offsetIndex reads an uploaded .index object. Entries are untrusted:
// lookups tolerate any content (a partial trailing entry is ignored,
// positions are checked by the caller).
type offsetIndex []byte

func (x offsetIndex) len() int { return len(x) / offsetEntrySize }

func (x offsetIndex) entry(i int) (rel, pos uint32) {
	e := x[i*offsetEntrySize:]
	return binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
}

// lookup returns the position of the last entry whose relative offset is
// <= rel, or 0 (the segment's start) if there is none.
func (x offsetIndex) lookup(rel int64) int64 {
	i := sort.Search(x.len(), func(i int) bool {
		r, _ := x.entry(i)
		return int64(r) > rel
	})
	if i == 0 {
		return 0
	}
	_, pos := x.entry(i - 1)
	return int64(pos)
}

// timeIndex reads an uploaded .timeindex object.
type timeIndex []byte

func (x timeIndex) len() int { return len(x) / timeEntrySize }

func (x timeIndex) entry(i int) (ts int64, rel uint32) {
	e := x[i*timeEntrySize:]
	return int64(binary.BigEndian.Uint64(e)), binary.BigEndian.Uint32(e[8:])
}

// lookupBefore returns the relative offset of the last entry with a
// timestamp < ts: every batch before that one has only older records, so
// a search for ts may start there. ok is false if there is none.
func (x timeIndex) lookupBefore(ts int64) (rel int64, ok bool) {
	i := sort.Search(x.len(), func(i int) bool {
		t, _ := x.entry(i)
		return t >= ts
	})
	if i == 0 {
		return 0, false
	}
	_, r := x.entry(i - 1)
	return int64(r), true
}
