package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/kafki/kafki/brokerd/batch"
)

// scanChunk is how much of a log file a scanner reads per pread.
const scanChunk = 1 << 20

// errBadData marks a scan result as "the bytes on disk are not a valid
// continuation of the log" (torn, corrupt, zero-filled), as opposed to an
// I/O error reading them. Recovery truncates at bad data and fails on I/O
// errors.
var errBadData = errors.New("invalid log data")

// scanner walks the batches of a log file sequentially, reading it in
// large chunks so that a scan costs one pread per scanChunk, not one per
// batch.
type scanner struct {
	f      File
	pos    int64 // file position of the next batch
	end    int64 // end of the region to scan
	verify bool  // check each batch's CRC
	chunk  int   // bytes to read at once

	buf    []byte
	bufPos int64 // file position of buf[0]
}

func newScanner(f File, pos, end int64, verify bool) *scanner {
	return &scanner{f: f, pos: pos, end: end, verify: verify, chunk: scanChunk}
}

// next returns the next batch's header and bytes (valid until the next
// call), io.EOF exactly at the end of the region, an error wrapping
// errBadData if the bytes at pos are not a whole valid batch, or an I/O
// error.
func (s *scanner) next() (batch.Header, []byte, error) {
	var h batch.Header
	if s.pos >= s.end {
		return h, nil, io.EOF
	}
	if s.end-s.pos < batch.HeaderSize {
		return h, nil, fmt.Errorf("%w: %d trailing bytes, less than a batch header", errBadData, s.end-s.pos)
	}
	b, err := s.window(batch.HeaderSize)
	if err != nil {
		return h, nil, err
	}
	length := int64(int32(binary.BigEndian.Uint32(b[batch.LengthPrefix-4:])))
	if length < batch.HeaderSize-batch.LengthPrefix {
		return h, nil, fmt.Errorf("%w: batch length %d", errBadData, length)
	}
	size := batch.LengthPrefix + length
	if size > s.end-s.pos {
		return h, nil, fmt.Errorf("%w: torn batch: length %d, %d bytes left", errBadData, size, s.end-s.pos)
	}
	if b, err = s.window(int(size)); err != nil {
		return h, nil, err
	}
	if h, err = batch.ParseHeader(b); err != nil {
		return h, nil, fmt.Errorf("%w: %w", errBadData, err)
	}
	if h.LastOffsetDelta < 0 || h.BaseOffset < 0 {
		return h, nil, fmt.Errorf("%w: base offset %d, last offset delta %d", errBadData, h.BaseOffset, h.LastOffsetDelta)
	}
	if s.verify {
		if err := batch.CheckCRC(b, &h); err != nil {
			return h, nil, fmt.Errorf("%w: %w", errBadData, err)
		}
	}
	s.pos += size
	return h, b, nil
}

// window returns n bytes of the file starting at s.pos, reading a new
// chunk if the buffer does not hold them. The caller ensured that
// s.pos+n <= s.end.
func (s *scanner) window(n int) ([]byte, error) {
	off := s.pos - s.bufPos
	if s.buf != nil && off >= 0 && off+int64(n) <= int64(len(s.buf)) {
		return s.buf[off : off+int64(n)], nil
	}
	want := int64(max(n, s.chunk))
	want = min(want, s.end-s.pos)
	if int64(cap(s.buf)) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	s.bufPos = s.pos
	if _, err := s.f.ReadAt(s.buf, s.pos); err != nil {
		s.buf = nil
		if errors.Is(err, io.EOF) {
			// The file is shorter than its recorded size: treat the
			// missing tail like a torn write.
			return nil, fmt.Errorf("%w: file ends before position %d", errBadData, s.pos+want)
		}
		return nil, fmt.Errorf("%w: read at %d: %w", ErrStorage, s.pos, err)
	}
	return s.buf[:n], nil
}
