package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// MB is the unit of every MB figure: 10^6 bytes (of record values for
// throughput, of resident memory for RSS).
const MB = 1e6

// Report is the outcome of a run: one CellResult per matrix cell.
type Report struct {
	Broker       string       `json:"broker"`                  // bootstrap address used
	BrokerBinary string       `json:"broker_binary,omitempty"` // with --spawn-broker
	Settings     Settings     `json:"settings"`
	Cells        []CellResult `json:"cells"`
	// Broker memory over the whole run, when the broker process is known.
	BrokerPeakRSSBytes int64     `json:"broker_peak_rss_bytes,omitempty"`
	BrokerHWMBytes     int64     `json:"broker_vmhwm_bytes,omitempty"`
	StartedAt          time.Time `json:"started_at"`
	Seconds            float64   `json:"seconds"`
}

// Settings echoes the load parameters a report was made with.
type Settings struct {
	Partitions         int     `json:"partitions"`
	LingerMs           float64 `json:"linger_ms"`
	BatchMaxBytes      int     `json:"batch_max_bytes"`
	Producers          int     `json:"producers"`
	Compression        string  `json:"compression"`
	MaxBufferedRecords int     `json:"max_buffered_records"`
	MaxInflight        int     `json:"max_inflight_acks1"`
	DurationSeconds    float64 `json:"duration_seconds,omitempty"`
	WarmupSeconds      float64 `json:"warmup_seconds,omitempty"`
	Records            int64   `json:"records,omitempty"`
}

func settingsOf(cfg Config) Settings {
	return Settings{
		Partitions:         cfg.Partitions,
		LingerMs:           float64(cfg.Linger) / float64(time.Millisecond),
		BatchMaxBytes:      cfg.BatchMaxBytes,
		Producers:          cfg.Producers,
		Compression:        cfg.Compression,
		MaxBufferedRecords: cfg.MaxBufferedRecords,
		MaxInflight:        cfg.MaxInflight,
		DurationSeconds:    cfg.Duration.Seconds(),
		WarmupSeconds:      cfg.Warmup.Seconds(),
		Records:            cfg.Records,
	}
}

// CellResult is one cell's figures. Error is empty for a cell that
// produced without failure and read back exactly what was acknowledged.
type CellResult struct {
	RecordSize int          `json:"record_size"`
	Acks       string       `json:"acks"`
	Topic      string       `json:"topic"`
	Produce    ProduceStats `json:"produce"`
	Consume    ConsumeStats `json:"consume"`
	// BrokerPeakRSSBytes is the broker's peak RSS during the cell; 0 when
	// the broker process is unknown.
	BrokerPeakRSSBytes int64 `json:"broker_peak_rss_bytes,omitempty"`
	// CPU used during the measured produce phase, in cores (CPU seconds
	// per second): the broker's (-1 unknown) and kafki-perf's own.
	BrokerCPUCores float64 `json:"broker_cpu_cores"`
	PerfCPUCores   float64 `json:"perf_cpu_cores"`
	Error          string  `json:"error,omitempty"`
}

// Failed reports whether the cell did not complete cleanly.
func (c CellResult) Failed() bool { return c.Error != "" }

// Name is "100 B acks=1".
func (c CellResult) Name() string { return strconv.Itoa(c.RecordSize) + " B acks=" + c.Acks }

// ProduceStats covers the measured window (after the warm-up).
type ProduceStats struct {
	Records       int64         `json:"records"` // acknowledged in the window
	Bytes         int64         `json:"bytes"`   // value bytes of those
	Seconds       float64       `json:"seconds"`
	RecordsPerSec float64       `json:"records_per_sec"`
	MBPerSec      float64       `json:"mb_per_sec"`
	Latency       LatencyMicros `json:"latency_us"`
	Errors        int64         `json:"errors"`      // records that failed
	TotalAcked    int64         `json:"total_acked"` // including the warm-up
	FirstError    string        `json:"first_error,omitempty"`
}

// LatencyMicros are produce latency quantiles in microseconds.
type LatencyMicros struct {
	P50  int64 `json:"p50"`
	P99  int64 `json:"p99"`
	P999 int64 `json:"p99_9"`
	Max  int64 `json:"max"`
}

// ConsumeStats covers reading back everything the cell produced.
type ConsumeStats struct {
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	Expected      int64   `json:"expected"` // acknowledged records of the cell
}

// Failed returns how many cells failed.
func (r *Report) Failed() int {
	n := 0
	for _, c := range r.Cells {
		if c.Failed() {
			n++
		}
	}
	return n
}

// rate returns n per second over d, 0 for an empty interval.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// WriteTable prints the report as an aligned table, one row per cell,
// followed by the broker's memory and the targets.
func WriteTable(w io.Writer, r *Report) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tacks\tproduce rec/s\tproduce MB/s\tp50 ms\tp99 ms\tp99.9 ms\tconsume rec/s\tconsume MB/s\tbroker RSS MB\tCPU broker/perf\t  result")
	for _, c := range r.Cells {
		rss := "-"
		if c.BrokerPeakRSSBytes > 0 {
			rss = formatMB(c.BrokerPeakRSSBytes)
		}
		cpu := "-/" + strconv.FormatFloat(c.PerfCPUCores, 'f', 2, 64)
		if c.BrokerCPUCores >= 0 {
			cpu = strconv.FormatFloat(c.BrokerCPUCores, 'f', 2, 64) + "/" + strconv.FormatFloat(c.PerfCPUCores, 'f', 2, 64)
		}
		result := "ok"
		if c.Failed() {
			result = "FAILED: " + c.Error
		}
		fmt.Fprintf(tw, "%d B\t%s\t%s\t%.1f\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t  %s\n",
			c.RecordSize, c.Acks,
			FormatCount(int64(c.Produce.RecordsPerSec+0.5)), c.Produce.MBPerSec,
			formatMillis(c.Produce.Latency.P50), formatMillis(c.Produce.Latency.P99), formatMillis(c.Produce.Latency.P999),
			FormatCount(int64(c.Consume.RecordsPerSec+0.5)), c.Consume.MBPerSec,
			rss, cpu, result)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format table: %w", err)
	}
	fmt.Fprintf(&b, "(MB = 10^6 bytes, of record values for throughput; latency from Produce call to acknowledgement; CPU in cores during the measured produce phase)\n")
	if r.BrokerPeakRSSBytes > 0 {
		fmt.Fprintf(&b, "broker memory: peak RSS %s MB sampled", formatMB(r.BrokerPeakRSSBytes))
		if r.BrokerHWMBytes > 0 {
			fmt.Fprintf(&b, ", VmHWM %s MB at the end", formatMB(r.BrokerHWMBytes))
		}
		b.WriteString("\n")
	}
	if checks := CheckTargets(r); len(checks) > 0 {
		b.WriteString("targets:\n")
		for _, t := range checks {
			verdict := "met   "
			if !t.Met {
				verdict = "MISSED"
			}
			fmt.Fprintf(&b, "  %s  %-18s %-30s got %s\n", verdict, t.Cell, t.Want, t.Got)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Targets from the issue, for a 2-core machine running broker and load
// generator together.
const (
	TargetSmallRecordsPerSec = 500_000 // 100-byte records produced per second
	TargetLargeMBPerSec      = 200     // MB/s produced with 1 KiB records
	TargetBrokerRSSBytes     = 300 * MB
)

// TargetCheck is one target compared with a measurement.
type TargetCheck struct {
	Cell string // "100 B acks=1", or "broker" for memory
	Want string // "produce >= 500,000 rec/s"
	Got  string
	Met  bool
}

// CheckTargets compares the report with the targets: 100-byte cells
// against the record rate, 1024-byte cells against MB/s, consumption at
// least as fast as production in every cell, and broker peak RSS (when
// known). A failed cell misses its targets.
func CheckTargets(r *Report) []TargetCheck {
	var checks []TargetCheck
	for _, c := range r.Cells {
		switch c.RecordSize {
		case 100:
			checks = append(checks, TargetCheck{
				Cell: c.Name(),
				Want: "produce >= " + FormatCount(TargetSmallRecordsPerSec) + " rec/s",
				Got:  FormatCount(int64(c.Produce.RecordsPerSec+0.5)) + " rec/s",
				Met:  !c.Failed() && c.Produce.RecordsPerSec >= TargetSmallRecordsPerSec,
			})
		case 1024:
			checks = append(checks, TargetCheck{
				Cell: c.Name(),
				Want: fmt.Sprintf("produce >= %d MB/s", TargetLargeMBPerSec),
				Got:  fmt.Sprintf("%.1f MB/s", c.Produce.MBPerSec),
				Met:  !c.Failed() && c.Produce.MBPerSec >= TargetLargeMBPerSec,
			})
		}
		checks = append(checks, TargetCheck{
			Cell: c.Name(),
			Want: "consume rate >= produce rate",
			Got:  FormatCount(int64(c.Consume.RecordsPerSec+0.5)) + " vs " + FormatCount(int64(c.Produce.RecordsPerSec+0.5)) + " rec/s",
			Met:  !c.Failed() && c.Consume.RecordsPerSec >= c.Produce.RecordsPerSec,
		})
	}
	if r.BrokerPeakRSSBytes > 0 {
		checks = append(checks, TargetCheck{
			Cell: "broker",
			Want: fmt.Sprintf("peak RSS < %s MB", formatMB(TargetBrokerRSSBytes)),
			Got:  formatMB(r.BrokerPeakRSSBytes) + " MB",
			Met:  r.BrokerPeakRSSBytes < TargetBrokerRSSBytes,
		})
	}
	return checks
}

// WriteJSON writes the report as indented JSON to path.
func WriteJSON(path string, r *Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// FormatCount renders n with thousands separators: 1234567 → "1,234,567".
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// formatMillis renders microseconds as milliseconds with two decimals.
func formatMillis(micros int64) string {
	return strconv.FormatFloat(float64(micros)/1000, 'f', 2, 64)
}

// formatMB renders bytes as whole MB (10^6).
func formatMB(bytes int64) string {
	return strconv.FormatFloat(float64(bytes)/MB, 'f', 0, 64)
}
