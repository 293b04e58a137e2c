package compare

import (
	"fmt"
	"io"
	"strings"

	"github.com/kafki/kafki/loadtest"
)

// metric is one row of the ratio table.
type metric struct {
	name        string
	lowerBetter bool
	get         func(*loadtest.Report) (float64, bool)
}

func throughput(r *loadtest.Report) (float64, bool) {
	switch {
	case r.Workload == loadtest.WorkloadConsume && r.Consume != nil:
		return r.Consume.RecordsPerSec, true
	case r.Workload != loadtest.WorkloadConsume && r.Produce != nil:
		return r.Produce.RecordsPerSec, true
	}
	return 0, false
}

// latencyOf is the latency a workload is judged by: ack latency for
// produce, end-to-end for e2e, none for consume.
func latencyOf(r *loadtest.Report) *loadtest.Percentiles {
	var s *loadtest.StreamStats
	switch r.Workload {
	case loadtest.WorkloadProduce:
		s = r.Produce
	case loadtest.WorkloadE2E:
		s = r.Consume
	}
	if s == nil || s.Latency == nil || s.Latency.Count == 0 {
		return nil
	}
	return s.Latency
}

func latencyMetric(name string, pick func(*loadtest.Percentiles) float64) metric {
	return metric{name: name, lowerBetter: true, get: func(r *loadtest.Report) (float64, bool) {
		if l := latencyOf(r); l != nil {
			return pick(l), true
		}
		return 0, false
	}}
}

func metricsOf(workload string) []metric {
	name := "throughput (rec/s)"
	if workload == loadtest.WorkloadE2E {
		name = "achieved rate (rec/s)"
	}
	ms := []metric{{name: name, get: throughput}}
	if workload != loadtest.WorkloadConsume {
		prefix := "ack"
		if workload == loadtest.WorkloadE2E {
			prefix = "e2e"
		}
		ms = append(ms,
			latencyMetric(prefix+" p50 (ms)", func(p *loadtest.Percentiles) float64 { return p.P50 }),
			latencyMetric(prefix+" p99 (ms)", func(p *loadtest.Percentiles) float64 { return p.P99 }),
			latencyMetric(prefix+" p99.9 (ms)", func(p *loadtest.Percentiles) float64 { return p.P999 }),
		)
	}
	return append(ms, metric{name: "broker peak RSS (MiB)", lowerBetter: true, get: func(r *loadtest.Report) (float64, bool) {
		return float64(r.BrokerPeakRSSBytes) / (1 << 20), r.BrokerPeakRSSBytes > 0
	}})
}

// cellText is one side's value, or why there is none.
func cellText(res *Result, m metric) (string, float64, bool) {
	switch {
	case res == nil:
		return "not run", 0, false
	case res.NotAvailable != "":
		return res.NotAvailable, 0, false
	case res.Report == nil || res.Error != "":
		return "failed", 0, false
	}
	v, ok := m.get(res.Report)
	if !ok {
		return "-", 0, false
	}
	return formatValue(v), v, true
}

func formatValue(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// WriteRatioTable prints the Kafki/Kafka table in Markdown, with the
// machine, the fsync policy and the settings above it. Ratios above 1
// favour Kafki for throughput; below 1 favour it for latency and RSS.
func WriteRatioTable(w io.Writer, cmp *Comparison) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Kafki vs Apache Kafka %s, %s\n\n", cmp.KafkaVersion, cmp.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %s (load generator and brokers on the same host)\n", cmp.Machine)
	fmt.Fprintf(&b, "- fsync: %s\n", cmp.Fsync)
	fmt.Fprintf(&b, "- Kafka JVM: %s\n", strings.Join(cmp.KafkaJVMOpts, " "))
	fmt.Fprintf(&b, "- broker peak RSS: each broker process's peak, summed over the setup's brokers (3 nodes: three JVMs, each a KRaft broker and controller; three brokerd processes, the moto_server standing in for DynamoDB not counted)\n")
	if s := firstSettings(cmp); s != nil {
		fmt.Fprintf(&b, "- workloads: %d partitions, %s B records, acks=%s, idempotent, compression %s, linger %.0f ms, %d producer(s), %d consumer(s); produce unthrottled for %.0f s after %.0f s warm-up; consume reads %d preloaded records; e2e at %s\n",
			s.Partitions, s.RecordSize, s.Acks, s.Compression, s.LingerMs, s.Producers, s.Consumers, s.DurationSec, s.WarmupSec, preloadOf(cmp), e2eRateOf(cmp))
	}
	b.WriteString("\n| setup | workload | metric | Kafki | Kafka | Kafki/Kafka |\n|---|---|---|---:|---:|---:|\n")
	for _, setup := range setupsOf(cmp) {
		for _, w := range workloadsOf(cmp) {
			kafki, kafka := find(cmp, setup, TargetKafki, w), find(cmp, setup, TargetKafka, w)
			if kafki == nil && kafka == nil {
				continue
			}
			for _, m := range metricsOf(w) {
				kt, kv, kok := cellText(kafki, m)
				at, av, aok := cellText(kafka, m)
				ratio := "-"
				if kok && aok && av > 0 {
					ratio = fmt.Sprintf("%.2f", kv/av)
					if m.lowerBetter == (kv < av) && kv != av && !strings.HasPrefix(m.name, "achieved") {
						ratio += " ✓"
					}
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", setupName(setup), w, m.name, kt, at, ratio)
			}
		}
	}
	if len(cmp.PerfTests) > 0 {
		b.WriteString("\nkafka-producer-perf-test (Kafka's Java producer, its defaults, acks=all), single node:\n\n")
		b.WriteString("| metric | Kafki | Kafka | Kafki/Kafka |\n|---|---:|---:|---:|\n")
		kafki, kafka := findPerf(cmp, TargetKafki), findPerf(cmp, TargetKafka)
		rows := []struct {
			name        string
			lowerBetter bool
			get         func(PerfTestRun) (float64, bool)
		}{
			{"throughput (rec/s)", false, func(p PerfTestRun) (float64, bool) {
				return perfVal(p, func(r *PerfTestResult) float64 { return r.RecordsPerSec })
			}},
			{"p50 (ms)", true, func(p PerfTestRun) (float64, bool) {
				return perfVal(p, func(r *PerfTestResult) float64 { return r.P50Ms })
			}},
			{"p99 (ms)", true, func(p PerfTestRun) (float64, bool) {
				return perfVal(p, func(r *PerfTestResult) float64 { return r.P99Ms })
			}},
			{"p99.9 (ms)", true, func(p PerfTestRun) (float64, bool) {
				return perfVal(p, func(r *PerfTestResult) float64 { return r.P999Ms })
			}},
			{"broker peak RSS (MiB)", true, func(p PerfTestRun) (float64, bool) {
				return float64(p.BrokerPeakRSSBytes) / (1 << 20), p.BrokerPeakRSSBytes > 0 && p.Error == ""
			}},
		}
		for _, row := range rows {
			kt, kv, kok := perfCell(kafki, row.get)
			at, av, aok := perfCell(kafka, row.get)
			ratio := "-"
			if kok && aok && av > 0 {
				ratio = fmt.Sprintf("%.2f", kv/av)
				if row.lowerBetter == (kv < av) && kv != av {
					ratio += " ✓"
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row.name, kt, at, ratio)
		}
	}
	b.WriteString("\n✓ marks where Kafki is ahead (higher throughput; lower latency or RSS).\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func perfVal(p PerfTestRun, f func(*PerfTestResult) float64) (float64, bool) {
	if p.Result == nil {
		return 0, false
	}
	return f(p.Result), true
}

func perfCell(p *PerfTestRun, get func(PerfTestRun) (float64, bool)) (string, float64, bool) {
	if p == nil {
		return "not run", 0, false
	}
	if p.Error != "" {
		return "failed", 0, false
	}
	v, ok := get(*p)
	if !ok {
		return "-", 0, false
	}
	return formatValue(v), v, true
}

func setupName(s string) string {
	if s == SetupRF3 {
		return "3 nodes, RF 3"
	}
	return "1 node"
}

func find(cmp *Comparison, setup, target, workload string) *Result {
	for i := range cmp.Results {
		r := &cmp.Results[i]
		if r.Setup == setup && r.Target == target && r.Workload == workload {
			return r
		}
	}
	return nil
}

func findPerf(cmp *Comparison, target string) *PerfTestRun {
	for i := range cmp.PerfTests {
		if cmp.PerfTests[i].Target == target {
			return &cmp.PerfTests[i]
		}
	}
	return nil
}

// setupsOf and workloadsOf list what the results hold, in first-seen order.
func setupsOf(cmp *Comparison) []string {
	return uniq(cmp, func(r Result) string { return r.Setup })
}

func workloadsOf(cmp *Comparison) []string {
	return uniq(cmp, func(r Result) string { return r.Workload })
}

func uniq(cmp *Comparison, key func(Result) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range cmp.Results {
		if k := key(r); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func firstSettings(cmp *Comparison) *loadtest.Settings {
	for _, r := range cmp.Results {
		if r.Report != nil && r.Workload == loadtest.WorkloadProduce {
			return &r.Report.Settings
		}
	}
	for _, r := range cmp.Results {
		if r.Report != nil {
			return &r.Report.Settings
		}
	}
	return nil
}

func preloadOf(cmp *Comparison) int64 {
	for _, r := range cmp.Results {
		if r.Report != nil && r.Report.Settings.Preload > 0 {
			return r.Report.Settings.Preload
		}
	}
	return 0
}

func e2eRateOf(cmp *Comparison) string {
	for _, r := range cmp.Results {
		if r.Report != nil && r.Workload == loadtest.WorkloadE2E {
			return fmt.Sprintf("a fixed %.0f rec/s for %.0f s", r.Report.Settings.Rate, r.Report.Settings.DurationSec)
		}
	}
	return "-"
}
