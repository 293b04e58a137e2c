package loadtest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pollSlice bounds one poll, so a consumer notices promptly that it has
// reached the end offsets it was given after producing stopped.
const pollSlice = 100 * time.Millisecond

// consumer reads a fixed set of partitions from given offsets, without a
// consumer group (Kafki and Kafka are then measured on the fetch path
// alone, with no rebalance in the numbers).
type consumer struct {
	cl    *kgo.Client
	topic string
	clock Clock
	rec   *Recorder
	e2e   bool                            // values carry their intended send time
	next  map[int32]int64                 // partition → next offset to read
	ends  atomic.Pointer[map[int32]int64] // set once producing ended
	// measureFrom is when the measured period began, in Unix ns (0: not
	// yet): an e2e record counts as measured if it was due from then on.
	measureFrom *atomic.Int64
	badStamps   int64
}

// newConsumer reads parts of topic from the offsets in from.
func newConsumer(cfg Config, parts []int32, from map[int32]int64, clock Clock, rec *Recorder, e2e bool, measureFrom *atomic.Int64) (*consumer, error) {
	offsets := make(map[int32]kgo.Offset, len(parts))
	next := make(map[int32]int64, len(parts))
	for _, p := range parts {
		offsets[p] = kgo.NewOffset().At(from[p])
		next[p] = from[p]
	}
	opts := append(cfg.connOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: offsets}),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchMaxBytes(int32(cfg.FetchMaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(cfg.FetchPartitionBytes)),
	)
	cl, err := kgo.NewClient(append(opts, cfg.isolationOpts()...)...)
	if err != nil {
		return nil, fmt.Errorf("consumer client: %w", err)
	}
	return &consumer{cl: cl, topic: cfg.Topic, clock: clock, rec: rec, e2e: e2e, next: next, measureFrom: measureFrom}, nil
}

// setEnds tells the consumer where to stop: the end offsets after the last
// record was acknowledged.
func (c *consumer) setEnds(ends map[int32]int64) { c.ends.Store(&ends) }

// done reports whether every partition reached its end offset.
func (c *consumer) done() bool {
	ends := c.ends.Load()
	if ends == nil {
		return false
	}
	for p, next := range c.next {
		if next < (*ends)[p] {
			return false
		}
	}
	return true
}

// run reads until done or ctx ends.
func (c *consumer) run(ctx context.Context) error {
	for !c.done() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consumer stopped before the end offsets: %w", err)
		}
		pctx, cancel := context.WithTimeout(ctx, pollSlice)
		fetches := c.cl.PollFetches(pctx)
		cancel()
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil && !isPollTimeout(err) {
				c.rec.Error()
				fetchErr = fmt.Errorf("fetch %s/%d: %w", topic, p, err)
			}
		})
		if fetchErr != nil && !kgoRetriable(fetchErr) {
			return fetchErr
		}
		now := c.clock.Now()
		var n, bytes int64
		fetches.EachRecord(func(r *kgo.Record) {
			c.next[r.Partition] = r.Offset + 1
			if !c.e2e {
				n++
				bytes += int64(len(r.Value))
				return
			}
			if sent, ok := decodeStamp(r.Value); ok {
				from := c.measureFrom.Load()
				c.rec.RecordAt(now.Sub(sent), len(r.Value), from != 0 && sent.UnixNano() >= from)
			} else {
				c.badStamps++
				c.rec.Error()
			}
		})
		if n > 0 {
			c.rec.Count(n, bytes)
		}
	}
	return nil
}

func (c *consumer) close() { c.cl.Close() }

// isPollTimeout is the error a poll reports when its slice ended.
func isPollTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// kgoRetriable reports whether a fetch error is transient (kgo retries it
// itself; it is counted, and reading goes on).
func kgoRetriable(err error) bool { return kerr.IsRetriable(err) }
