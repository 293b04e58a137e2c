package batch

import (
	"encoding/binary"
	"math"
)

// Kafka encodes record fields as zig-zag varints (the same encoding as
// encoding/binary's Varint). An int32 varint takes at most 5 bytes.
const maxVarint32Len = 5

// varint32 decodes a zig-zag varint that must fit an int32. n is the number
// of bytes read; n <= 0 means the input was truncated (0) or the value is
// malformed or out of range (< 0).
func varint32(b []byte) (v int32, n int) {
	x, n := binary.Varint(b)
	if n <= 0 {
		return 0, n
	}
	if n > maxVarint32Len || x < math.MinInt32 || x > math.MaxInt32 {
		return 0, -n
	}
	return int32(x), n
}

// varint64 decodes a zig-zag varint of at most 10 bytes, with the same n
// convention as varint32.
func varint64(b []byte) (v int64, n int) {
	return binary.Varint(b)
}
