package batch

import (
	"fmt"
)

// DefaultMaxDecompressedBytes bounds the decompressed records of one batch
// when the caller sets no limit. It is well above Kafka's default
// max.message.bytes (1 MiB) times any realistic compression ratio, and low
// enough that a decompression bomb cannot exhaust memory.
const DefaultMaxDecompressedBytes = 64 << 20

// DecodeOptions tunes record decoding.
type DecodeOptions struct {
	// MaxDecompressedBytes bounds the decompressed size of a compressed
	// batch's records; exceeding it fails with ErrTooLarge. 0 means
	// DefaultMaxDecompressedBytes.
	MaxDecompressedBytes int
}

func (o DecodeOptions) limit() int {
	if o.MaxDecompressedBytes <= 0 {
		return DefaultMaxDecompressedBytes
	}
	return o.MaxDecompressedBytes
}

// Records decodes every record of the batch b, described by h (from
// ParseHeader). It decompresses when the batch is compressed; the returned
// records alias b, or a fresh buffer holding the decompressed records, so
// they stay valid as long as the caller keeps them.
//
// Records checks framing only: it does not verify the CRC or the offset
// deltas (see Validate), but it does require exactly h.RecordCount records
// with nothing after the last one.
func Records(b []byte, h *Header, opts DecodeOptions) ([]Record, error) {
	data, err := recordBytes(b, h)
	if err != nil {
		return nil, err
	}
	if c := h.Compression(); c != CompressionNone {
		// Not pooled: the records returned alias this buffer.
		if data, err = Decompress(c, data, nil, opts.limit()); err != nil {
			return nil, err
		}
	}
	// Cap the allocation by what the bytes can hold, never by the
	// untrusted count alone.
	n := int(h.RecordCount)
	if n < 0 {
		n = 0
	}
	recs := make([]Record, 0, min(n, len(data)/minRecordSize))
	err = walkRecords(data, h.RecordCount, func(r *Record) error {
		recs = append(recs, *r)
		r.Headers = nil // the appended copy owns them now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// ForEachRecord calls fn for every record of the batch b, described by h,
// in order, without allocating a slice of records. It decompresses into a
// pooled buffer, so r and everything it references (Key, Value, Headers)
// are valid only until fn returns: copy what must outlive the call.
//
// An error returned by fn stops the walk and is returned as is, so a
// caller searching for a record can stop early with its own sentinel. Like
// Records it checks framing, not the CRC or the offset deltas.
func ForEachRecord(b []byte, h *Header, opts DecodeOptions, fn func(r *Record) error) error {
	data, err := recordBytes(b, h)
	if err != nil {
		return err
	}
	if c := h.Compression(); c != CompressionNone {
		buf := getBuffer()
		defer putBuffer(buf)
		if data, err = Decompress(c, data, (*buf)[:0], opts.limit()); err != nil {
			return err
		}
		*buf = data
	}
	return walkRecords(data, h.RecordCount, fn)
}

// recordBytes returns the (possibly compressed) records section of b.
func recordBytes(b []byte, h *Header) ([]byte, error) {
	size := h.Size()
	if size < HeaderSize {
		return nil, fmt.Errorf("%w: batch length %d below header size", ErrCorrupt, h.Length)
	}
	if size > len(b) {
		return nil, fmt.Errorf("%w: batch needs %d bytes, have %d", ErrTruncated, size, len(b))
	}
	return b[HeaderSize:size], nil
}

// walkRecords decodes count records from data, calling fn for each, and
// requires data to end exactly after the last one. A single Record is
// reused across calls, headers slice included.
func walkRecords(data []byte, count int32, fn func(r *Record) error) error {
	var r Record
	for i := int32(0); i < count; i++ {
		if len(data) == 0 {
			return fmt.Errorf("%w: batch declares %d records, holds %d", ErrInvalidRecord, count, i)
		}
		n, err := decodeRecord(data, &r, true)
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		data = data[n:]
		if err := fn(&r); err != nil {
			return err
		}
	}
	return checkTrailing(data, count)
}

// checkTrailing classifies bytes left after the declared records: if they
// start with a well-formed record the count was wrong (ErrInvalidRecord),
// otherwise they are garbage (ErrCorrupt).
func checkTrailing(rest []byte, count int32) error {
	if len(rest) == 0 {
		return nil
	}
	var r Record
	if _, err := decodeRecord(rest, &r, false); err == nil {
		return fmt.Errorf("%w: batch declares %d records, holds more", ErrInvalidRecord, count)
	}
	return fmt.Errorf("%w: %d bytes of trailing garbage after record %d", ErrCorrupt, len(rest), count-1)
}
