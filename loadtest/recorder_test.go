package loadtest

import (
	"testing"
	"time"
)

func TestRecorderWarmupCountsButDoesNotMeasure(t *testing.T) {
	r := NewRecorder()
	for range 10 {
		r.Record(time.Second, 100) // warm-up: slow, must not show in latency
	}
	r.Error()
	r.Measure()
	for range 100 {
		r.Record(2*time.Millisecond, 10)
	}
	r.Count(5, 50)
	r.Error()
	records, bytes, errs, lat := r.Totals()
	if records != 105 || bytes != 1050 || errs != 1 {
		t.Fatalf("measured records/bytes/errors = %d/%d/%d, want 105/1050/1", records, bytes, errs)
	}
	if lat.Count != 100 || lat.Max > 2.01 || lat.P50 < 1.99 {
		t.Fatalf("latency %+v: want 100 values of 2 ms (warm-up excluded, counts without latency excluded)", lat)
	}
	if got := r.AllRecords(); got != 115 {
		t.Fatalf("AllRecords = %d, want 115 (warm-up included)", got)
	}
	if got := r.AllErrors(); got != 2 {
		t.Fatalf("AllErrors = %d, want 2", got)
	}
}

func TestRecorderIntervalsResetAndSumToTotal(t *testing.T) {
	r := NewRecorder()
	r.Measure()
	var sum int64
	for i := 1; i <= 3; i++ {
		for range i * 10 {
			r.Record(time.Duration(i)*time.Millisecond, 1)
		}
		iv := r.Interval()
		if iv.Records != int64(i*10) || iv.Latency.Count != int64(i*10) {
			t.Fatalf("interval %d: %d records, %d latencies, want %d", i, iv.Records, iv.Latency.Count, i*10)
		}
		if iv.Latency.P50 < float64(i)*0.99 || iv.Latency.P50 > float64(i)*1.01 {
			t.Fatalf("interval %d p50 %.3f ms, want %d (values from earlier intervals leaked?)", i, iv.Latency.P50, i)
		}
		sum += iv.Records
	}
	if iv := r.Interval(); iv.Records != 0 || iv.Latency.Count != 0 {
		t.Fatalf("empty interval: %+v", iv)
	}
	records, _, _, lat := r.Totals()
	if records != sum || lat.Count != sum {
		t.Fatalf("total %d records, %d latencies; intervals sum to %d", records, lat.Count, sum)
	}
}

func TestRecorderClampsOutOfRangeLatency(t *testing.T) {
	r := NewRecorder()
	r.Measure()
	r.Record(-time.Second, 1) // clock oddity: counted as the minimum
	r.Record(time.Hour, 1)    // beyond the histogram: counted as the maximum
	r.Record(time.Nanosecond, 1)
	_, _, _, lat := r.Totals()
	if lat.Count != 3 {
		t.Fatalf("count %d, want 3: out-of-range values must still count", lat.Count)
	}
	if lat.Max < float64(histMaxMicros)/1000*0.99 {
		t.Fatalf("max %.0f ms, want the histogram's maximum", lat.Max)
	}
}
