package storage

import (
	"testing"
)

func benchmarkAppend(b *testing.B, batchBytes int) {
	o := testOptions(newClock(), nil, nil)
	o.Config = DefaultConfig()
	o.Config.SegmentBytes = 64 << 20
	l := mustOpen(b, b.TempDir(), o)
	defer l.Close()
	const records = 4
	tmpl := makeBatch(plain(records, batchBytes/records-8, 1))
	// Pre-build copies: the log owns an appended batch.
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = append([]byte(nil), tmpl...)
	}
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Append(bufs[i%len(bufs)], AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	b.Run("1KiB", func(b *testing.B) { benchmarkAppend(b, 1<<10) })
	b.Run("16KiB", func(b *testing.B) { benchmarkAppend(b, 16<<10) })
}

// BenchmarkRead reads a 64 MiB log sequentially in 1 MiB fetches.
func BenchmarkRead(b *testing.B) {
	o := testOptions(newClock(), nil, nil)
	o.Config = DefaultConfig()
	o.Config.SegmentBytes = 16 << 20
	l := mustOpen(b, b.TempDir(), o)
	defer l.Close()
	tmpl := makeBatch(plain(4, 1000, 1))
	for n := 0; n < 64<<20; n += len(tmpl) {
		if _, err := l.Append(append([]byte(nil), tmpl...), AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	end := l.LogEndOffset()
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	off := int64(0)
	for b.Loop() {
		buf, err := l.Read(off, 1<<20, end)
		if err != nil {
			b.Fatal(err)
		}
		if len(buf) == 0 {
			off = 0
			continue
		}
		off += int64(len(buf) / len(tmpl) * 4)
		if off >= end {
			off = 0
		}
	}
}
