package batch

import "errors"

// Errors added on top of those of header.go. Every error this package
// returns wraps exactly one of ErrTruncated, ErrCorrupt, ErrMagic,
// ErrInvalidRecord, ErrUnsupportedCompression or ErrTooLarge, so the
// protocol layer can map it to a Kafka error code with errors.Is:
//
//	ErrTruncated, ErrCorrupt   -> CORRUPT_MESSAGE (2)
//	ErrInvalidRecord           -> INVALID_RECORD (87)
//	ErrUnsupportedCompression  -> UNSUPPORTED_COMPRESSION_TYPE (76)
//	ErrTooLarge                -> RECORD_LIST_TOO_LARGE (18) or CORRUPT_MESSAGE
var (
	// ErrInvalidRecord means the batch is intact (its CRC matches) but
	// its records contradict its header or are malformed in content:
	// wrong record count, offset deltas out of order, an empty or
	// client-sent control batch, a null header key.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrUnsupportedCompression means the attributes name a codec this
	// broker does not know (5, 6 or 7).
	ErrUnsupportedCompression = errors.New("unsupported compression type")
	// ErrTooLarge means decompressing would produce more bytes than the
	// caller's limit: a decompression bomb, or a limit set too low.
	ErrTooLarge = errors.New("decompressed records exceed limit")
)
