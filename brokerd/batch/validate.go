package batch

import (
	"fmt"
)

// ValidateOptions tunes Validate.
type ValidateOptions struct {
	// AllowControl accepts control batches (transaction markers). Only
	// the broker itself writes them; from a producer they are invalid.
	AllowControl bool
	// SkipRecords stops after the header checks and the CRC, without
	// decoding records: for trusted re-validation (replicas, recovery)
	// and benchmarks.
	SkipRecords bool
	// MaxDecompressedBytes bounds a compressed batch's decompressed
	// records; 0 means DefaultMaxDecompressedBytes.
	MaxDecompressedBytes int
}

// Validate checks that b is exactly one well-formed v2 batch, as a leader
// must before appending a produced batch, and returns its header:
//
//   - the header parses and the batch is exactly len(b) bytes (ErrTruncated,
//     ErrCorrupt, ErrMagic);
//   - the CRC32C matches (ErrCorrupt);
//   - the codec is known (ErrUnsupportedCompression);
//   - there is at least one record, LastOffsetDelta is RecordCount-1, and
//     it is not a control batch unless allowed (ErrInvalidRecord);
//   - unless SkipRecords: decoding (and decompressing, within the limit:
//     ErrTooLarge) yields exactly RecordCount records with offset deltas
//     0..n-1 (ErrInvalidRecord), each filling exactly its declared length
//     and nothing after the last (ErrCorrupt).
//
// On the uncompressed path Validate allocates nothing unless it fails.
func Validate(b []byte, opts ValidateOptions) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if len(b) != h.Size() {
		return h, fmt.Errorf("%w: %d bytes after a batch of %d", ErrCorrupt, len(b)-h.Size(), h.Size())
	}
	if err := CheckCRC(b, &h); err != nil {
		return h, err
	}
	if c := h.Compression(); c > CompressionZstd {
		return h, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, int8(c))
	}
	if h.RecordCount < 1 {
		return h, fmt.Errorf("%w: batch declares %d records", ErrInvalidRecord, h.RecordCount)
	}
	if h.LastOffsetDelta != h.RecordCount-1 {
		return h, fmt.Errorf("%w: last offset delta %d with %d records", ErrInvalidRecord, h.LastOffsetDelta, h.RecordCount)
	}
	if h.IsControl() && !opts.AllowControl {
		return h, fmt.Errorf("%w: control batch from a client", ErrInvalidRecord)
	}
	if opts.SkipRecords {
		return h, nil
	}
	data := b[HeaderSize:]
	if c := h.Compression(); c != CompressionNone {
		buf := getBuffer()
		defer putBuffer(buf)
		if data, err = Decompress(c, data, (*buf)[:0], DecodeOptions{MaxDecompressedBytes: opts.MaxDecompressedBytes}.limit()); err != nil {
			return h, err
		}
		*buf = data
	}
	return h, checkRecords(data, h.RecordCount)
}

// checkRecords decodes count records without materialising anything and
// checks their offset deltas and framing.
func checkRecords(data []byte, count int32) error {
	var r Record
	for i := int32(0); i < count; i++ {
		if len(data) == 0 {
			return fmt.Errorf("%w: batch declares %d records, holds %d", ErrInvalidRecord, count, i)
		}
		n, err := decodeRecord(data, &r, false)
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if r.OffsetDelta != i {
			return fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, r.OffsetDelta)
		}
		data = data[n:]
	}
	return checkTrailing(data, count)
}
