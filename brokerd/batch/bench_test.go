package batch

import (
	"testing"
)

// benchBatch is ~16 KiB of 100-byte records, the size franz-go's default
// linger typically produces under load.
func benchBatch(c Compression) []byte {
	return Build(manyRecords(140, 100), BuildOptions{BaseTimestamp: 1_700_000_000_000, Compression: c, ProducerID: 1})
}

// BenchmarkValidate reports throughput in uncompressed record bytes, so
// codecs compare on the work a producer asked for.
func BenchmarkValidate(b *testing.B) {
	for _, tc := range allCodecs {
		b.Run(tc.name, func(b *testing.B) {
			batch := Build(manyRecords(140, 100), BuildOptions{BaseTimestamp: 1_700_000_000_000, Compression: tc.c, SnappyXerial: tc.xerial, ProducerID: 1})
			b.SetBytes(int64(len(benchBatch(CompressionNone))))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Validate(batch, ValidateOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("none-skip-records", func(b *testing.B) {
		batch := benchBatch(CompressionNone)
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Validate(batch, ValidateOptions{SkipRecords: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkForEachRecord(b *testing.B) {
	for _, c := range []Compression{CompressionNone, CompressionZstd} {
		b.Run(c.String(), func(b *testing.B) {
			batch := benchBatch(c)
			h := mustHeader(b, batch)
			b.SetBytes(int64(len(benchBatch(CompressionNone))))
			b.ReportAllocs()
			for b.Loop() {
				if err := ForEachRecord(batch, &h, DecodeOptions{}, func(*Record) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSplit(b *testing.B) {
	set := benchBatch(CompressionNone)
	for range 3 {
		set = append(set, benchBatch(CompressionNone)...)
	}
	b.ReportAllocs()
	for b.Loop() {
		it := NewIter(set)
		for it.Next() {
		}
		if it.Err() != nil {
			b.Fatal(it.Err())
		}
	}
}
