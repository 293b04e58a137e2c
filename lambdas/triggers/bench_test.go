package triggers_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
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

// BenchmarkTriggerLag: a fixed produce rate for 20 s into 6 partitions
// (no-op function, batch 100, AWS's 500 ms window), at 1,000 records/s
// and at 5,000, near the bound of 6 partitions × 100 records per
// ~100 ms invocation in MiniStack. Every 250 ms a sampler takes
// the lag (the partitions' end offsets minus the group's committed
// offsets, from the broker) and the age of the oldest unprocessed record
// (the produce time, known from the producer's acknowledgements, of the
// record at each partition's committed offset; the largest over the
// partitions); it reports p50 and max of both.
func BenchmarkTriggerLag(b *testing.B) {
	e := setup(b)
	for _, rate := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			name := fmt.Sprintf("bench-lag-%d-%d", rate, time.Now().UnixNano())
			e.createFunction(b, name, "recorder", map[string]string{"RECORDER_NOOP": "1"})
			cl := e.kafka(b)
			createTopic(b, cl, name, 6)
			store := triggers.NewMemStore()
			d := triggers.NewDefinition(name, name, name)
			d.StartingPosition = triggers.TrimHorizon
			if _, err := triggers.Create(context.Background(), store, d); err != nil {
				b.Fatal(err)
			}
			r := e.runRunner(b, store, "bench")
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: name, Value: []byte("warm")}).FirstErr(); err != nil {
				b.Fatal(err)
			}
			eventually(b, time.Minute, "warm", func() (bool, string) { return counter(r.Metrics().Delivered.WithLabelValues(name)) >= 1, "" })
			adm := kadm.NewClient(e.kafka(b))
			produced := &produceTimes{}
			lags := hdrhistogram.New(0, 10_000_000, 3)
			ages := hdrhistogram.New(0, 600_000, 3) // ms
			sample := func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				ends, err := adm.ListEndOffsets(ctx, name)
				if err != nil {
					b.Error(err) // runs in the sampler goroutine: no Fatal
					return
				}
				comm, err := adm.FetchOffsets(ctx, d.Group())
				if err != nil {
					b.Error(err)
					return
				}
				now := time.Now()
				var lag int64
				var age time.Duration
				ends.Each(func(o kadm.ListedOffset) {
					c, ok := comm.Lookup(o.Topic, o.Partition)
					if !ok || c.At < 0 {
						c.At = 0
					}
					lag += max(o.Offset-c.At, 0)
					if c.At < o.Offset {
						if ts, ok := produced.at(o.Partition, c.At); ok {
							age = max(age, now.Sub(ts))
						}
					}
				})
				_ = lags.RecordValue(lag)
				_ = ages.RecordValue(age.Milliseconds())
			}
			stopSampling, sampled := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(sampled)
				st := time.NewTicker(250 * time.Millisecond)
				defer st.Stop()
				for {
					select {
					case <-stopSampling:
						return
					case <-st.C:
						sample()
					}
				}
			}()
			const secs, ticksPerSec = 20, 100
			per := rate / ticksPerSec
			tick := time.NewTicker(time.Second / ticksPerSec)
			sent := 0
			from := time.Now()
			for i := 0; i < secs*ticksPerSec; i++ {
				<-tick.C
				for j := 0; j < per; j++ {
					cl.Produce(context.Background(), &kgo.Record{Topic: name, Value: make([]byte, 100)}, produced.ack)
				}
				sent += per
			}
			tick.Stop()
			if err := cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			achieved := float64(sent) / time.Since(from).Seconds()
			close(stopSampling)
			<-sampled
			drainFrom := time.Now()
			eventually(b, 5*time.Minute, "all delivered", func() (bool, string) {
				v := counter(r.Metrics().Delivered.WithLabelValues(name))
				return v >= float64(sent+1), fmt.Sprint(v)
			})
			drain := time.Since(drainFrom)
			b.ReportMetric(float64(lags.ValueAtQuantile(50)), "lag-p50-records")
			b.ReportMetric(float64(lags.Max()), "lag-max-records")
			b.ReportMetric(float64(ages.ValueAtQuantile(50)), "oldest-age-p50-ms")
			b.ReportMetric(float64(ages.Max()), "oldest-age-max-ms")
			b.Logf("%d rec/s (achieved %.0f) for %d s over 6 partitions, batch 100, window 500 ms (%d samples): lag p50 %d, max %d records; "+
				"oldest unprocessed record p50 %d ms, max %d ms; drained %v after the last produce",
				rate, achieved, secs, lags.TotalCount(), lags.ValueAtQuantile(50), lags.Max(), ages.ValueAtQuantile(50), ages.Max(), drain.Round(100*time.Millisecond))
		})
	}
}

// produceTimes keeps the timestamp of every acknowledged record by
// partition and offset.
type produceTimes struct {
	mu sync.Mutex
	ts map[int32]map[int64]time.Time // guarded by mu
}

func (p *produceTimes) ack(r *kgo.Record, err error) {
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ts == nil {
		p.ts = map[int32]map[int64]time.Time{}
	}
	if p.ts[r.Partition] == nil {
		p.ts[r.Partition] = map[int64]time.Time{}
	}
	p.ts[r.Partition][r.Offset] = r.Timestamp
}

func (p *produceTimes) at(partition int32, offset int64) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts, ok := p.ts[partition][offset]
	return ts, ok
}
