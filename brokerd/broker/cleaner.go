package broker

import (
	"context"

	"github.com/kafki/kafki/brokerd/cleaner"
)

// startCleaner runs the log cleaner (log.cleaner.enable) over every local
// log of the broker, leaders and followers alike: each replica compacts
// its own copy (see package cleaner). Its metrics are registered even
// when it is off, so dashboards see the dirty ratios grow.
func (b *Broker) startCleaner(ctx context.Context) {
	cfg := &b.cfg
	c := cleaner.New(cleaner.Options{
		Partitions:          b.cleanerPartitions,
		Threads:             cfg.CleanerThreads,
		DedupeBufferSize:    cfg.CleanerDedupeBufferSize,
		IOMaxBytesPerSecond: cfg.CleanerIOMaxBytesPerSecond,
		Backoff:             cfg.CleanerBackoff,
		Metrics:             b.metrics.NewCleaner(),
		Logger:              b.log.With("component", "cleaner"),
	})
	b.metrics.RegisterCleanerPartitions(c.Stats)
	if !cfg.CleanerEnable {
		b.log.Warn("log cleaner disabled (log.cleaner.enable=false): compacted topics grow without bound")
		return
	}
	b.wg.Add(1)
	go func() { defer b.wg.Done(); c.Run(ctx) }()
}

// cleanerPartitions lists every local log for the cleaner.
func (b *Broker) cleanerPartitions() []cleaner.Partition {
	var out []cleaner.Partition
	for _, t := range b.topics.Topics() {
		for _, p := range t.Partitions {
			out = append(out, cleaner.Partition{Topic: t.Name, Partition: p.Index, Log: p.Log()})
		}
	}
	return out
}
