package triggers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/triggers"
)

// BenchmarkTriggerThroughput: records/s delivered to a no-op Go function
// through one trigger (6 partitions, so up to 6 invocations in flight),
// and the invocation's latency per batch, at two batch sizes. Run with
// make lambdas-bench (-benchtime 1x: each run moves 30,000 records).
func BenchmarkTriggerThroughput(b *testing.B) {
	e := setup(b)
	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			name := fmt.Sprintf("bench-noop-%d-%d", batch, time.Now().UnixNano())
			e.createFunction(b, name, "recorder", map[string]string{"RECORDER_NOOP": "1"})
			cl := e.kafka(b)
			createTopic(b, cl, name, 6)
			const n = 30_000
			recs := make([]*kgo.Record, n)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: name, Key: []byte(fmt.Sprint(i)), Value: make([]byte, 100)}
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			store := triggers.NewMemStore()
			d := triggers.NewDefinition(name, name, name)
			d.StartingPosition, d.BatchSize = triggers.TrimHorizon, batch
			if _, err := triggers.Create(context.Background(), store, d); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			r := e.runRunner(b, store, "bench")
			eventually(b, 5*time.Minute, "all delivered", func() (bool, string) {
				v := counter(r.Metrics().Delivered.WithLabelValues(name))
				return v >= n, fmt.Sprint(v)
			})
			el := time.Since(start)
			h := histogram(r.Metrics().Latency.WithLabelValues(name).(prometheus.Histogram))
			b.ReportMetric(float64(n)/el.Seconds(), "records/s")
			b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount())*1000, "ms/invocation")
			b.ReportMetric(float64(h.GetSampleCount()), "invocations")
			b.Logf("batch %d: %d records in %v (includes group join): %.0f records/s, %d invocations, mean invocation %.1f ms",
				batch, n, el.Round(time.Millisecond), float64(n)/el.Seconds(), h.GetSampleCount(), h.GetSampleSum()/float64(h.GetSampleCount())*1000)
		})
	}
}

// BenchmarkTriggerLatency: produce → function start at a fixed rate
// (records carry their produce time; the recorder writes when its handler
// started), p50/p99 from an HdrHistogram, with no batching window and with
// AWS's default 500 ms.
func BenchmarkTriggerLatency(b *testing.B) {
	e := setup(b)
	for _, window := range []time.Duration{0, 500 * time.Millisecond} {
		b.Run(fmt.Sprintf("window=%v", window), func(b *testing.B) {
			name := fmt.Sprintf("bench-lat-%d-%d", window.Milliseconds(), time.Now().UnixNano())
			e.createTable(b, name, true)
			e.createFunction(b, name, "recorder", map[string]string{"RECORDER_TABLE": name, "RECORDER_NAME": "lat"})
			cl := e.kafka(b, kgo.ProducerLinger(0))
			createTopic(b, cl, name, 6)
			store := triggers.NewMemStore()
			d := triggers.NewDefinition(name, name, name)
			d.StartingPosition, d.BatchingWindow = triggers.TrimHorizon, triggers.MillisOf(window)
			if _, err := triggers.Create(context.Background(), store, d); err != nil {
				b.Fatal(err)
			}
			r := e.runRunner(b, store, "bench")
			// Warm up: the group joins, the function's environments start.
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: name, Value: []byte("warm")}).FirstErr(); err != nil {
				b.Fatal(err)
			}
			eventually(b, time.Minute, "warm", func() (bool, string) { return counter(r.Metrics().Delivered.WithLabelValues(name)) >= 1, "" })
			const rate, secs = 500, 10
			tick := time.NewTicker(time.Second / rate)
			sent := 0
			from := time.Now()
			for sent < rate*secs {
				<-tick.C
				cl.Produce(context.Background(), &kgo.Record{Topic: name, Value: []byte("x")}, nil)
				sent++
			}
			tick.Stop()
			if err := cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			eventually(b, time.Minute, "all delivered", func() (bool, string) {
				v := counter(r.Metrics().Delivered.WithLabelValues(name))
				return v >= float64(sent+1), fmt.Sprint(v)
			})
			hist := hdrhistogram.New(1, 60_000, 3)
			for _, bs := range e.recorded(b, name, name[:0]+"lat") {
				for _, ts := range bs.ts {
					if ts >= from.UnixMilli() {
						_ = hist.RecordValue(max(bs.startMs-ts, 1))
					}
				}
			}
			b.ReportMetric(float64(hist.ValueAtQuantile(50)), "p50-ms")
			b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-ms")
			b.Logf("window %v, %d rec/s for %d s over 6 partitions: produce→function start p50 %d ms, p99 %d ms, max %d ms (%d records)",
				window, rate, secs, hist.ValueAtQuantile(50), hist.ValueAtQuantile(99), hist.Max(), hist.TotalCount())
		})
	}
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

func histogram(h prometheus.Histogram) *dto.Histogram {
	var m dto.Metric
	_ = h.Write(&m)
	return m.GetHistogram()
}
