package cleaner_test

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// BenchmarkCompactedChurn is the compaction benchmark on one
// broker: a producer overwrites a fixed key space of a compacted topic at
// a fixed rate (so latency is the broker's, not a saturated queue's),
// with the log cleaner running and with it off. It reports produce
// latency percentiles (acks=all, per record, from Produce to the
// acknowledgement) and the partition's bytes on disk, and logs the disk
// size every second: with the cleaner it levels off near the live data
// (keys x value size plus the uncleaned head), without it it grows with
// every write.
//
//	go test -run '^$' -bench CompactedChurn -benchtime 1x ./brokerd/cleaner
//
// The cleaner compacts only segments that log maintenance has finished
// (sealed and fsynced), and maintenance runs at most every 5 s, at
// log.retention.check.interval when that is shorter: the third case shows
// the disk size with maintenance every second.
func BenchmarkCompactedChurn(b *testing.B) {
	for _, c := range []struct {
		name        string
		cleaner     bool
		maintenance time.Duration // 0: the default
	}{
		{"cleaner=on", true, 0},
		{"cleaner=on,maintenance=1s", true, time.Second},
		{"cleaner=off", false, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				churn(b, c.cleaner, c.maintenance)
			}
		})
	}
}

const (
	churnKeys     = 5000
	churnValue    = 512
	churnRate     = 20000 // records per second
	churnDuration = 20 * time.Second
)

func churn(b *testing.B, cleaner bool, maintenance time.Duration) {
	dataDir := b.TempDir()
	br := testbroker.StartBroker(b, testbroker.WithDataDir(dataDir), testbroker.WithConfig(func(c *config.Config) {
		c.CleanerEnable = cleaner
		c.CleanerBackoff = 200 * time.Millisecond
		if maintenance > 0 {
			c.RetentionCheckInterval = maintenance
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), churnDuration+time.Minute)
	defer cancel()
	const topic = "churn"
	if _, err := br.Topics().CreateTopic(ctx, topic, 1, map[string]string{
		"cleanup.policy": "compact", "segment.bytes": fmt.Sprint(1 << 20),
	}, false); err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()

	dir := filepath.Join(dataDir, topic+"-0")
	var (
		mu       sync.Mutex
		hist     = hdrhistogram.New(1, 10_000_000, 3) // microseconds
		failed   error
		wg       sync.WaitGroup
		peakDisk int64
		series   []string // disk MB, one per second
	)
	value := make([]byte, churnValue)
	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	nextSample := start.Add(time.Second)
	sent := 0
	for now := start; now.Sub(start) < churnDuration; now = <-tick.C {
		due := int(now.Sub(start).Seconds() * churnRate)
		for ; sent < due; sent++ {
			wg.Add(1)
			at := time.Now()
			cl.Produce(ctx, &kgo.Record{Key: fmt.Appendf(nil, "key-%05d", sent%churnKeys), Value: value}, func(_ *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil && failed == nil {
					failed = err
				}
				_ = hist.RecordValue(time.Since(at).Microseconds())
			})
		}
		if now.After(nextSample) {
			d := diskBytes(b, dir)
			peakDisk = max(peakDisk, d)
			series = append(series, fmt.Sprintf("%.0f", float64(d)/1e6))
			nextSample = nextSample.Add(time.Second)
		}
	}
	wg.Wait()
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	final := diskBytes(b, dir)
	b.Logf("disk MB each second: %s", strings.Join(series, " "))
	b.ReportMetric(float64(hist.ValueAtQuantile(50))/1000, "p50-ms")
	b.ReportMetric(float64(hist.ValueAtQuantile(99))/1000, "p99-ms")
	b.ReportMetric(float64(hist.ValueAtQuantile(99.9))/1000, "p99.9-ms")
	b.ReportMetric(float64(max(peakDisk, final))/1e6, "peak-disk-MB")
	b.ReportMetric(float64(final)/1e6, "final-disk-MB")
	b.ReportMetric(float64(sent*churnValue)/1e6, "written-MB")
	b.ReportMetric(float64(churnKeys*churnValue)/1e6, "live-MB")
}

// diskBytes is the size of the files of a partition directory.
func diskBytes(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a segment the cleaner just swapped out
		}
		if info, ierr := d.Info(); ierr == nil && !d.IsDir() {
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
