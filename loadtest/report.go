package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one run: what the JSON report holds and what
// the summary table and the chart are drawn from.
type Report struct {
	Label    string    `json:"label,omitempty"`
	Workload string    `json:"workload"`
	Settings Settings  `json:"settings"`
	Started  time.Time `json:"started"`
	// Produce is the producers' side (acks and their latency from the
	// intended send time); nil for none. For the consume workload it
	// describes the unmeasured preload (counts only).
	Produce *StreamStats `json:"produce,omitempty"`
	// Consume is the consumers' side; for e2e its latency is end to end.
	Consume *StreamStats `json:"consume,omitempty"`
	// BrokerRecords is how many offsets the topic's partitions advanced by
	// during the run, as the broker reports its end offsets.
	BrokerRecords int64 `json:"broker_records"`
	// TxnMarkers is how many of BrokerRecords are the COMMIT markers of
	// the run's transactions (one per partition of each).
	TxnMarkers int64 `json:"txn_markers,omitempty"`
	// TopicRecords is, for the consume workload, how many records the
	// topic held (log start to end offsets) when reading began.
	TopicRecords int64 `json:"topic_records,omitempty"`
	// BrokerPeakRSSBytes is the sum over --broker-pid processes of each
	// one's peak resident set size during the run (0: not sampled).
	BrokerPeakRSSBytes int64 `json:"broker_peak_rss_bytes,omitempty"`
	// Series is the measured period, one point per progress interval.
	Series []Point `json:"series"`
	// Error is why the run failed, empty when it succeeded.
	Error string `json:"error,omitempty"`
}

// Settings are the options that shape the numbers.
type Settings struct {
	Bootstrap         string   `json:"bootstrap"`
	Topic             string   `json:"topic"`
	Partitions        int      `json:"partitions"`
	ReplicationFactor int      `json:"replication_factor"`
	RecordSize        SizeDist `json:"record_size"`
	Keys              KeyDist  `json:"keys"`
	Producers         int      `json:"producers"`
	Consumers         int      `json:"consumers"`
	Rate              float64  `json:"rate"`
	Acks              string   `json:"acks"`
	Compression       string   `json:"compression"`
	LingerMs          float64  `json:"linger_ms"`
	BatchBytes        int      `json:"batch_bytes"`
	Idempotent        bool     `json:"idempotent"`
	DurationSec       float64  `json:"duration_s"`
	Records           int64    `json:"records"`
	WarmupSec         float64  `json:"warmup_s"`
	Preload           int64    `json:"preload,omitempty"`
	ReadBack          bool     `json:"read_back,omitempty"`
	FetchMaxBytes     int      `json:"fetch_max_bytes"`
	FetchPartBytes    int      `json:"fetch_partition_bytes"`
	SecurityProtocol  string   `json:"security_protocol"`
	// Transactions (txn.go): the id prefix, records per transaction and
	// the consumers' isolation level.
	TransactionalID    string `json:"transactional_id,omitempty"`
	TransactionRecords int    `json:"transaction_records,omitempty"`
	Isolation          string `json:"isolation"`
	SASLMechanism      string `json:"sasl_mechanism,omitempty"`
}

func settingsOf(c Config) Settings {
	s := Settings{
		Bootstrap: c.Bootstrap, Topic: c.Topic, Partitions: c.Partitions,
		ReplicationFactor: c.ReplicationFactor, RecordSize: c.RecordSize, Keys: c.Keys,
		Producers: c.Producers, Consumers: c.Consumers, Rate: c.Rate,
		Acks: acksString(c.Acks), Compression: c.Compression,
		LingerMs: float64(c.Linger) / float64(time.Millisecond), BatchBytes: c.BatchBytes,
		Idempotent: c.Idempotent, DurationSec: c.Duration.Seconds(), Records: c.Records,
		WarmupSec: c.Warmup.Seconds(), ReadBack: c.ReadBack,
		FetchMaxBytes: c.FetchMaxBytes, FetchPartBytes: c.FetchPartitionBytes,
		SecurityProtocol: c.Security.securityName(),
		TransactionalID:  c.TransactionalID, TransactionRecords: c.TransactionRecords, Isolation: c.Isolation,
	}
	if c.Security.usesSASL() {
		s.SASLMechanism = c.Security.mechanism()
	}
	if c.Workload == WorkloadConsume {
		s.Preload = c.Preload
	}
	return s
}

func acksString(a int) string {
	if a == AcksAll {
		return "all"
	}
	return fmt.Sprint(a)
}

// StreamStats are one side's totals over the measured period.
type StreamStats struct {
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Errors        int64   `json:"errors"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"` // 10^6 bytes of values per second
	// AllRecords counts every successful record since the start, warm-up
	// (or preload) included: compare it with BrokerRecords.
	AllRecords int64 `json:"all_records"`
	// Latency is nil where it is not measured (consume workload reads).
	Latency *Percentiles `json:"latency_ms,omitempty"`
}

func streamStats(r *Recorder, elapsed time.Duration, withLatency bool) *StreamStats {
	records, bytes, errs, lat := r.Totals()
	s := &StreamStats{Records: records, Bytes: bytes, Errors: errs, Seconds: elapsed.Seconds(), AllRecords: r.AllRecords()}
	if elapsed > 0 {
		s.RecordsPerSec = float64(records) / elapsed.Seconds()
		s.MBPerSec = float64(bytes) / 1e6 / elapsed.Seconds()
	}
	if withLatency {
		s.Latency = &lat
	}
	return s
}

// Point is one progress interval of the measured period.
type Point struct {
	// T is the end of the interval, in seconds since the measured period
	// began.
	T       float64       `json:"t"`
	Seconds float64       `json:"seconds"` // length of the interval
	Produce IntervalStats `json:"produce"`
	Consume IntervalStats `json:"consume"`
}

// WriteJSON writes the report as indented JSON to path.
func WriteJSON(path string, r *Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode report %s: %w", path, err)
	}
	return &r, nil
}

// WriteSummary prints the final summary table.
func WriteSummary(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	s := r.Settings
	title := r.Workload
	if r.Label != "" {
		title = r.Label + " " + title
	}
	fmt.Fprintf(w, "%s: topic %s, %d partitions, RF %d, record size %s, keys %s, acks=%s, compression %s, %d producer(s), %d consumer(s), rate %s\n",
		title, s.Topic, s.Partitions, s.ReplicationFactor, s.RecordSize, s.Keys, s.Acks, s.Compression,
		s.Producers, s.Consumers, rateString(s.Rate))
	if s.TransactionalID != "" {
		fmt.Fprintf(w, "transactions of %d records per producer (a record's latency runs to its commit)\n", s.TransactionRecords)
	}
	if s.Isolation == IsolationReadCommitted {
		fmt.Fprintln(w, "consumers read_committed")
	}
	fmt.Fprintln(tw, "side\trecords\trec/s\tMB/s\terrors\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	for _, side := range []struct {
		name string
		st   *StreamStats
	}{{"produce", r.Produce}, {"consume", r.Consume}} {
		if side.st == nil {
			continue
		}
		name := side.name
		if r.Workload == WorkloadConsume && side.name == "produce" {
			name = "preload"
		}
		if r.Workload == WorkloadE2E && side.name == "consume" {
			name = "e2e"
		}
		if r.Settings.ReadBack && side.name == "consume" {
			name = "read back"
		}
		st := side.st
		lat := []string{"-", "-", "-", "-", "-"}
		if st.Latency != nil && st.Latency.Count > 0 {
			l := st.Latency
			lat = []string{ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max)}
		}
		rate, mb := fmt.Sprintf("%.0f", st.RecordsPerSec), fmt.Sprintf("%.1f", st.MBPerSec)
		if st.Seconds == 0 {
			rate, mb = "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t\n", name, st.Records, rate, mb, st.Errors, strings.Join(lat, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	fmt.Fprintf(w, "broker holds %d records written by this run", r.BrokerRecords)
	if r.TxnMarkers > 0 {
		fmt.Fprintf(w, " (%d of them transaction markers)", r.TxnMarkers)
	}
	if r.Workload == WorkloadConsume {
		fmt.Fprintf(w, "; the topic held %d records to read", r.TopicRecords)
	}
	if r.BrokerPeakRSSBytes > 0 {
		fmt.Fprintf(w, "; broker peak RSS %.1f MiB", float64(r.BrokerPeakRSSBytes)/(1<<20))
	}
	fmt.Fprintln(w)
	if r.Error != "" {
		fmt.Fprintf(w, "FAILED: %s\n", r.Error)
	}
	return nil
}

func rateString(rate float64) string {
	if rate == 0 {
		return "unthrottled"
	}
	return fmt.Sprintf("%.0f rec/s", rate)
}

func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
