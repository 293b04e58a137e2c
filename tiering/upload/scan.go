package upload

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/kafki/kafki/brokerd/batch"
)

// ErrBadSegment: the segment's log is empty, torn or not contiguous.
var ErrBadSegment = errors.New("upload: bad segment")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logSummary is what a scan of a log file learns.
type logSummary struct {
	base, last, maxTs int64
	size              int64
	crc               uint32
}

// scanLog reads the whole log once: framing of every batch, contiguous
// offsets, and the file's CRC32C.
func scanLog(path string) (logSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return logSummary{}, fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return logSummary{}, fmt.Errorf("upload: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	s := logSummary{base: -1, last: -1, maxTs: -1}
	buf := make([]byte, 0, 64<<10)
	for s.size < st.Size() {
		buf = buf[:batch.LengthPrefix]
		if _, err := io.ReadFull(r, buf); err != nil {
			return s, fmt.Errorf("%w: %s at %d: %v", ErrBadSegment, path, s.size, err)
		}
		n := int64(int32(binary.BigEndian.Uint32(buf[8:12])))
		if n < batch.HeaderSize-batch.LengthPrefix || s.size+batch.LengthPrefix+n > st.Size() {
			return s, fmt.Errorf("%w: %s at %d: batch length %d", ErrBadSegment, path, s.size, n)
		}
		total := int(batch.LengthPrefix + n)
		if cap(buf) < total {
			buf = append(buf[:cap(buf)], make([]byte, total-cap(buf))...)
		}
		buf = buf[:total]
		if _, err := io.ReadFull(r, buf[batch.LengthPrefix:]); err != nil {
			return s, fmt.Errorf("%w: %s at %d: %v", ErrBadSegment, path, s.size, err)
		}
		h, err := batch.ParseHeader(buf)
		if err != nil {
			return s, fmt.Errorf("%w: %s at %d: %w", ErrBadSegment, path, s.size, err)
		}
		if s.last >= 0 && h.BaseOffset != s.last+1 {
			return s, fmt.Errorf("%w: %s at %d: batch at offset %d after %d", ErrBadSegment, path, s.size, h.BaseOffset, s.last)
		}
		if s.base < 0 {
			s.base = h.BaseOffset
		}
		s.last = h.LastOffset()
		s.maxTs = max(s.maxTs, h.MaxTimestamp)
		s.crc = crc32.Update(s.crc, castagnoli, buf)
		s.size += int64(total)
	}
	if s.base < 0 {
		return s, fmt.Errorf("%w: %s is empty", ErrBadSegment, path)
	}
	return s, nil
}

// fileCRC returns the size and CRC32C of a file.
func fileCRC(path string) (int64, uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, 0, fmt.Errorf("upload: read %s: %w", path, err)
	}
	return n, h.Sum32(), nil
}

// crcReader computes the CRC32C of what passes through it.
type crcReader struct {
	r   io.Reader
	crc uint32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}
