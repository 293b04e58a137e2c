package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// zstdEncoders caches encoders (costly to build) the way the decoder
// pools do: reset by EncodeAll on every use, so nothing carries over.
var zstdEncoders = sync.Pool{New: func() any {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(64<<10), zstd.WithZeroFrames(true))
	if err != nil {
		return err
	}
	return enc
}}

// Compress appends raw, compressed with codec c, to dst. It is what the
// log cleaner uses to re-encode a batch with the codec it had. The output
// is a deterministic function of raw and c (same library version), so
// replicas cleaning the same batch write the same bytes. Snappy uses the
// xerial framing of the Java client, which every Kafka client reads.
func Compress(c Compression, dst, raw []byte) ([]byte, error) {
	switch c {
	case CompressionNone:
		return append(dst, raw...), nil
	case CompressionGzip:
		buf := bytes.NewBuffer(dst)
		w, err := gzip.NewWriterLevel(buf, gzip.DefaultCompression)
		if err != nil {
			return dst, fmt.Errorf("gzip: %w", err)
		}
		if _, err := w.Write(raw); err != nil {
			return dst, fmt.Errorf("gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return dst, fmt.Errorf("gzip: %w", err)
		}
		return buf.Bytes(), nil
	case CompressionSnappy:
		return appendXerial(dst, raw), nil
	case CompressionLZ4:
		buf := bytes.NewBuffer(dst)
		w := lz4.NewWriter(buf)
		if _, err := w.Write(raw); err != nil {
			return dst, fmt.Errorf("lz4: %w", err)
		}
		if err := w.Close(); err != nil {
			return dst, fmt.Errorf("lz4: %w", err)
		}
		return buf.Bytes(), nil
	case CompressionZstd:
		v := zstdEncoders.Get()
		enc, ok := v.(*zstd.Encoder)
		if !ok {
			return dst, fmt.Errorf("zstd: %v", v)
		}
		defer zstdEncoders.Put(enc)
		return enc.EncodeAll(raw, dst), nil
	}
	return dst, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, int8(c))
}

// appendXerial frames raw as the Java client does: the xerial header, then
// 32 KiB chunks, each a big-endian length and a snappy block.
func appendXerial(dst, raw []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, 1) // version
	dst = binary.BigEndian.AppendUint32(dst, 1) // minimum compatible version
	const chunk = 32 << 10
	for len(raw) > 0 {
		n := min(chunk, len(raw))
		block := snappy.Encode(nil, raw[:n])
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(block)))
		dst = append(dst, block...)
		raw = raw[n:]
	}
	return dst
}
