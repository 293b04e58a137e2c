// Package cleaner is the broker's log cleaner: background goroutines that
// compact the partitions of topics with cleanup.policy=compact, one
// storage.Log.Clean pass at a time (the storage package does the
// rewriting and the crash-safe swap; this package decides what to clean,
// when, and how fast).
//
// Invariants:
//   - A partition is cleaned by at most one goroutine at a time (and
//     storage.Log.Clean serializes passes too).
//   - A pass starts only on a partition whose cleanable dirty ratio is at
//     least its min.cleanable.dirty.ratio, or that is due (a dirty record
//     older than max.compaction.lag.ms, or tombstones past
//     delete.retention.ms); the dirtiest due partition goes first, then
//     the dirtiest.
//   - Memory: each goroutine's offset map holds at most
//     log.cleaner.dedupe.buffer.size / threads / 24 keys; reads and
//     writes of all goroutines together are throttled to
//     log.cleaner.io.max.bytes.per.second.
//   - Every broker cleans its own copies, leaders and followers alike: a
//     follower appends the leader's batches unchanged and cleans them with
//     the same rules, and a batch's cleaned bytes depend only on the batch,
//     the keys after it and the time of the clean (for tombstones), so the
//     records either side returns for an offset are the last ones of their
//     keys.
package cleaner

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kafki/kafki/brokerd/metrics"
	"github.com/kafki/kafki/brokerd/storage"
)

// Log is what the cleaner needs of a partition's log (storage.Log).
type Log interface {
	Config() storage.Config
	Cleanable() storage.CleanState
	Clean(ctx context.Context, o storage.CleanOptions) (storage.CleanStats, error)
}

// Partition names a log.
type Partition struct {
	Topic     string
	Partition int32
	Log       Log
}

// Options configure a Cleaner.
type Options struct {
	// Partitions lists the broker's logs; called on every round.
	Partitions func() []Partition
	// Threads (log.cleaner.threads) >= 1.
	Threads int
	// DedupeBufferSize (log.cleaner.dedupe.buffer.size) bytes, shared by
	// the threads.
	DedupeBufferSize int64
	// IOMaxBytesPerSecond (log.cleaner.io.max.bytes.per.second); <= 0
	// unlimited.
	IOMaxBytesPerSecond float64
	// Backoff (log.cleaner.backoff.ms) is the sleep when nothing is
	// cleanable.
	Backoff time.Duration
	// Metrics, when set, counts the cleaner's work.
	Metrics *metrics.Cleaner
	Logger  *slog.Logger
	// Now is the clock of LastClean. Default time.Now.
	Now func() time.Time
}

// Cleaner runs compaction passes. Safe for concurrent use.
type Cleaner struct {
	opts    Options
	limiter *rate.Limiter // nil: unlimited
	burst   int

	mu     sync.Mutex
	busy   map[key]bool    // partitions being cleaned; guarded by mu
	status map[key]*status // guarded by mu
}

type key struct {
	topic     string
	partition int32
}

type status struct {
	ratio     float64
	lastClean time.Time
}

// New returns a cleaner; Run starts it.
func New(o Options) *Cleaner {
	if o.Threads < 1 {
		o.Threads = 1
	}
	if o.Backoff <= 0 {
		o.Backoff = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Cleaner{opts: o, busy: map[key]bool{}, status: map[key]*status{}}
	if o.IOMaxBytesPerSecond > 0 {
		// A burst of a tenth of a second (at least 4 KiB) keeps the rate
		// smooth; larger requests wait in burst-sized steps.
		c.burst = max(int(o.IOMaxBytesPerSecond/10), 4096)
		c.limiter = rate.NewLimiter(rate.Limit(o.IOMaxBytesPerSecond), c.burst)
	}
	return c
}

// Run cleans until ctx ends, with Options.Threads goroutines.
func (c *Cleaner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range c.opts.Threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.loop(ctx)
		}()
	}
	wg.Wait()
}

func (c *Cleaner) loop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cleaned := c.CleanOnce(ctx)
		wait := c.opts.Backoff
		if cleaned {
			wait = 0
		}
		t.Reset(wait)
	}
}

// CleanOnce runs one pass on the partition most in need of one, if any
// is cleanable, and reports whether it did.
func (c *Cleaner) CleanOnce(ctx context.Context) bool {
	p, ok := c.pick()
	if !ok {
		return false
	}
	k := key{p.Topic, p.Partition}
	defer func() {
		c.mu.Lock()
		delete(c.busy, k)
		c.mu.Unlock()
	}()
	keys := int(c.opts.DedupeBufferSize / int64(c.opts.Threads) / storage.OffsetMapEntryBytes)
	start := c.opts.Now()
	st, err := p.Log.Clean(ctx, storage.CleanOptions{MaxKeys: max(keys, 1), Throttle: c.throttle})
	if m := c.opts.Metrics; m != nil {
		m.BytesRead.Add(float64(st.BytesRead))
		m.BytesWritten.Add(float64(st.BytesWritten))
		m.RecordsRemoved.Add(float64(st.RecordsRemoved))
	}
	if err != nil {
		if ctx.Err() == nil {
			c.opts.Logger.Warn("log cleaner: pass failed", "topic", p.Topic, "partition", p.Partition, "err", err)
			if m := c.opts.Metrics; m != nil {
				m.Errors.Inc()
			}
		}
		return false
	}
	if !st.Cleaned {
		return false
	}
	end := c.opts.Now()
	after := p.Log.Cleanable()
	c.mu.Lock()
	s := c.statusLocked(k)
	s.lastClean, s.ratio = end, after.Ratio
	c.mu.Unlock()
	if m := c.opts.Metrics; m != nil {
		m.Passes.Inc()
	}
	c.opts.Logger.Info("log cleaner: cleaned", "topic", p.Topic, "partition", p.Partition,
		"read_bytes", st.BytesRead, "written_bytes", st.BytesWritten, "records_removed", st.RecordsRemoved,
		"segments_replaced", st.SegmentsReplaced, "first_dirty", st.FirstDirty, "took", end.Sub(start))
	return true
}

func (c *Cleaner) statusLocked(k key) *status {
	s := c.status[k]
	if s == nil {
		s = &status{}
		c.status[k] = s
	}
	return s
}

// pick chooses and marks busy the partition to clean: due ones first,
// then by dirty ratio, among those at or above their threshold.
func (c *Cleaner) pick() (Partition, bool) {
	parts := c.opts.Partitions()
	type cand struct {
		p   Partition
		st  storage.CleanState
		due bool
	}
	var best *cand
	seen := make(map[key]bool, len(parts))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range parts {
		cfg := p.Log.Config()
		if !cfg.Compact {
			continue
		}
		k := key{p.Topic, p.Partition}
		seen[k] = true
		st := p.Log.Cleanable()
		c.statusLocked(k).ratio = st.Ratio
		if c.busy[k] {
			continue
		}
		if !st.Due && (st.DirtyBytes == 0 || st.Ratio < cfg.MinCleanableRatio) {
			continue
		}
		cd := cand{p, st, st.Due}
		if best == nil || cd.due && !best.due || cd.due == best.due && cd.st.Ratio > best.st.Ratio {
			best = &cd
		}
	}
	// Forget partitions that are gone or no longer compacted.
	for k := range c.status {
		if !seen[k] {
			delete(c.status, k)
		}
	}
	if best == nil {
		return Partition{}, false
	}
	c.busy[key{best.p.Topic, best.p.Partition}] = true
	return best.p, true
}

// throttle waits until n more bytes of I/O fit the rate.
func (c *Cleaner) throttle(ctx context.Context, n int) error {
	if c.limiter == nil {
		return nil
	}
	for n > 0 {
		step := min(n, c.burst)
		if err := c.limiter.WaitN(ctx, step); err != nil {
			return err
		}
		n -= step
	}
	return nil
}

// Stats reports every compacted partition's dirty ratio and last clean,
// for the metrics.
func (c *Cleaner) Stats() []metrics.CleanerPartitionStat {
	var out []metrics.CleanerPartitionStat
	for _, p := range c.opts.Partitions() {
		if !p.Log.Config().Compact {
			continue
		}
		st := p.Log.Cleanable()
		ps := metrics.CleanerPartitionStat{Topic: p.Topic, Partition: p.Partition, DirtyRatio: st.Ratio}
		c.mu.Lock()
		if s := c.status[key{p.Topic, p.Partition}]; s != nil {
			ps.LastClean = s.lastClean
		}
		c.mu.Unlock()
		out = append(out, ps)
	}
	return out
}
