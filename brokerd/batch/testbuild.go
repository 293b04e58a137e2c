package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BuildOptions describe the batch Build encodes. The zero value is an
// uncompressed, non-idempotent batch at offset 0 and timestamp 0.
type BuildOptions struct {
	BaseOffset    int64
	BaseTimestamp int64
	// ProducerID 0 (or negative) means no producer: the batch carries
	// producer id -1, epoch -1 and base sequence -1, as the Java client
	// writes for a non-idempotent producer. A positive id writes
	// ProducerEpoch and BaseSequence as given. (Producer id 0 cannot be
	// expressed; tests should use a positive id.)
	ProducerID int64
	// HasProducer writes ProducerID, ProducerEpoch and BaseSequence as
	// given even when ProducerID is 0 (the group coordinator's
	// transactional offset commits carry any allocated producer id).
	HasProducer   bool
	ProducerEpoch int16
	BaseSequence  int32
	Compression   Compression
	// SnappyXerial frames snappy the Java client's way (also franz-go's
	// streaming path) instead of a single raw block (librdkafka,
	// franz-go's one-shot path).
	SnappyXerial  bool
	Transactional bool
	// Control sets the control attribute; only useful to test that
	// client-sent control batches are rejected.
	Control bool
}

// Build encodes records as one v2 batch, laid out exactly as franz-go's
// producer lays it out (partition leader epoch -1, offset deltas 0..n-1,
// max timestamp over the records, CRC32C over attributes onwards). The
// records' OffsetDelta fields are ignored. With a codec set, the records
// are always compressed, even when that does not shrink them (a producer
// would fall back to none), so tests exercise the codec they ask for.
//
// Build is a test helper: it panics on options no test should pass (an
// unknown codec).
func Build(records []Record, opts BuildOptions) []byte {
	var raw []byte
	maxTS := opts.BaseTimestamp
	for i := range records {
		r := &records[i]
		raw = appendRecord(raw, r, int32(i))
		if ts := opts.BaseTimestamp + r.TimestampDelta; i == 0 || ts > maxTS {
			maxTS = ts
		}
	}
	payload := compressForTest(opts.Compression, opts.SnappyXerial, raw)

	attrs := int16(opts.Compression) & AttrCompressionMask
	if opts.Transactional {
		attrs |= AttrTransactional
	}
	if opts.Control {
		attrs |= AttrControl
	}
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if opts.ProducerID > 0 || opts.HasProducer {
		pid, epoch, seq = opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          opts.BaseOffset,
		Length:               int32(HeaderSize - LengthPrefix + len(payload)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(len(records) - 1),
		FirstTimestamp:       opts.BaseTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(len(records)),
		Records:              payload,
	}
	b := rb.AppendTo(make([]byte, 0, HeaderSize+len(payload)))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

// appendRecord encodes r with kmsg, computing the length prefix the way a
// producer does: the size of everything after it.
func appendRecord(dst []byte, r *Record, offsetDelta int32) []byte {
	kr := kmsg.Record{
		Attributes:       r.Attributes,
		TimestampDelta:   int32(r.TimestampDelta),
		TimestampDelta64: r.TimestampDelta,
		OffsetDelta:      offsetDelta,
		Key:              r.Key,
		Value:            r.Value,
	}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
	}
	body := kr.AppendTo(nil)[1:] // Length 0 encodes as one byte
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

// compressForTest compresses raw the way franz-go's default compressor
// does for each codec.
func compressForTest(c Compression, xerial bool, raw []byte) []byte {
	var buf bytes.Buffer
	switch c {
	case CompressionNone:
		return raw
	case CompressionGzip:
		w, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		mustWrite(w.Write(raw))
		mustDo(w.Close())
		return buf.Bytes()
	case CompressionSnappy:
		if xerial {
			return appendXerial(nil, raw)
		}
		return snappy.Encode(nil, raw)
	case CompressionLZ4:
		w := lz4.NewWriter(&buf)
		mustWrite(w.Write(raw))
		mustDo(w.Close())
		return buf.Bytes()
	case CompressionZstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(64<<10), zstd.WithZeroFrames(true))
		mustDo(err)
		defer enc.Close()
		return enc.EncodeAll(raw, nil)
	}
	panic(fmt.Sprintf("batch.Build: unknown compression %v", c))
}

func mustWrite(_ int, err error) { mustDo(err) }

func mustDo(err error) {
	if err != nil {
		panic(fmt.Sprintf("batch.Build: %v", err))
	}
}
