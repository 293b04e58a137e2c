package triggers

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// partitionWorker delivers one assigned partition. Invariants: at most
// one batch in flight; records leave the queue in offset order; the
// committed offset moves past a record only after the function succeeded
// on it, it was filtered out, or it went to the failure destination.
type partitionWorker struct {
	tc        *triggerConsumer
	topic     string
	partition int32
	labels    []string // trigger, topic, partition

	mu       sync.Mutex
	queue    []*Record // guarded by mu; fetched, not yet delivered
	bytes    int       // guarded by mu; EncodedSize of queue
	hwm      int64     // guarded by mu; high watermark from the last fetch
	paused   bool      // guarded by mu
	notify   chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
	overhead int
}

// add queues fetched records; it reports whether the queue is over its
// bound, so the caller pauses the partition.
func (w *partitionWorker) add(recs []*Record, hwm int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range recs {
		w.queue = append(w.queue, r)
		w.bytes += EncodedSize(r)
	}
	w.hwm = hwm
	select {
	case w.notify <- struct{}{}:
	default:
	}
	over := len(w.queue) >= 2*w.tc.def.BatchSize+1000 || w.bytes >= 2*w.tc.def.MaxPayloadBytes
	if over {
		w.paused = true
	}
	return over
}

// cutBatch returns how many queued records form the next batch: at most
// batchSize, with the payload within maxPayload. A first record that alone
// exceeds maxPayload is a batch of one marked tooLarge.
func cutBatch(sizes []int, batchSize, maxPayload, overhead int) (n int, tooLarge bool) {
	total := overhead
	for n < len(sizes) && n < batchSize {
		if total+sizes[n] > maxPayload {
			if n == 0 {
				return 1, true
			}
			return n, false
		}
		total += sizes[n]
		n++
	}
	return n, false
}

func (w *partitionWorker) run(ctx context.Context) {
	defer close(w.done)
	def := &w.tc.def
	for {
		// Wait for a first record, then for a full batch or the window.
		var deadline <-chan time.Time
	wait:
		for {
			w.mu.Lock()
			n, bytes := len(w.queue), w.bytes
			w.mu.Unlock()
			if n >= def.BatchSize || (n > 0 && bytes+w.overhead >= def.MaxPayloadBytes) {
				break
			}
			if n > 0 {
				if def.BatchingWindow == 0 {
					break
				}
				if deadline == nil {
					deadline = time.After(def.BatchingWindow.D())
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-w.notify:
			case <-deadline: // non-nil only once a record is queued
				break wait
			}
		}
		w.mu.Lock()
		sizes := make([]int, 0, min(len(w.queue), def.BatchSize))
		for i := 0; i < len(w.queue) && i < def.BatchSize; i++ {
			sizes = append(sizes, EncodedSize(w.queue[i]))
		}
		n, tooLarge := cutBatch(sizes, def.BatchSize, def.MaxPayloadBytes, w.overhead)
		batch := append([]*Record(nil), w.queue[:n]...)
		w.mu.Unlock()
		w.updateGauges(batch[0])

		if err := w.handle(ctx, batch, tooLarge); err != nil {
			return // cancelled: revoked or stopping; nothing committed
		}
		if err := w.commit(batch[len(batch)-1]); err != nil {
			w.tc.log.Warn("commit failed; the batch will be redelivered", "topic", w.topic, "partition", w.partition, "err", err)
			return
		}
		w.mu.Lock()
		for i := 0; i < n; i++ {
			w.bytes -= sizes[i]
		}
		w.queue = w.queue[n:]
		resume := w.paused && len(w.queue) < def.BatchSize && w.bytes < def.MaxPayloadBytes
		if resume {
			w.paused = false
		}
		var next *Record
		if len(w.queue) > 0 {
			next = w.queue[0]
		}
		hwm := w.hwm
		w.mu.Unlock()
		if resume {
			w.tc.cl.ResumeFetchPartitions(map[string][]int32{w.topic: {w.partition}})
		}
		committed := batch[len(batch)-1].Offset + 1
		w.tc.r.metrics.Lag.WithLabelValues(w.labels...).Set(float64(max(hwm-committed, 0)))
		w.updateGauges(next)
	}
}

func (w *partitionWorker) updateGauges(oldest *Record) {
	age := 0.0
	if oldest != nil {
		age = max(time.Since(oldest.Timestamp).Seconds(), 0)
	}
	w.tc.r.metrics.OldestAge.WithLabelValues(w.labels...).Set(age)
}

// commit commits the offset after last; it is not tied to the worker's
// context, so a batch that succeeded just before a revocation is still
// committed (cooperative rebalancing keeps the partition ours until the
// revocation callback returns).
func (w *partitionWorker) commit(last *Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return w.tc.commit(ctx, last)
}

// handle processes one batch until it is done (delivered, filtered, sent
// to the failure destination); it returns an error only when ctx ends.
func (w *partitionWorker) handle(ctx context.Context, batch []*Record, tooLarge bool) error {
	def := &w.tc.def
	if tooLarge {
		return w.toFailure(ctx, batch, "payload_limit", fmt.Errorf("record at offset %d is larger than the payload limit of %d bytes", batch[0].Offset, def.MaxPayloadBytes))
	}
	pass := batch[:0:0]
	for _, r := range batch {
		if w.tc.filter.Pass(r) {
			pass = append(pass, r)
		}
	}
	if skipped := len(batch) - len(pass); skipped > 0 {
		w.tc.r.metrics.Filtered.WithLabelValues(def.ID).Add(float64(skipped))
	}
	return w.deliver(ctx, pass)
}

// deliver invokes the function with recs, retrying and bisecting as the
// trigger says.
func (w *partitionWorker) deliver(ctx context.Context, recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	def, r := &w.tc.def, w.tc.r
	attempts, waits := 0, 0
	payload := BuildPayload(r.bootstrap, recs)
	for {
		if def.MaxRecordAge > 0 {
			if expired, fresh := splitExpired(recs, time.Now().Add(-def.MaxRecordAge.D())); len(expired) > 0 {
				oldest := time.Since(expired[0].Timestamp)
				for _, r := range expired[1:] {
					oldest = max(oldest, time.Since(r.Timestamp))
				}
				cause := fmt.Errorf("%d record(s) older than the maximum record age %v (the oldest %v old)", len(expired), def.MaxRecordAge.D(), oldest.Truncate(time.Second))
				if err := w.toFailure(ctx, expired, "record_age", cause); err != nil {
					return err
				}
				return w.deliver(ctx, fresh)
			}
		}
		start := time.Now()
		res, err := invoke(ctx, r.lambda, def.Function, payload)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.metrics.Invocations.WithLabelValues(def.ID, string(res)).Inc()
		r.metrics.Latency.WithLabelValues(def.ID).Observe(time.Since(start).Seconds())
		w.tc.report(res, err, len(recs))
		if res == ResultOK {
			r.metrics.BatchSize.WithLabelValues(def.ID).Observe(float64(len(recs)))
			r.metrics.Delivered.WithLabelValues(def.ID).Add(float64(len(recs)))
			return nil
		}
		if res == ResultFunctionError && def.BisectOnError && len(recs) > 1 {
			mid := len(recs) / 2
			if err := w.deliver(ctx, recs[:mid]); err != nil {
				return err
			}
			return w.deliver(ctx, recs[mid:])
		}
		if res.countsAsAttempt() {
			if def.MaxRetryAttempts >= 0 && attempts >= def.MaxRetryAttempts {
				return w.toFailure(ctx, recs, string(res), err)
			}
			attempts++
		} else {
			w.tc.log.Warn("cannot invoke; holding the partition", "function", def.Function, "topic", w.topic, "partition", w.partition, "err", err)
		}
		r.metrics.Retries.WithLabelValues(def.ID).Inc()
		if err := sleep(ctx, r.backoff.Delay(max(attempts, waits))); err != nil {
			return err
		}
		waits++
	}
}

func splitExpired(recs []*Record, cutoff time.Time) (expired, fresh []*Record) {
	for _, r := range recs {
		if r.Timestamp.Before(cutoff) {
			expired = append(expired, r)
		} else {
			fresh = append(fresh, r)
		}
	}
	return expired, fresh
}

// toFailure sends recs to the trigger's failure destination with cause,
// retrying (never skipping) until it is stored.
func (w *partitionWorker) toFailure(ctx context.Context, recs []*Record, reason string, cause error) error {
	def, r := &w.tc.def, w.tc.r
	for attempt := 0; ; attempt++ {
		err := w.tc.sendToDestination(ctx, recs, reason, cause)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.tc.log.Warn("failure destination unavailable; retrying", "destination", def.OnFailure, "err", err)
		w.tc.report(ResultRunnerError, err, 0)
		if err := sleep(ctx, r.backoff.Delay(attempt)); err != nil {
			return err
		}
	}
	r.metrics.ToFailure.WithLabelValues(def.ID, reason).Add(float64(len(recs)))
	w.tc.reportFailure(len(recs), cause)
	return nil
}

func partitionLabel(p int32) string { return strconv.FormatInt(int64(p), 10) }
