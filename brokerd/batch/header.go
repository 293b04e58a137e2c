package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Byte offsets of the fields of a v2 record batch header. The CRC covers
// everything from offAttributes to the end of the batch, so the broker may
// rewrite the base offset and the partition leader epoch without
// recomputing it.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// HeaderSize is the size of a v2 record batch header, up to and
	// including the record count.
	HeaderSize = 61
	// LengthPrefix is the number of bytes that precede the batch length
	// field's covered region: baseOffset (8) and batchLength (4).
	LengthPrefix = 12
)

// Attribute bits of a v2 batch.
const (
	AttrCompressionMask  = 0x07
	AttrLogAppendTime    = 0x08
	AttrTransactional    = 0x10
	AttrControl          = 0x20
	AttrDeleteHorizonSet = 0x40
)

// Compression codecs, as stored in the low three attribute bits.
type Compression int8

const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4
)

func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionSnappy:
		return "snappy"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("unknown(%d)", int8(c))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by header parsing. They are wrapped with detail; test with
// errors.Is.
var (
	// ErrTruncated means fewer bytes are present than the batch header or
	// its declared length requires.
	ErrTruncated = errors.New("record batch truncated")
	// ErrCorrupt means the batch is structurally invalid or its CRC does
	// not match (Kafka's CORRUPT_MESSAGE).
	ErrCorrupt = errors.New("record batch corrupt")
	// ErrMagic means the batch is not format v2.
	ErrMagic = errors.New("unsupported record batch magic")
)

// Header is the decoded fixed-size header of a v2 record batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the total size of the batch on the wire, prefix included.
func (h *Header) Size() int { return LengthPrefix + int(h.Length) }

// LastOffset is the offset of the batch's last record.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression returns the batch's codec.
func (h *Header) Compression() Compression {
	return Compression(h.Attributes & AttrCompressionMask)
}

// IsTransactional reports the transactional attribute.
func (h *Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports the control-batch attribute.
func (h *Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// HasProducerID reports whether the batch came from an idempotent producer.
func (h *Header) HasProducerID() bool { return h.ProducerID >= 0 }

// LastSequence is the sequence number of the batch's last record, with
// Kafka's wrap-around at MaxInt32.
func (h *Header) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return h.BaseSequence
	}
	s := int64(h.BaseSequence) + int64(h.LastOffsetDelta)
	if s > 0x7fffffff {
		s -= 0x80000000
	}
	return int32(s)
}

// ParseHeader decodes the header at the start of b. It checks that the
// header is complete, the magic is 2 and the declared length is sane and
// fully present in b; it does not check the CRC (see CheckCRC).
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[offBaseOffset:]))
	h.Length = int32(binary.BigEndian.Uint32(b[offLength:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[offLeaderEpoch:]))
	h.Magic = int8(b[offMagic])
	if h.Magic != 2 {
		return h, fmt.Errorf("%w: %d", ErrMagic, h.Magic)
	}
	if h.Length < HeaderSize-LengthPrefix {
		return h, fmt.Errorf("%w: batch length %d below header size", ErrCorrupt, h.Length)
	}
	if int64(h.Length)+LengthPrefix > int64(len(b)) {
		return h, fmt.Errorf("%w: batch length %d, %d bytes present", ErrTruncated, h.Length, len(b)-LengthPrefix)
	}
	h.CRC = binary.BigEndian.Uint32(b[offCRC:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[offBaseTimestamp:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[offBaseSequence:]))
	h.RecordCount = int32(binary.BigEndian.Uint32(b[offRecordCount:]))
	return h, nil
}

// CheckCRC verifies the CRC32C of the complete batch b (exactly one batch,
// as sized by its header).
func CheckCRC(b []byte, h *Header) error {
	end := h.Size()
	if end < HeaderSize {
		// Only a hand-made Header can get here; ParseHeader rejects it.
		return fmt.Errorf("%w: batch length %d below header size", ErrCorrupt, h.Length)
	}
	if end > len(b) {
		return fmt.Errorf("%w: need %d bytes, have %d", ErrTruncated, end, len(b))
	}
	if got := crc32.Checksum(b[offAttributes:end], castagnoli); got != h.CRC {
		return fmt.Errorf("%w: crc32c %08x, header says %08x", ErrCorrupt, got, h.CRC)
	}
	return nil
}

// SetBaseOffset rewrites the base offset in place. The CRC is unaffected.
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch rewrites the leader epoch in place. The CRC is
// unaffected.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime, sets its max timestamp
// to ts and recomputes the CRC, as Kafka does for topics with
// message.timestamp.type=LogAppendTime. b must be exactly one whole batch.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | AttrLogAppendTime
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	end := LengthPrefix + int(int32(binary.BigEndian.Uint32(b[offLength:])))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:end], castagnoli))
}
