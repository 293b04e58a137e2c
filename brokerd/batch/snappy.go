package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/compress/snappy"
)

// The Java client's snappy output uses the xerial snappy-java stream
// framing: a 16-byte header (the magic below, then two big-endian int32s,
// version and minimum compatible version, both 1) followed by blocks, each
// a big-endian uint32 length and a raw snappy block. librdkafka and
// franz-go's one-shot path send one raw snappy block instead. A raw block
// starts with the uvarint decoded length and then a literal, so it can never
// begin with this magic (0x82 0x53 'N' would be a copy op with no history).
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

func decompressSnappy(src, dst []byte, limit int) ([]byte, error) {
	if len(src) >= xerialHeaderSize && bytes.HasPrefix(src, xerialMagic) {
		return decodeXerial(src[xerialHeaderSize:], dst, limit)
	}
	total, err := snappy.DecodedLen(src)
	if err != nil {
		return dst, fmt.Errorf("%w: snappy: %w", ErrCorrupt, err)
	}
	if total > limit {
		return dst, fmt.Errorf("%w: snappy block declares %d bytes, limit %d", ErrTooLarge, total, limit)
	}
	return appendSnappyBlock(dst, src, total)
}

// decodeXerial decodes the blocks after the xerial header. A first pass
// sums the blocks' declared sizes, so the limit is enforced and dst grown
// once before anything is decoded.
func decodeXerial(blocks, dst []byte, limit int) ([]byte, error) {
	total := 0
	for rest := blocks; len(rest) > 0; {
		block, next, err := xerialBlock(rest)
		if err != nil {
			return dst, err
		}
		n, err := snappy.DecodedLen(block)
		if err != nil {
			return dst, fmt.Errorf("%w: snappy: %w", ErrCorrupt, err)
		}
		if total += n; total > limit {
			return dst, fmt.Errorf("%w: xerial snappy blocks declare more than %d bytes", ErrTooLarge, limit)
		}
		rest = next
	}
	dst = slices.Grow(dst, total)
	start := len(dst)
	for rest := blocks; len(rest) > 0; {
		block, next, _ := xerialBlock(rest) // checked above
		n, _ := snappy.DecodedLen(block)
		var err error
		if dst, err = appendSnappyBlock(dst, block, n); err != nil {
			return dst[:start], err
		}
		rest = next
	}
	return dst, nil
}

// xerialBlock splits the first length-prefixed block off b.
func xerialBlock(b []byte) (block, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: xerial snappy: %d stray bytes after last block", ErrCorrupt, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("%w: xerial snappy: block of %d bytes, %d remain", ErrCorrupt, n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}

// appendSnappyBlock decodes one raw block, whose decoded size is n, into
// dst's spare capacity.
func appendSnappyBlock(dst, block []byte, n int) ([]byte, error) {
	dst = slices.Grow(dst, n)
	out, err := snappy.Decode(dst[len(dst):len(dst)+n], block)
	if err != nil {
		return dst, fmt.Errorf("%w: snappy: %w", ErrCorrupt, err)
	}
	if len(out) != n {
		return dst, fmt.Errorf("%w: snappy: decoded %d bytes, header said %d", ErrCorrupt, len(out), n)
	}
	return dst[:len(dst)+n], nil
}
