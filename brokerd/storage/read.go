package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/kafki/kafki/brokerd/batch"
)

// Header fields a reader needs to walk batches without parsing them.
const (
	offLastOffsetDelta = 23
	minPeek            = offLastOffsetDelta + 4
	// minReadBuf is the least a read asks of the disk at once.
	minReadBuf = 4096
)

// Read returns whole batches starting with the batch containing offset,
// stopping before any batch with base offset >= maxOffset and before the
// batch that would take the result past maxBytes; the first batch is
// returned whole even if larger than maxBytes (KIP-74). A read never
// spans segments: at a segment's end it returns what it has, and the
// caller reads on from the next offset, as in Kafka.
//
// offset == LogEndOffset, or offset >= maxOffset, returns (nil, nil);
// offset < LogStartOffset or > LogEndOffset returns ErrOffsetOutOfRange.
// The returned bytes belong to the caller.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64) ([]byte, error) {
	return l.ReadWith(offset, maxBytes, maxOffset, nil)
}

// ReadWith is Read with the read buffers taken from alloc (nil: make), so
// a caller can recycle them once the result is written out. alloc(n) must
// return a slice of length n; the result is a sub-slice of one of them.
func (l *Log) ReadWith(offset int64, maxBytes int, maxOffset int64, alloc func(n int) []byte) ([]byte, error) {
	if alloc == nil {
		alloc = func(n int) []byte { return make([]byte, n) }
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	if offset < l.logStart || offset > l.logEnd {
		return nil, fmt.Errorf("%w: offset %d, log is [%d, %d)", ErrOffsetOutOfRange, offset, l.logStart, l.logEnd)
	}
	if offset == l.logEnd || offset >= maxOffset {
		return nil, nil
	}
	// Offsets may have gaps only after recovery truncated a damaged old
	// segment; then the batch "containing" offset is the next one.
	for i := l.segmentFor(offset); i < len(l.segments); i++ {
		s := l.segments[i]
		b, found, err := s.read(offset, maxBytes, maxOffset, l.cfg.IndexIntervalBytes, alloc)
		if err != nil || found {
			return b, err
		}
	}
	return nil, nil
}

// read implements Read within one segment. found is false when no batch
// of the segment ends at or after offset.
func (s *segment) read(offset int64, maxBytes int, maxOffset int64, interval int, alloc func(int) []byte) ([]byte, bool, error) {
	if offset < s.base {
		offset = s.base
	}
	maxBytes = max(maxBytes, 0)
	// The index entry precedes the wanted batch by less than about one
	// index interval plus a batch, so reading that much extra usually
	// finds the batch and the whole result in one pread.
	slack := int64(2 * interval)
	pos := s.index.lookup(uint32(offset - s.base))
	for {
		if pos >= s.size {
			return nil, false, nil
		}
		n := min(s.size-pos, max(slack+int64(maxBytes), minReadBuf))
		buf := alloc(int(n))
		if err := s.readAt(buf, pos); err != nil {
			return nil, false, err
		}
		// Skip to the batch whose last offset is >= offset.
		p := int64(0)
		var first peeked
		for {
			if p+minPeek > n {
				break
			}
			pk, err := peek(buf[p:], s, pos+p)
			if err != nil {
				return nil, false, err
			}
			if pk.last >= offset {
				first = pk
				break
			}
			p += pk.size
		}
		if first.size == 0 {
			if pos+p >= s.size {
				return nil, false, nil
			}
			if p == 0 {
				return nil, false, fmt.Errorf("%w: %d trailing bytes in segment %d at %d", ErrStorage, s.size-pos, s.base, pos)
			}
			pos += p // the target is beyond this buffer: read on from here
			continue
		}
		if first.base >= maxOffset {
			return nil, true, nil
		}
		// The result starts at p; make sure the buffer holds as much as
		// the answer may need, else read exactly that.
		need := max(first.size, min(int64(maxBytes), s.size-(pos+p)))
		if p+need > n {
			buf = alloc(int(need))
			if err := s.readAt(buf, pos+p); err != nil {
				return nil, false, err
			}
			pos, p, n = pos+p, 0, need
		}
		end := p + first.size
		for end+minPeek <= n {
			pk, err := peek(buf[end:], s, pos+end)
			if err != nil {
				return nil, false, err
			}
			if pk.base >= maxOffset || end+pk.size-p > int64(maxBytes) || end+pk.size > n {
				break
			}
			end += pk.size
		}
		return buf[p:end:end], true, nil
	}
}

func (s *segment) readAt(buf []byte, pos int64) error {
	if _, err := s.log.ReadAt(buf, pos); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
		return fmt.Errorf("%w: read segment %d at %d: %w", ErrStorage, s.base, pos, err)
	}
	return nil
}

// peeked is what a reader learns from the first bytes of a batch.
type peeked struct {
	base, last int64
	size       int64
}

// peek decodes the framing fields of the batch at the start of b (at
// least minPeek bytes) and checks they are sane; a batch on disk that is
// not is corruption, reported as ErrStorage.
func peek(b []byte, s *segment, pos int64) (peeked, error) {
	base := int64(binary.BigEndian.Uint64(b))
	length := int64(int32(binary.BigEndian.Uint32(b[8:])))
	delta := int64(int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])))
	size := batch.LengthPrefix + length
	if length < batch.HeaderSize-batch.LengthPrefix || pos+size > s.size || delta < 0 || base < s.base || base >= s.next {
		return peeked{}, fmt.Errorf("%w: corrupt batch in segment %d at %d (base %d, length %d)", ErrStorage, s.base, pos, base, length)
	}
	return peeked{base: base, last: base + delta, size: size}, nil
}
