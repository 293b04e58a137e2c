package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Cleaner is the log cleaner's metric set (package cleaner), Kafka's
// kafka.log:type=LogCleaner metrics under Kafki's names.
type Cleaner struct {
	BytesRead      prometheus.Counter
	BytesWritten   prometheus.Counter
	RecordsRemoved prometheus.Counter
	Passes         prometheus.Counter
	Errors         prometheus.Counter
}

// CleanerPartitionStat is one compacted partition's state, read at
// scrape time.
type CleanerPartitionStat struct {
	Topic     string
	Partition int32
	// DirtyRatio is the cleanable dirty ratio: dirty bytes of the
	// closed, cleanable segments over those plus the cleaned ones.
	DirtyRatio float64
	// LastClean is the end of the last clean pass; zero if none since
	// the broker started.
	LastClean time.Time
}

var (
	descDirtyRatio = prometheus.NewDesc("kafki_partition_cleanable_dirty_ratio",
		"Cleanable dirty ratio of a compacted partition: bytes not yet compacted over all cleanable bytes (Kafka's max-dirty-percent is the largest of these).", []string{"topic", "partition"}, nil)
	descLastClean = prometheus.NewDesc("kafki_partition_last_clean_timestamp_seconds",
		"Unix time of the end of the last compaction pass over the partition, since the broker started.", []string{"topic", "partition"}, nil)
	descMaxDirty = prometheus.NewDesc("kafki_log_cleaner_max_dirty_ratio",
		"Largest cleanable dirty ratio over the compacted partitions (Kafka's kafka.log:type=LogCleanerManager,name=max-dirty-percent, as a ratio).", nil, nil)
)

// NewCleaner registers the cleaner's counters.
func (m *Metrics) NewCleaner() *Cleaner {
	c := &Cleaner{
		BytesRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kafki_log_cleaner_read_bytes_total", Help: "Bytes of segments the log cleaner read (offset maps and rewrites).",
		}),
		BytesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kafki_log_cleaner_written_bytes_total", Help: "Bytes of cleaned segments the log cleaner wrote.",
		}),
		RecordsRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kafki_log_cleaner_removed_records_total", Help: "Records compaction removed: superseded by a later record of their key, keyless, or tombstones past delete.retention.ms.",
		}),
		Passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kafki_log_cleaner_passes_total", Help: "Compaction passes completed.",
		}),
		Errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kafki_log_cleaner_errors_total", Help: "Compaction passes that failed (the partition is retried after log.cleaner.backoff).",
		}),
	}
	m.Registry.MustRegister(c.BytesRead, c.BytesWritten, c.RecordsRemoved, c.Passes, c.Errors)
	return c
}

// RegisterCleanerPartitions adds a collector that reads every compacted
// partition's state from stats at scrape time.
func (m *Metrics) RegisterCleanerPartitions(stats func() []CleanerPartitionStat) {
	m.Registry.MustRegister(&cleanerCollector{stats: stats})
}

type cleanerCollector struct{ stats func() []CleanerPartitionStat }

func (c *cleanerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDirtyRatio
	ch <- descLastClean
	ch <- descMaxDirty
}

func (c *cleanerCollector) Collect(ch chan<- prometheus.Metric) {
	maxDirty := 0.0
	for _, p := range c.stats() {
		lv := []string{p.Topic, strconv.Itoa(int(p.Partition))}
		ch <- prometheus.MustNewConstMetric(descDirtyRatio, prometheus.GaugeValue, p.DirtyRatio, lv...)
		if !p.LastClean.IsZero() {
			ch <- prometheus.MustNewConstMetric(descLastClean, prometheus.GaugeValue, float64(p.LastClean.UnixMilli())/1000, lv...)
		}
		maxDirty = max(maxDirty, p.DirtyRatio)
	}
	ch <- prometheus.MustNewConstMetric(descMaxDirty, prometheus.GaugeValue, maxDirty)
}
