package storage

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
)

// BenchmarkClean measures cleaning throughput (MB/s of input segments):
// 32 MiB of 1 KiB records in batches of 16, over 2,000 keys (so about 1 in
// 8 records survives), in 1 MiB segments, cleaned in one pass with an
// offset map that holds every key. Each iteration cleans a fresh copy.
func BenchmarkClean(b *testing.B) {
	for _, c := range []batch.Compression{batch.CompressionNone, batch.CompressionLZ4, batch.CompressionZstd} {
		b.Run(c.String(), func(b *testing.B) { benchmarkClean(b, c) })
	}
}

func benchmarkClean(b *testing.B, codec batch.Compression) {
	clock := newClock()
	o := testOptions(clock, nil, nil)
	o.Config.Compact, o.Config.NoRetention = true, true
	o.Config.SegmentBytes = 1 << 20
	o.Config.IndexIntervalBytes = 4096
	tmpl := b.TempDir()
	l := mustOpen(b, tmpl, o)
	// Hex of random bytes: values compress about 2:1, as text does.
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 500)
	var recs []batch.Record
	for n := 0; l.Size() < 32<<20; n++ {
		recs = recs[:0]
		for j := 0; j < 16; j++ {
			for k := range raw {
				raw[k] = byte(rng.Uint32())
			}
			recs = append(recs, batch.Record{Key: fmt.Appendf(nil, "key-%05d", (n*16+j)%2000), Value: []byte(hex.EncodeToString(raw))})
		}
		if _, err := l.Append(batch.Build(recs, batch.BuildOptions{BaseTimestamp: clock.Ms(), Compression: codec}), AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	var input int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "log")
		copyDir(b, tmpl, dir)
		l := mustOpen(b, dir, o)
		input = l.Size() - l.segments[len(l.segments)-1].size
		b.StartTimer()
		st, err := l.Clean(context.Background(), CleanOptions{MaxKeys: 4096})
		b.StopTimer()
		if err != nil || !st.Cleaned || st.FirstDirty != l.segments[len(l.segments)-1].base {
			b.Fatalf("clean: %+v, %v", st, err)
		}
		if i == 0 {
			b.ReportMetric(float64(l.Size())/float64(input+l.segments[len(l.segments)-1].size), "size-ratio")
		}
		l.Close()
		b.StartTimer()
	}
	b.SetBytes(input)
}

func copyDir(b *testing.B, from, to string) {
	b.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		b.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
