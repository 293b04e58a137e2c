package loadtest

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds, in microseconds: 1 µs to 5 minutes at 3 significant
// digits (0.1% error). Longer latencies are clamped to the maximum so that
// they still count (as the worst value), rather than being dropped.
const (
	histMinMicros = 1
	histMaxMicros = int64(5 * time.Minute / time.Microsecond)
	histSigFigs   = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
}

// Recorder accumulates one stream of events (acks, or records received)
// with their latencies: a histogram over the measured period and one per
// progress interval, plus counts. It is safe for concurrent use.
//
// Before Measure is called, events are counted in the totals only
// (warm-up); after it, they also go to the histograms and rates.
type Recorder struct {
	mu        sync.Mutex
	measuring bool
	total     *hdrhistogram.Histogram // measured period
	interval  *hdrhistogram.Histogram // since the last Interval call
	// Counts since the start (warm-up included): what a caller compares
	// with the broker's offsets.
	allRecords, allErrors int64
	// Counts of the measured period, and of the current interval.
	records, bytes, errors    int64
	iRecords, iBytes, iErrors int64
}

// NewRecorder returns an empty recorder in warm-up mode.
func NewRecorder() *Recorder {
	return &Recorder{total: newHistogram(), interval: newHistogram()}
}

// Measure ends the warm-up: from now on events are measured.
func (r *Recorder) Measure() {
	r.mu.Lock()
	r.measuring = true
	r.interval.Reset()
	r.iRecords, r.iBytes, r.iErrors = 0, 0, 0
	r.mu.Unlock()
}

// Record counts one successful event of size bytes that took latency; it
// is measured if the recorder is measuring.
func (r *Recorder) Record(latency time.Duration, size int) {
	r.RecordAt(latency, size, true)
}

// RecordAt is Record for an event whose cause (a send) is attributed to a
// period by the caller: measured is false for a record sent during the
// warm-up, even if its ack arrives after Measure, so that a record-count
// run measures exactly the records it sent in the measured period.
func (r *Recorder) RecordAt(latency time.Duration, size int, measured bool) {
	us := min(max(latency.Microseconds(), histMinMicros), histMaxMicros)
	r.mu.Lock()
	r.allRecords++
	if r.measuring && measured {
		r.records++
		r.bytes += int64(size)
		r.iRecords++
		r.iBytes += int64(size)
		// Cannot fail: us is within the histogram's bounds.
		_ = r.total.RecordValue(us)
		_ = r.interval.RecordValue(us)
	}
	r.mu.Unlock()
}

// Error counts one failed event.
func (r *Recorder) Error() {
	r.mu.Lock()
	r.allErrors++
	if r.measuring {
		r.errors++
		r.iErrors++
	}
	r.mu.Unlock()
}

// AllRecords is the number of successful events since the start, warm-up
// included.
func (r *Recorder) AllRecords() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.allRecords
}

// AllErrors is the number of failed events since the start.
func (r *Recorder) AllErrors() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.allErrors
}

// IntervalStats is one progress interval of one stream.
type IntervalStats struct {
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	Errors  int64 `json:"errors"`
	// Latency of the interval's events; zero when there were none.
	Latency Percentiles `json:"latency_ms"`
}

// Interval returns the events since the previous call (or Measure) and
// starts a new interval.
func (r *Recorder) Interval() IntervalStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := IntervalStats{Records: r.iRecords, Bytes: r.iBytes, Errors: r.iErrors, Latency: percentilesOf(r.interval)}
	r.interval.Reset()
	r.iRecords, r.iBytes, r.iErrors = 0, 0, 0
	return s
}

// Totals returns the measured period's counts and latency.
func (r *Recorder) Totals() (records, bytes, errors int64, lat Percentiles) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.records, r.bytes, r.errors, percentilesOf(r.total)
}

// Percentiles summarises a latency histogram, in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

func percentilesOf(h *hdrhistogram.Histogram) Percentiles {
	n := h.TotalCount()
	if n == 0 {
		return Percentiles{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{
		Count: n,
		Mean:  h.Mean() / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// Count counts n successful events of bytes in total that have no latency
// (records read by the consume workload).
func (r *Recorder) Count(n, bytes int64) {
	r.mu.Lock()
	r.allRecords += n
	if r.measuring {
		r.records += n
		r.bytes += bytes
		r.iRecords += n
		r.iBytes += bytes
	}
	r.mu.Unlock()
}
