package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// refit rewrites b's length field to match len(b) and recomputes the CRC,
// so a test can corrupt the contents without tripping the framing checks.
func refit(b []byte) []byte {
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-LengthPrefix))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

// withRecords replaces the records section of a valid uncompressed batch
// with raw and sets the header's record count and last offset delta.
func withRecords(raw []byte, count, lastDelta int32) []byte {
	b := Build([]Record{{Value: []byte("x")}}, BuildOptions{})
	b = append(b[:HeaderSize:HeaderSize], raw...)
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(count))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(lastDelta))
	return refit(b)
}

// rawRecords encodes records with the given offset deltas.
func rawRecords(deltas ...int32) []byte {
	var raw []byte
	for _, d := range deltas {
		raw = appendRecord(raw, &Record{Key: []byte("k"), Value: []byte("v")}, d)
	}
	return raw
}

// rawRecord frames body (everything after the length) with a length prefix.
func rawRecord(length int64, body ...byte) []byte {
	return append(binary.AppendVarint(nil, length), body...)
}

func setInt32(off int, v int32) func([]byte) []byte {
	return func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[off:], uint32(v))
		return refit(b)
	}
}

func TestValidateAcceptsEveryCodec(t *testing.T) {
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			recs := sampleRecords()
			opts := BuildOptions{BaseOffset: 0, BaseTimestamp: 1700000000000, Compression: tc.c, SnappyXerial: tc.xerial,
				ProducerID: 42, ProducerEpoch: 3, BaseSequence: 100, Transactional: true}
			b := Build(recs, opts)
			h, err := Validate(b, ValidateOptions{})
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if h.RecordCount != int32(len(recs)) || h.LastOffsetDelta != int32(len(recs)-1) ||
				h.ProducerID != 42 || h.ProducerEpoch != 3 || h.BaseSequence != 100 || !h.IsTransactional() ||
				h.Compression() != tc.c || h.PartitionLeaderEpoch != -1 || h.BaseTimestamp != opts.BaseTimestamp ||
				h.MaxTimestamp != opts.BaseTimestamp+1<<40 || h.LastSequence() != 104 {
				t.Fatalf("unexpected header %+v", h)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	valid := func() []byte { return Build(sampleRecords(), BuildOptions{BaseTimestamp: 5}) }
	gzipped := func() []byte { return Build(sampleRecords(), BuildOptions{Compression: CompressionGzip}) }
	tests := []struct {
		name   string
		batch  []byte
		opts   ValidateOptions
		want   error
		accept bool // valid with SkipRecords
	}{
		{name: "empty", batch: nil, want: ErrTruncated},
		{name: "truncated header", batch: valid()[:HeaderSize-1], want: ErrTruncated},
		{name: "truncated body", batch: func() []byte { b := valid(); return b[:len(b)-1] }(), want: ErrTruncated},
		{name: "bytes after the batch", batch: append(valid(), 0), want: ErrCorrupt},
		{name: "bad magic", batch: func() []byte { b := valid(); b[offMagic] = 1; return b }(), want: ErrMagic},
		{name: "length below header", batch: func() []byte { b := valid(); binary.BigEndian.PutUint32(b[offLength:], 48); return b }(), want: ErrCorrupt},
		{name: "negative length", batch: func() []byte { b := valid(); binary.BigEndian.PutUint32(b[offLength:], 0xffffffff); return b }(), want: ErrCorrupt},
		{name: "crc mismatch", batch: func() []byte { b := valid(); b[len(b)-1] ^= 1; return b }(), want: ErrCorrupt},
		{name: "unknown codec 5", batch: func() []byte { b := valid(); b[offAttributes+1] |= 5; return refit(b) }(), want: ErrUnsupportedCompression},
		{name: "unknown codec 7", batch: func() []byte { b := valid(); b[offAttributes+1] |= 7; return refit(b) }(), want: ErrUnsupportedCompression},
		{name: "no records", batch: withRecords(nil, 0, -1), want: ErrInvalidRecord},
		{name: "record count too high", batch: setInt32(offRecordCount, 6)(valid()), want: ErrInvalidRecord},
		{name: "record count too high and matching delta", batch: withRecords(rawRecords(0, 1), 3, 2), want: ErrInvalidRecord, accept: true},
		{name: "record count too low", batch: withRecords(rawRecords(0, 1, 2), 2, 1), want: ErrInvalidRecord, accept: true},
		{name: "huge record count", batch: withRecords(rawRecords(0), 1<<31-1, 1<<31-2), want: ErrInvalidRecord, accept: true},
		{name: "wrong last offset delta", batch: setInt32(offLastOffsetDelta, 3)(valid()), want: ErrInvalidRecord},
		{name: "offset deltas out of order", batch: withRecords(rawRecords(0, 2, 1), 3, 2), want: ErrInvalidRecord, accept: true},
		{name: "offset deltas not from zero", batch: withRecords(rawRecords(1, 2), 2, 1), want: ErrInvalidRecord, accept: true},
		{name: "control batch", batch: Build(sampleRecords(), BuildOptions{Control: true}), want: ErrInvalidRecord},
		{name: "negative record length", batch: withRecords(rawRecord(-5, 0, 0, 0, 1, 1, 0), 1, 0), want: ErrCorrupt, accept: true},
		{name: "record length past the end", batch: withRecords(rawRecord(50, 0, 0, 0, 1, 1, 0), 1, 0), want: ErrCorrupt, accept: true},
		{name: "record length longer than fields", batch: withRecords(rawRecord(7, 0, 0, 0, 1, 1, 0, 0), 1, 0), want: ErrCorrupt, accept: true},
		{name: "record length shorter than fields", batch: withRecords(append(rawRecord(5, 0, 0, 0, 1, 1), 0), 1, 0), want: ErrCorrupt, accept: true},
		{name: "malformed length varint", batch: withRecords(bytes.Repeat([]byte{0xff}, 11), 1, 0), want: ErrCorrupt, accept: true},
		{name: "key length below -1", batch: withRecords(rawRecord(6, 0, 0, 0, 3, 1, 0), 1, 0), want: ErrInvalidRecord, accept: true},
		{name: "negative header count", batch: withRecords(rawRecord(6, 0, 0, 0, 1, 1, 1), 1, 0), want: ErrInvalidRecord, accept: true},
		{name: "null header key", batch: withRecords(rawRecord(8, 0, 0, 0, 1, 1, 2, 1, 1), 1, 0), want: ErrInvalidRecord, accept: true},
		{name: "header count beyond record", batch: withRecords(rawRecord(6, 0, 0, 0, 1, 1, 100), 1, 0), want: ErrCorrupt, accept: true},
		{name: "trailing garbage", batch: withRecords(append(rawRecords(0, 1), 0xff, 0xff), 2, 1), want: ErrCorrupt, accept: true},
		{name: "corrupt gzip", batch: func() []byte { b := gzipped(); b[HeaderSize+12] ^= 0xff; return refit(b) }(), want: ErrCorrupt, accept: true},
		{name: "decompression bomb", batch: Build([]Record{{Value: make([]byte, 1<<20)}}, BuildOptions{Compression: CompressionZstd}),
			opts: ValidateOptions{MaxDecompressedBytes: 64 << 10}, want: ErrTooLarge, accept: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.batch, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			skip := tc.opts
			skip.SkipRecords = true
			_, err = Validate(tc.batch, skip)
			if tc.accept && err != nil {
				t.Fatalf("with SkipRecords: %v, want nil (the header is intact)", err)
			}
			if !tc.accept && !errors.Is(err, tc.want) {
				t.Fatalf("with SkipRecords: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestValidateAllowControl(t *testing.T) {
	b := Build(sampleRecords(), BuildOptions{Control: true, ProducerID: 1, Transactional: true})
	if _, err := Validate(b, ValidateOptions{AllowControl: true}); err != nil {
		t.Fatalf("Validate with AllowControl: %v", err)
	}
}

// TestValidateEveryFlippedByte flips each byte of a batch in turn. Bytes
// the CRC covers must fail as corrupt; the magic fails as ErrMagic, the
// length as a framing error; only the base offset and leader epoch, which
// the broker rewrites, are free.
func TestValidateEveryFlippedByte(t *testing.T) {
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			orig := Build(sampleRecords(), BuildOptions{BaseTimestamp: 99, Compression: tc.c, SnappyXerial: tc.xerial, ProducerID: 7})
			for i := range orig {
				b := bytes.Clone(orig)
				b[i] ^= 0x10
				_, err := Validate(b, ValidateOptions{})
				switch {
				case i < offLength || (i >= offLeaderEpoch && i < offMagic):
					if err != nil {
						t.Fatalf("byte %d (offset/epoch): %v, want nil", i, err)
					}
				case i < offLeaderEpoch:
					if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
						t.Fatalf("byte %d (length): %v, want a framing error", i, err)
					}
				case i == offMagic:
					if !errors.Is(err, ErrMagic) {
						t.Fatalf("byte %d (magic): %v, want ErrMagic", i, err)
					}
				default:
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("byte %d: %v, want ErrCorrupt", i, err)
					}
				}
			}
		})
	}
}

func TestValidateIgnoresRewrittenOffsetAndEpoch(t *testing.T) {
	b := Build(sampleRecords(), BuildOptions{Compression: CompressionSnappy})
	SetBaseOffset(b, 1<<40)
	SetPartitionLeaderEpoch(b, 17)
	h, err := Validate(b, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 1<<40 || h.PartitionLeaderEpoch != 17 || h.LastOffset() != 1<<40+4 {
		t.Fatalf("header after rewrite: %+v", h)
	}
}

func TestSetLogAppendTimeKeepsBatchValid(t *testing.T) {
	b := Build(sampleRecords(), BuildOptions{BaseTimestamp: 10})
	SetLogAppendTime(b, 12345)
	h, err := Validate(b, ValidateOptions{})
	if err != nil {
		t.Fatalf("Validate after SetLogAppendTime: %v", err)
	}
	if h.Attributes&AttrLogAppendTime == 0 || h.MaxTimestamp != 12345 {
		t.Fatalf("header %+v: want LogAppendTime and max timestamp 12345", h)
	}
}

func TestValidateUncompressedDoesNotAllocate(t *testing.T) {
	b := Build(manyRecords(100, 100), BuildOptions{})
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := Validate(b, ValidateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Validate allocates %.1f times per uncompressed batch, want 0", allocs)
	}
}
