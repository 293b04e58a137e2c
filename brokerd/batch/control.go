package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ControlType is the type of a control record (Kafka's ControlRecordType).
type ControlType int16

// Control record types of transaction markers.
const (
	ControlAbort  ControlType = 0
	ControlCommit ControlType = 1
)

// ErrNotMarker is returned by ParseControl for a control batch that is not
// a transaction marker (an unknown type, or not one record).
var ErrNotMarker = errors.New("batch: not a transaction marker")

// controlKeySize is a control record key: version int16, type int16.
const controlKeySize = 4

// BuildMarker encodes a transaction marker as the broker writes it: one
// control batch (transactional and control attributes, base sequence -1)
// holding one record whose key is version 0 and the type, and whose value
// is version 0 and the coordinator epoch. The base offset is 0; the log
// assigns it.
func BuildMarker(producerID int64, producerEpoch int16, t ControlType, coordinatorEpoch int32, ts int64) []byte {
	var key [controlKeySize]byte
	binary.BigEndian.PutUint16(key[2:], uint16(t))
	var val [6]byte
	binary.BigEndian.PutUint32(val[2:], uint32(coordinatorEpoch))
	// The record: attributes, timestamp delta, offset delta, key, value,
	// no headers.
	var rec []byte
	rec = append(rec, 0)
	rec = binary.AppendVarint(rec, 0)
	rec = binary.AppendVarint(rec, 0)
	rec = binary.AppendVarint(rec, int64(len(key)))
	rec = append(rec, key[:]...)
	rec = binary.AppendVarint(rec, int64(len(val)))
	rec = append(rec, val[:]...)
	rec = binary.AppendVarint(rec, 0)

	b := make([]byte, HeaderSize, HeaderSize+len(rec)+binary.MaxVarintLen64)
	b = binary.AppendVarint(b, int64(len(rec)))
	b = append(b, rec...)
	binary.BigEndian.PutUint64(b[offBaseOffset:], 0)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-LengthPrefix))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 0xffffffff)
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(AttrTransactional|AttrControl))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0)
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(producerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(producerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(b[offRecordCount:], 1)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

// ParseControl returns the marker type of the control batch b described
// by h. Untrusted input: anything but exactly one record with a key of at
// least version and type fails (ErrNotMarker or a decoding error), never
// panics.
func ParseControl(b []byte, h *Header) (ControlType, error) {
	if !h.IsControl() {
		return 0, fmt.Errorf("%w: not a control batch", ErrNotMarker)
	}
	if h.RecordCount != 1 {
		return 0, fmt.Errorf("%w: %d records", ErrNotMarker, h.RecordCount)
	}
	var t ControlType
	found := false
	err := ForEachRecord(b, h, DecodeOptions{}, func(r *Record) error {
		if len(r.Key) < controlKeySize {
			return fmt.Errorf("%w: key of %d bytes", ErrNotMarker, len(r.Key))
		}
		t = ControlType(int16(binary.BigEndian.Uint16(r.Key[2:])))
		found = true
		return nil
	})
	if err != nil {
		return 0, err
	}
	if !found || (t != ControlAbort && t != ControlCommit) {
		return 0, fmt.Errorf("%w: type %d", ErrNotMarker, t)
	}
	return t, nil
}
