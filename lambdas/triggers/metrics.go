package triggers

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the runner's Prometheus metrics, registered on the
// registerer given to New (no global registry).
type Metrics struct {
	Invocations *prometheus.CounterVec   // trigger, result
	BatchSize   *prometheus.HistogramVec // trigger
	Latency     *prometheus.HistogramVec // trigger
	Delivered   *prometheus.CounterVec   // trigger
	Filtered    *prometheus.CounterVec   // trigger
	Retries     *prometheus.CounterVec   // trigger
	ToFailure   *prometheus.CounterVec   // trigger, reason
	Lag         *prometheus.GaugeVec     // trigger, topic, partition
	OldestAge   *prometheus.GaugeVec     // trigger, topic, partition
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Invocations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafki_trigger_invocations_total", Help: "Function invocations by result."}, []string{"trigger", "result"}),
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kafki_trigger_batch_records", Help: "Records per invocation.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}}, []string{"trigger"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kafki_trigger_invocation_seconds", Help: "Synchronous invocation latency.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"trigger"}),
		Delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafki_trigger_records_delivered_total", Help: "Records in successful invocations."}, []string{"trigger"}),
		Filtered:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafki_trigger_records_filtered_total", Help: "Records skipped (and committed) by the filter criteria."}, []string{"trigger"}),
		Retries:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafki_trigger_retries_total", Help: "Invocation retries."}, []string{"trigger"}),
		ToFailure: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafki_trigger_records_failed_total", Help: "Records sent to the failure destination (or dropped without one)."}, []string{"trigger", "reason"}),
		Lag:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kafki_trigger_lag_records", Help: "High watermark minus the committed offset."}, []string{"trigger", "topic", "partition"}),
		OldestAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kafki_trigger_oldest_unprocessed_age_seconds", Help: "Age of the oldest fetched, unprocessed record."}, []string{"trigger", "topic", "partition"}),
	}
	if reg != nil {
		reg.MustRegister(m.Invocations, m.BatchSize, m.Latency, m.Delivered, m.Filtered, m.Retries, m.ToFailure, m.Lag, m.OldestAge)
	}
	return m
}
