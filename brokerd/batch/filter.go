package batch

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// DeleteHorizon returns the batch's delete horizon (KIP-534): once a log
// cleaner has kept a tombstone of the batch, the base timestamp field holds
// the time after which its tombstones may be removed, and the
// AttrDeleteHorizonSet bit says so. Record timestamps stay base timestamp
// plus delta, so clients read them unchanged.
func (h *Header) DeleteHorizon() (int64, bool) {
	if h.Attributes&AttrDeleteHorizonSet != 0 {
		return h.BaseTimestamp, true
	}
	return -1, false
}

// FilterOptions tune Filter.
type FilterOptions struct {
	// MaxDecompressedBytes bounds the decompressed records (0: the
	// DecodeOptions default).
	MaxDecompressedBytes int
	// DeleteHorizon, when >= 0, is stamped on the output if it keeps a
	// tombstone (a record with a null value) and the batch has no delete
	// horizon yet: the base timestamp becomes DeleteHorizon and every
	// record's timestamp delta is rewritten so its timestamp is unchanged.
	DeleteHorizon int64
}

// FilterResult says what Filter did.
type FilterResult struct {
	Kept, Removed int
	// Tombstones counts the kept records with a null value.
	Tombstones int
	// Changed is false when the output is the input batch, byte for byte.
	Changed bool
}

// Filter appends to dst the batch b (exactly one whole batch, described
// by h) keeping only the records keep accepts, as Kafka's log cleaner
// rewrites a batch: base offset, last offset delta, partition leader
// epoch, producer id, epoch and base sequence and attributes (codec
// included) are kept, so offsets do not move and an idempotent
// producer's last sequence survives; the record count, length, CRC and
// (for CreateTime) max timestamp are recomputed from the kept records. Kept records are copied verbatim (their offset
// deltas are relative to the unchanged base offset).
//
// When keep accepts every record and no delete horizon is stamped, the
// input is appended unchanged (Changed false). When it accepts none,
// nothing is appended (Kept 0): the caller drops the batch or writes
// AppendEmpty. keep sees r only during the call; it must not keep r's
// slices. Filter does not check the CRC; the caller does.
func Filter(dst, b []byte, h *Header, opts FilterOptions, keep func(r *Record) bool) ([]byte, FilterResult, error) {
	var res FilterResult
	data, err := recordBytes(b, h)
	if err != nil {
		return dst, res, err
	}
	codec := h.Compression()
	if codec != CompressionNone {
		buf := getBuffer()
		defer putBuffer(buf)
		limit := DecodeOptions{MaxDecompressedBytes: opts.MaxDecompressedBytes}.limit()
		if data, err = Decompress(codec, data, (*buf)[:0], limit); err != nil {
			return dst, res, err
		}
		*buf = data
	}
	// spans are the kept records' encodings, aliasing data.
	type span struct{ start, end int }
	var spans []span
	tombstones := 0
	maxTs := int64(math.MinInt64)
	var r Record
	pos := 0
	for i := int32(0); i < h.RecordCount; i++ {
		if pos >= len(data) {
			return dst, res, fmt.Errorf("%w: batch declares %d records, holds %d", ErrInvalidRecord, h.RecordCount, i)
		}
		n, err := decodeRecord(data[pos:], &r, false)
		if err != nil {
			return dst, res, fmt.Errorf("record %d: %w", i, err)
		}
		if keep(&r) {
			spans = append(spans, span{pos, pos + n})
			if r.Value == nil {
				tombstones++
			}
			maxTs = max(maxTs, h.BaseTimestamp+r.TimestampDelta)
		}
		pos += n
	}
	if err := checkTrailing(data[pos:], h.RecordCount); err != nil {
		return dst, res, err
	}
	res.Kept, res.Removed, res.Tombstones = len(spans), int(h.RecordCount)-len(spans), tombstones
	_, hasHorizon := h.DeleteHorizon()
	stamp := opts.DeleteHorizon >= 0 && tombstones > 0 && !hasHorizon
	if res.Removed == 0 && !stamp {
		return append(dst, b[:h.Size()]...), res, nil
	}
	if res.Kept == 0 {
		return dst, res, nil
	}
	res.Changed = true

	raw := getBuffer()
	defer putBuffer(raw)
	out := (*raw)[:0]
	for _, sp := range spans {
		rec := data[sp.start:sp.end]
		if !stamp {
			out = append(out, rec...)
			continue
		}
		if out, err = appendRebased(out, rec, h.BaseTimestamp, opts.DeleteHorizon); err != nil {
			return dst, res, err
		}
	}
	*raw = out

	start := len(dst)
	dst = append(dst, b[:HeaderSize]...)
	if dst, err = Compress(codec, dst, out); err != nil {
		return dst[:start], res, err
	}
	hdr := dst[start:]
	attrs := uint16(h.Attributes)
	if stamp {
		attrs |= AttrDeleteHorizonSet
		binary.BigEndian.PutUint64(hdr[offBaseTimestamp:], uint64(opts.DeleteHorizon))
	}
	binary.BigEndian.PutUint16(hdr[offAttributes:], attrs)
	binary.BigEndian.PutUint32(hdr[offRecordCount:], uint32(len(spans)))
	if attrs&AttrLogAppendTime == 0 {
		// The batch's max timestamp is that of its kept records, so a
		// search for it (ListOffsets -3) finds one.
		binary.BigEndian.PutUint64(hdr[offMaxTimestamp:], uint64(maxTs))
	}
	finish(hdr)
	return dst, res, nil
}

// appendRebased appends record rec (one whole encoded record) with its
// timestamp delta moved from base oldBase to newBase.
func appendRebased(dst, rec []byte, oldBase, newBase int64) ([]byte, error) {
	length, n := varint32(rec)
	if n <= 0 || int(length) != len(rec)-n || length < 2 {
		return dst, fmt.Errorf("%w: record length", ErrCorrupt)
	}
	body := rec[n:]
	delta, m := varint64(body[1:])
	if m <= 0 {
		return dst, fmt.Errorf("%w: record timestamp delta", ErrCorrupt)
	}
	rest := body[1+m:]
	var tmp [binary.MaxVarintLen64]byte
	ts := binary.PutVarint(tmp[:], oldBase+delta-newBase)
	dst = binary.AppendVarint(dst, int64(1+ts+len(rest)))
	dst = append(dst, body[0])
	dst = append(dst, tmp[:ts]...)
	return append(dst, rest...), nil
}

// AppendEmpty appends the header of batch h with no records: what the
// cleaner keeps of an idempotent producer's last batch once every record
// of it is gone, so the producer's sequence and epoch survive (Kafka does
// the same). Offsets, producer fields and timestamps are h's; the codec
// bits are cleared since there is nothing to compress.
func AppendEmpty(dst []byte, b []byte, h *Header) []byte {
	start := len(dst)
	dst = append(dst, b[:HeaderSize]...)
	hdr := dst[start:]
	binary.BigEndian.PutUint16(hdr[offAttributes:], uint16(h.Attributes)&^AttrCompressionMask)
	binary.BigEndian.PutUint32(hdr[offRecordCount:], 0)
	finish(hdr)
	return dst
}

// finish sets the length and CRC of the batch that is exactly b.
func finish(b []byte) {
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-LengthPrefix))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}
