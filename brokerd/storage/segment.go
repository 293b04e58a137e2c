package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
)

// File name suffixes of a segment and the log's other files.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	snapshotSuffix  = ".snapshot"
	tmpSuffix       = ".tmp"
	baseDigits      = 20
)

func segmentPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%0*d%s", baseDigits, base, suffix))
}

// parseBaseName splits "00000000000000000042.log" into 42 and ".log".
func parseBaseName(name string) (base int64, suffix string, ok bool) {
	i := strings.IndexByte(name, '.')
	if i != baseDigits {
		return 0, "", false
	}
	n, err := strconv.ParseInt(name[:i], 10, 64)
	if err != nil || n < 0 {
		return 0, "", false
	}
	return n, name[i:], true
}

// segment is one log file and its indexes. All fields are guarded by the
// Log's mutex; the log file itself is written only under the write lock
// and read with ReadAt under at least the read lock.
//
// Invariants: the file holds exactly size bytes of whole, valid batches
// with contiguous offsets from base to next-1 (a freshly truncated tail
// beyond size, left by a failed write, is never read); every index entry
// points inside [0, size).
type segment struct {
	dir  string
	base int64
	log  File
	size int64
	next int64 // offset after the last batch; base when empty

	index  offsetIndex
	tindex timeIndex
	// aborted lists the aborted transactions whose ABORT marker is in
	// this segment, by marker offset (written as .txnindex at seal).
	aborted []AbortedTxn

	maxTs        int64 // largest batch max timestamp, -1 if none
	firstTs      int64 // max timestamp of the first batch, -1 if none
	lastBatch    int64 // base offset of the last batch, -1 if empty
	sinceIndex   int   // bytes appended since the last index entry
	firstAppend  time.Time
	lastModified time.Time
}

func (s *segment) empty() bool { return s.size == 0 }

// openSegment opens (creating if needed) the log file of the segment at
// base. The indexes are left empty for the caller to load or rebuild.
func openSegment(fsys FS, dir string, base int64, create bool) (*segment, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := fsys.OpenFile(segmentPath(dir, base, logSuffix), flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: open segment %d: %w", ErrStorage, base, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: stat segment %d: %w", ErrStorage, base, err)
	}
	return &segment{
		dir: dir, base: base, log: f, size: fi.Size(), next: base,
		maxTs: -1, firstTs: -1, lastBatch: -1, lastModified: fi.ModTime(),
	}, nil
}

// track updates the indexes and metadata for a batch of size bytes at
// position pos, just written or found by recovery.
func (s *segment) track(h *batch.Header, pos int64, size int, interval int, now time.Time) {
	rel := uint32(h.BaseOffset - s.base)
	if h.MaxTimestamp > s.maxTs {
		s.maxTs = h.MaxTimestamp
	}
	if s.sinceIndex >= interval {
		s.index.append(rel, uint32(pos))
		s.tindex.maybeAppend(s.maxTs, rel)
		s.sinceIndex = 0
	}
	s.sinceIndex += size
	if s.lastBatch < 0 {
		s.firstTs = h.MaxTimestamp
		s.firstAppend = now
	}
	s.lastBatch = h.BaseOffset
	s.next = h.LastOffset() + 1
	s.size = pos + int64(size)
	s.lastModified = now
}

// fits reports whether a batch of n bytes ending at lastOffset may go
// into this segment: the byte limit (unless the segment is empty) and the
// index's 32-bit relative offsets and positions.
func (s *segment) fits(n int, lastOffset int64, segmentBytes int64) bool {
	return s.fitsAfter(0, n, lastOffset, segmentBytes)
}

// fitsAfter is fits for a batch that follows pending more bytes not yet
// written to the segment (AppendReplica writes runs of batches at once).
func (s *segment) fitsAfter(pending int64, n int, lastOffset int64, segmentBytes int64) bool {
	if s.empty() && pending == 0 {
		return true
	}
	if end := s.size + pending + int64(n); end > segmentBytes || end > math.MaxUint32 {
		return false
	}
	return lastOffset-s.base <= math.MaxUint32
}

// seal finalizes the time index with the segment's largest timestamp so
// a reload knows it from the last entry.
func (s *segment) seal() {
	if s.lastBatch >= 0 && s.maxTs >= 0 {
		s.tindex.maybeAppend(s.maxTs, uint32(s.lastBatch-s.base))
	}
}

// writeIndexes replaces the index files with the in-memory indexes and
// fsyncs them. A crash midway leaves a short or empty file, which the
// next Open detects and rebuilds.
func (s *segment) writeIndexes(fsys FS) error {
	if err := writeWholeFile(fsys, segmentPath(s.dir, s.base, indexSuffix), s.index.buf); err != nil {
		return err
	}
	if err := s.writeTxnIndex(fsys); err != nil {
		return err
	}
	return writeWholeFile(fsys, segmentPath(s.dir, s.base, timeIndexSuffix), s.tindex.buf)
}

// loadIndexes reads and checks the index files of a sealed segment whose
// next offset is known.
func (s *segment) loadIndexes(fsys FS) error {
	maxRel := s.next - 1 - s.base
	ib, err := readWholeFile(fsys, segmentPath(s.dir, s.base, indexSuffix))
	if err != nil {
		return fmt.Errorf("offset index: %w", err)
	}
	s.index = offsetIndex{buf: ib}
	if err := s.index.check(maxRel, s.size); err != nil {
		return fmt.Errorf("offset index: %w", err)
	}
	if n := s.index.len(); n > 0 {
		// Spot-check the last entry against the log itself.
		rel, pos := s.index.entry(n - 1)
		var hdr [8]byte
		if _, err := s.log.ReadAt(hdr[:], int64(pos)); err != nil {
			return fmt.Errorf("offset index: read log at %d: %w", pos, err)
		}
		if got := int64(binary.BigEndian.Uint64(hdr[:])); got != s.base+int64(rel) {
			return fmt.Errorf("offset index: last entry says offset %d at %d, log has %d", s.base+int64(rel), pos, got)
		}
	}
	tb, err := readWholeFile(fsys, segmentPath(s.dir, s.base, timeIndexSuffix))
	if err != nil {
		return fmt.Errorf("time index: %w", err)
	}
	s.tindex = timeIndex{buf: tb}
	if err := s.tindex.check(maxRel); err != nil {
		return fmt.Errorf("time index: %w", err)
	}
	if s.tindex.len() == 0 && s.size > 0 {
		// seal always leaves an entry unless no batch had a timestamp;
		// rebuilding is the only way to tell the two apart.
		return errors.New("time index: empty for a non-empty segment")
	}
	s.maxTs = s.tindex.lastTimestamp()
	if n := s.tindex.len(); n > 0 {
		// Only whether lastBatch is set matters for a sealed segment.
		_, lastRel := s.tindex.entry(n - 1)
		s.lastBatch = s.base + int64(lastRel)
	}
	s.sinceIndex = 0
	return nil
}

// resetIndexes forgets everything derived from the log so a scan can
// rebuild it.
func (s *segment) resetIndexes() {
	s.index = offsetIndex{}
	s.tindex = timeIndex{}
	s.maxTs, s.firstTs, s.lastBatch = -1, -1, -1
	s.sinceIndex = 0
	s.next = s.base
}

// remove closes the segment and deletes its files; missing files are not
// an error.
func (s *segment) remove(fsys FS) error {
	err := s.log.Close()
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix, snapshotSuffix} {
		if rerr := fsys.Remove(segmentPath(s.dir, s.base, suf)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}

func readWholeFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && len(b) == 0) {
		return nil, err
	}
	return b, nil
}

// writeWholeFile replaces name's content with b and fsyncs it (not
// atomic; see writeFileAtomic).
func writeWholeFile(fsys FS, name string, b []byte) error {
	f, err := fsys.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("%w: create %s: %w", ErrStorage, filepath.Base(name), err)
	}
	if len(b) > 0 {
		if _, err = f.WriteAt(b, 0); err != nil {
			f.Close()
			return fmt.Errorf("%w: write %s: %w", ErrStorage, filepath.Base(name), err)
		}
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%w: fsync %s: %w", ErrStorage, filepath.Base(name), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("%w: close %s: %w", ErrStorage, filepath.Base(name), err)
	}
	return nil
}

// writeFileAtomic replaces name with b so that a crash leaves either the
// old or the new content: temp file, fsync, rename, fsync the directory.
func writeFileAtomic(fsys FS, dir, name string, b []byte) error {
	path := filepath.Join(dir, name)
	tmp := path + tmpSuffix
	if err := writeWholeFile(fsys, tmp, b); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("%w: rename %s: %w", ErrStorage, name, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("%w: fsync dir: %w", ErrStorage, err)
	}
	return nil
}
