package batch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Decompress appends to dst the decompressed form of src, compressed with
// codec c, and returns the extended slice. At most limit decompressed bytes
// are accepted (limit <= 0 means DefaultMaxDecompressedBytes); beyond that
// it fails with ErrTooLarge before, or instead of, allocating more.
//
// Corrupt compressed data fails with ErrCorrupt, codecs 5..7 with
// ErrUnsupportedCompression. CompressionNone copies src. Snappy accepts
// both raw snappy blocks (librdkafka, franz-go's one-shot path) and the
// xerial framing of the Java client (and franz-go's streaming path); LZ4 is
// the LZ4 frame format.
//
// A zstd frame whose declared window is larger than limit is refused with
// ErrTooLarge even if its content is small: the decoder would need that
// window. Producers use windows far below DefaultMaxDecompressedBytes.
//
// Decoders are pooled, so concurrent calls are safe and cheap.
func Decompress(c Compression, src, dst []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxDecompressedBytes
	}
	switch c {
	case CompressionNone:
		if len(src) > limit {
			return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), limit)
		}
		return append(dst, src...), nil
	case CompressionGzip:
		return decompressGzip(src, dst, limit)
	case CompressionSnappy:
		return decompressSnappy(src, dst, limit)
	case CompressionLZ4:
		return decompressLZ4(src, dst, limit)
	case CompressionZstd:
		return decompressZstd(src, dst, limit)
	}
	return dst, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, int8(c))
}

// The decoder pools below are the package's only shared state: caches of
// decoders that are reset before every use, so nothing observable carries
// over between calls.
var (
	gzipPool = sync.Pool{New: func() any { return new(gzipDecoder) }}
	lz4Pool  = sync.Pool{New: func() any { return &lz4Decoder{r: lz4.NewReader(nil)} }}
	zstdPool = sync.Pool{New: newZstdDecoder}
)

// gzipDecoder keeps the source reader next to the gzip reader so a
// decompression allocates neither.
type gzipDecoder struct {
	src bytes.Reader
	r   gzip.Reader
}

func decompressGzip(src, dst []byte, limit int) ([]byte, error) {
	d := gzipPool.Get().(*gzipDecoder)
	defer gzipPool.Put(d)
	d.src.Reset(src)
	if err := d.r.Reset(&d.src); err != nil {
		return dst, fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
	}
	out, err := readLimited(dst, &d.r, limit, len(src))
	if err != nil {
		return dst, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}

type lz4Decoder struct {
	src bytes.Reader
	r   *lz4.Reader
}

func decompressLZ4(src, dst []byte, limit int) ([]byte, error) {
	d := lz4Pool.Get().(*lz4Decoder)
	defer lz4Pool.Put(d)
	d.src.Reset(src)
	d.r.Reset(&d.src)
	out, err := readLimited(dst, d.r, limit, len(src))
	if err != nil {
		return dst, fmt.Errorf("lz4: %w", err)
	}
	return out, nil
}

// zstdDecoder remembers the size bound its decoder was last configured
// with: changing it costs an allocation, and callers almost always pass the
// same limit.
type zstdDecoder struct {
	d     *zstd.Decoder
	limit int
}

func newZstdDecoder() any {
	// Concurrency 1: one decoder per pooled object, no goroutines; the
	// pool provides the parallelism.
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(DefaultMaxDecompressedBytes))
	if err != nil {
		// Only invalid options can fail, and these are constant.
		panic(fmt.Sprintf("batch: zstd.NewReader: %v", err))
	}
	z := &zstdDecoder{d: d, limit: DefaultMaxDecompressedBytes}
	runtime.AddCleanup(z, func(d *zstd.Decoder) { d.Close() }, d)
	return z
}

func decompressZstd(src, dst []byte, limit int) ([]byte, error) {
	z := zstdPool.Get().(*zstdDecoder)
	defer zstdPool.Put(z)
	if z.limit != limit {
		// WithDecoderMaxMemory makes DecodeAll refuse frames that
		// declare, or grow to, more than limit decoded bytes, before
		// allocating for them.
		if err := z.d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(limit))); err != nil {
			return dst, fmt.Errorf("zstd: setting limit %d: %w", limit, err)
		}
		z.limit = limit
	}
	// Decode into dst's spare capacity as an empty slice: DecodeAll
	// counts some of its size checks from the start of the slice it is
	// given, so bytes already in dst would eat into the limit.
	start := len(dst)
	out, err := z.d.DecodeAll(src, dst[start:])
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
		return dst, fmt.Errorf("%w: zstd: %w", ErrTooLarge, err)
	case err != nil:
		return dst, fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
	case len(out) == 0:
		return dst, nil
	case cap(dst) > start && &dst[:cap(dst)][start] == &out[0]:
		return dst[:start+len(out)], nil // decoded in place
	}
	return append(dst, out...), nil
}

// readLimited appends everything r yields to dst, failing with ErrTooLarge
// as soon as more than limit bytes arrive. It never grows dst beyond
// limit+1 bytes of output, so a bomb costs at most limit bytes of memory.
// srcLen sizes the first allocation.
func readLimited(dst []byte, r io.Reader, limit, srcLen int) ([]byte, error) {
	start := len(dst)
	if want := min(max(4*srcLen, 4<<10), limit+1); cap(dst)-start < want {
		dst = slices.Grow(dst, want)
	}
	stalls := 0
	for {
		got := len(dst) - start
		if got > limit {
			return dst[:start], fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
		}
		if len(dst) == cap(dst) {
			// Double, but never past limit+1 bytes of output.
			dst = slices.Grow(dst, min(max(got, 4<<10), limit+1-got))
		}
		window := dst[len(dst):min(cap(dst), start+limit+1)]
		n, err := r.Read(window)
		dst = dst[:len(dst)+n]
		switch {
		case err == io.EOF:
			if len(dst)-start > limit {
				return dst[:start], fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
			}
			return dst, nil
		case err != nil:
			return dst[:start], fmt.Errorf("%w: %w", ErrCorrupt, err)
		case n == 0:
			if stalls++; stalls > 100 {
				return dst[:start], fmt.Errorf("%w: %w", ErrCorrupt, io.ErrNoProgress)
			}
		default:
			stalls = 0
		}
	}
}
