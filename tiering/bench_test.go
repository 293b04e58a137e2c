package tiering

import (
	"context"
	"fmt"
	"testing"

	"github.com/kafki/kafki/tiering/fetch"
	"github.com/kafki/kafki/tiering/remote"
)

// benchSegments: 4 segments of 100 batches of 10 records of 1000 bytes,
// about 1 MB each, uncompressed.
func benchEnv(b *testing.B, kind string, ro fetch.Options) (*env, int64, int64) {
	b.Helper()
	e := newEnv(b, newStore(b, kind, nil), nil, ro)
	var segs = e.writeSegmentsPlain(4, 100, 10, 1000)
	e.uploadAll(segs, 1)
	var total int64
	for _, s := range segs {
		total += int64(len(s.Log))
	}
	return e, segs[len(segs)-1].Next, total
}

// benchFetchBytes is the consumer's fetch size (Kafka's default
// max.partition.fetch.bytes is 1 MiB; smaller fetches exercise read-ahead).
const benchFetchBytes = 256 << 10

func consumeBench(b *testing.B, tier *Tier, end int64) {
	for off := int64(0); off < end; {
		res, err := tier.ReadRemote(context.Background(), tp, off, benchFetchBytes)
		if err != nil {
			b.Fatal(err)
		}
		off = res.NextOffset
	}
}

// BenchmarkRemoteRead reads the whole remote tier sequentially, the way
// a backfilling consumer does: cold (fresh cache every pass) and warm
// (cache large enough, already filled); hit-ratio is the share of chunk
// and index lookups the cache served.
func BenchmarkRemoteRead(b *testing.B) {
	for _, kind := range storeKinds {
		b.Run(kind+"/cold", func(b *testing.B) {
			e, end, total := benchEnv(b, kind, fetch.Options{})
			b.SetBytes(total)
			b.ResetTimer()
			var hits, misses int64
			for i := 0; i < b.N; i++ {
				tier := New(Config{Store: e.store, Meta: e.meta})
				consumeBench(b, tier, end)
				tier.Close()
				st := tier.ReaderStats()
				hits, misses = hits+st.Hits, misses+st.Misses
			}
			b.StopTimer()
			// Cold hits come only from read-ahead and chunk reuse.
			b.ReportMetric(float64(hits)/float64(hits+misses), "hit-ratio")
		})
		b.Run(kind+"/warm", func(b *testing.B) {
			e, end, total := benchEnv(b, kind, fetch.Options{CacheBytes: 64 << 20})
			consumeBench(b, e.tier, end)
			before := e.tier.ReaderStats()
			b.SetBytes(total)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				consumeBench(b, e.tier, end)
			}
			b.StopTimer()
			after := e.tier.ReaderStats()
			hits, misses := after.Hits-before.Hits, after.Misses-before.Misses
			b.ReportMetric(float64(hits)/float64(hits+misses), "hit-ratio")
		})
	}
}

// BenchmarkUpload seals a ~1 MB segment (log, indexes, snapshot, epochs)
// per iteration, each into its own partition.
func BenchmarkUpload(b *testing.B) {
	for _, kind := range storeKinds {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, newStore(b, kind, nil), nil, fetch.Options{})
			segs := e.writeSegmentsPlain(1, 100, 10, 1000)
			b.SetBytes(int64(len(segs[0].Log)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := sealed(segs[0], 1)
				s.TP = remote.TopicPartition{Topic: fmt.Sprintf("bench-%d", i), Partition: 0}
				if _, err := e.tier.OnSegmentSealed(context.Background(), s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
