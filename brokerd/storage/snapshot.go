package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
)

// Producer state snapshot file format (all big endian):
//
//	magic "KPS2" | count uint32 | count × entry | crc32c uint32
//	entry: producer id int64 | epoch int16 | last timestamp int64 |
//	       flags uint8 (bit 0: a transaction is open) |
//	       first offset of the open transaction int64 (0 if none) |
//	       n uint8 | n × (first seq int32, last seq int32,
//	                      first offset int64, last offset int64)
//
// The CRC covers everything before it. A snapshot named N holds the state
// after every batch with offset < N. Version 1 ("KPS1", before
// transactions) has no flags and first offset, and n >= 1; it is still
// read. In version 2, n may be 0 (a marker bumped the epoch).
const (
	snapshotMagic   = "KPS2"
	snapshotMagicV1 = "KPS1"
)

const (
	snapshotEntryFixed   = 8 + 2 + 8 + 1
	snapshotEntryTxn     = 1 + 8
	snapshotBatchSize    = 4 + 4 + 8 + 8
	snapshotFlagOngoing  = 1
	snapshotKnownFlags   = snapshotFlagOngoing
	snapshotHeaderLength = 4 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errBadSnapshot = errors.New("invalid producer snapshot")

// encodeSnapshot serializes p, ordered by producer id so equal states give
// equal files.
func encodeSnapshot(p producers) []byte {
	ids := make([]int64, 0, len(p))
	for id := range p {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b := make([]byte, 0, 12+len(p)*(snapshotEntryFixed+snapshotEntryTxn+producerWindow*snapshotBatchSize))
	b = append(b, snapshotMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := p[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastTimestamp))
		var flags byte
		if e.ongoing {
			flags |= snapshotFlagOngoing
		}
		b = append(b, flags)
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirst))
		b = append(b, byte(e.n))
		for i := 0; i < e.n; i++ {
			m := &e.batches[(e.head+i)%producerWindow]
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeSnapshot parses a snapshot of either version, rejecting anything
// malformed.
func decodeSnapshot(b []byte) (producers, error) {
	if len(b) < snapshotHeaderLength+4 {
		return nil, fmt.Errorf("%w: bad header", errBadSnapshot)
	}
	var v2 bool
	switch string(b[:4]) {
	case snapshotMagic:
		v2 = true
	case snapshotMagicV1:
	default:
		return nil, fmt.Errorf("%w: bad header", errBadSnapshot)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: crc mismatch", errBadSnapshot)
	}
	count := binary.BigEndian.Uint32(body[4:])
	r := body[snapshotHeaderLength:]
	if uint64(count)*snapshotEntryFixed > uint64(len(r)) {
		return nil, fmt.Errorf("%w: %d entries do not fit", errBadSnapshot, count)
	}
	p := make(producers, count)
	for range count {
		id, e, rest, err := decodeSnapshotEntry(r, v2)
		if err != nil {
			return nil, err
		}
		p[id], r = e, rest
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadSnapshot, len(r))
	}
	return p, nil
}

// decodeSnapshotEntry parses one entry at the start of r.
func decodeSnapshotEntry(r []byte, v2 bool) (int64, *producerEntry, []byte, error) {
	fixed := snapshotEntryFixed
	if v2 {
		fixed += snapshotEntryTxn
	}
	if len(r) < fixed {
		return 0, nil, nil, fmt.Errorf("%w: truncated entry", errBadSnapshot)
	}
	id := int64(binary.BigEndian.Uint64(r))
	e := &producerEntry{
		epoch:         int16(binary.BigEndian.Uint16(r[8:])),
		lastTimestamp: int64(binary.BigEndian.Uint64(r[10:])),
	}
	minN := 1
	if v2 {
		flags := r[18]
		if flags&^snapshotKnownFlags != 0 {
			return 0, nil, nil, fmt.Errorf("%w: producer %d has unknown flags %#x", errBadSnapshot, id, flags)
		}
		e.ongoing = flags&snapshotFlagOngoing != 0
		e.txnFirst = int64(binary.BigEndian.Uint64(r[19:]))
		if e.ongoing && e.txnFirst < 0 {
			return 0, nil, nil, fmt.Errorf("%w: producer %d open transaction at %d", errBadSnapshot, id, e.txnFirst)
		}
		minN = 0
	}
	n := int(r[fixed-1])
	r = r[fixed:]
	if n < minN || n > producerWindow || len(r) < n*snapshotBatchSize {
		return 0, nil, nil, fmt.Errorf("%w: producer %d has %d batches", errBadSnapshot, id, n)
	}
	for i := 0; i < n; i++ {
		e.add(batchMeta{
			firstSeq:    int32(binary.BigEndian.Uint32(r)),
			lastSeq:     int32(binary.BigEndian.Uint32(r[4:])),
			firstOffset: int64(binary.BigEndian.Uint64(r[8:])),
			lastOffset:  int64(binary.BigEndian.Uint64(r[16:])),
		})
		r = r[snapshotBatchSize:]
	}
	return id, e, r, nil
}
