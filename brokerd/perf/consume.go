package perf

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Fetch sizes of the consume phase. Larger than kgo's per-partition
// default (1 MiB) so that a few requests per second carry hundreds of MB;
// the total stays well below kgo's 100 MiB response limit.
const (
	fetchMaxBytes          = 48 << 20
	fetchMaxPartitionBytes = 8 << 20
)

// consumeCounters are read by the progress reporter while the consumer
// runs.
type consumeCounters struct {
	records atomic.Int64
	bytes   atomic.Int64
}

// consumeResult is what one consume phase read.
type consumeResult struct {
	records int64
	bytes   int64
	elapsed time.Duration
}

// consumeAll reads topic from the start of every partition until each
// reaches its end offset in ends (partition → offset after the last
// record). It gives up when ctx ends, returning what it read so far with
// the error.
func consumeAll(ctx context.Context, cfg Config, seeds []string, topic string, ends map[int32]int64, c *consumeCounters) (consumeResult, error) {
	remaining := make(map[int32]int64, len(ends))
	starts := make(map[int32]kgo.Offset, len(ends))
	for p, end := range ends {
		starts[p] = kgo.NewOffset().AtStart()
		if end > 0 {
			remaining[p] = end
		}
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(cfg.Timeout),
		kgo.DisableClientMetrics(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
	)
	if err != nil {
		return consumeResult{}, fmt.Errorf("consumer client: %w", err)
	}
	defer cl.Close()

	start := time.Now()
	var res consumeResult
	var fetchErr error
	for len(remaining) > 0 && fetchErr == nil {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			res.elapsed = time.Since(start)
			return res, ctx.Err()
		}
		fetches.EachError(func(t string, p int32, err error) {
			if fetchErr == nil && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
			}
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			var bytes int64
			for _, r := range fp.Records {
				bytes += int64(len(r.Value))
			}
			res.records += int64(len(fp.Records))
			res.bytes += bytes
			c.records.Add(int64(len(fp.Records)))
			c.bytes.Add(bytes)
			next := fp.Records[len(fp.Records)-1].Offset + 1
			if end, ok := remaining[fp.Partition]; ok && next >= end {
				delete(remaining, fp.Partition)
			}
		})
	}
	res.elapsed = time.Since(start)
	return res, fetchErr
}
