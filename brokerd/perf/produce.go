package perf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Histogram bounds, in microseconds: 1 µs to 10 minutes, 3 significant
// digits (0.1% error).
const (
	histMinMicros = 1
	histMaxMicros = int64(10 * time.Minute / time.Microsecond)
	histSigFigs   = 3
)

func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
}

// Values are cut from one shared buffer of random letters: valueSpread
// distinct starting offsets, so consecutive records differ (compression is
// not flattered by identical records) without allocating per record.
const (
	valueSpread = 1 << 16
	valueStep   = 4099 // odd, so stepping modulo valueSpread visits every offset
)

// newValueSource returns size+valueSpread bytes of pseudo-random capital
// letters, like Kafka's producer-perf-test payloads: compressible only
// modestly. The seed is fixed so runs are comparable.
func newValueSource(size int) []byte {
	rng := rand.New(rand.NewPCG(1, uint64(size)))
	buf := make([]byte, size+valueSpread)
	for i := range buf {
		buf[i] = 'A' + byte(rng.IntN(26))
	}
	return buf
}

// producer drives one kgo client flat out. Records live in a fixed pool of
// slots (as many as kgo may buffer): a slot goes back to the free list in
// its promise, so the hot path allocates nothing per record.
type producer struct {
	cl     *kgo.Client
	topic  string
	values []byte
	size   int
	base   time.Time // monotonic origin of slot.sent
	free   chan *slot
	stop   *atomic.Bool // shared by the cell's producers: stop producing

	acked      atomic.Int64
	ackedBytes atomic.Int64
	failed     atomic.Int64

	mu       sync.Mutex // guards hist and firstErr (promises vs. the cell's driver)
	hist     *hdrhistogram.Histogram
	firstErr error
}

// slot is one reusable record with its send time. done is the promise,
// bound once at creation so Produce gets a func value without allocating.
type slot struct {
	rec  kgo.Record
	sent time.Duration // since producer.base
	p    *producer
	done func(*kgo.Record, error)
}

// producerOpts returns the kgo options a cell's producers share.
func producerOpts(cfg Config, seeds []string, acks Acks) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(cfg.Timeout),
		kgo.DisableClientMetrics(), // no telemetry pushes competing for the CPU
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(int32(cfg.BatchMaxBytes)),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.ProducerBatchCompression(mustCodec(cfg.Compression)),
		// Without a bound, a broker that stops answering leaves records
		// (and the run) waiting forever.
		kgo.RecordDeliveryTimeout(30 * time.Second),
		// The broker must accept whole batches; kgo's default read limit
		// (100 MiB) already covers fetch responses of the consume phase.
	}
	if acks == AcksLeader {
		// kgo allows acks other than all only without idempotence, and
		// then defaults to one request in flight; Kafka's Java producer
		// allows five, which is what a throughput run should compare to.
		opts = append(opts,
			kgo.RequiredAcks(kgo.LeaderAck()),
			kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(cfg.MaxInflight),
		)
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	return opts
}

func newProducer(cfg Config, seeds []string, topic string, cell Cell, stop *atomic.Bool) (*producer, error) {
	cl, err := kgo.NewClient(producerOpts(cfg, seeds, cell.Acks)...)
	if err != nil {
		return nil, fmt.Errorf("producer client: %w", err)
	}
	p := &producer{
		cl:     cl,
		topic:  topic,
		values: newValueSource(cell.RecordSize),
		size:   cell.RecordSize,
		base:   time.Now(),
		free:   make(chan *slot, cfg.MaxBufferedRecords),
		stop:   stop,
		hist:   newLatencyHistogram(),
	}
	for range cfg.MaxBufferedRecords {
		s := &slot{p: p}
		s.done = s.finish
		p.free <- s
	}
	return p, nil
}

// finish is a slot's promise. kgo calls a client's promises serially and
// no longer touches the record once the promise returns, so the slot can
// be reused right away. It must not block: the free channel has room for
// every slot.
func (s *slot) finish(r *kgo.Record, err error) {
	p := s.p
	if err != nil {
		p.failed.Add(1)
		p.mu.Lock()
		if p.firstErr == nil {
			p.firstErr = err
		}
		p.mu.Unlock()
		// A failed record makes the cell's figures meaningless; stop
		// rather than pile up more failures (each may take the whole
		// delivery timeout).
		p.stop.Store(true)
	} else {
		micros := int64((time.Since(p.base) - s.sent) / time.Microsecond)
		micros = min(max(micros, histMinMicros), histMaxMicros)
		p.acked.Add(1)
		p.ackedBytes.Add(int64(len(r.Value)))
		p.mu.Lock()
		_ = p.hist.RecordValue(micros) // cannot fail: clamped to the range
		p.mu.Unlock()
	}
	p.free <- s
}

// run produces until the shared stop flag is set, or limit records when
// limit > 0, then flushes. It returns ctx's error if ctx ended first.
func (p *producer) run(ctx context.Context, limit int64) error {
	off := 0
	var n int64
	for !p.stop.Load() && (limit == 0 || n < limit) {
		// Try the free list without select first: a plain receive is
		// cheaper, and a slot is usually there.
		var s *slot
		select {
		case s = <-p.free:
		default:
			select {
			case s = <-p.free:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		now := time.Now()
		s.rec = kgo.Record{
			Topic:     p.topic,
			Value:     p.values[off : off+p.size : off+p.size],
			Timestamp: now, // saves kgo a clock read
		}
		s.sent = now.Sub(p.base)
		p.cl.Produce(ctx, &s.rec, s.done)
		off = (off + valueStep) & (valueSpread - 1)
		n++
	}
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

// resetHistogram drops the latencies recorded so far (the warm-up's).
func (p *producer) resetHistogram() {
	p.mu.Lock()
	p.hist.Reset()
	p.mu.Unlock()
}

// mergeInto adds this producer's latencies to h.
func (p *producer) mergeInto(h *hdrhistogram.Histogram) {
	p.mu.Lock()
	h.Merge(p.hist)
	p.mu.Unlock()
}

func (p *producer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firstErr
}

// producerGroup is the producers of one cell, counted together.
type producerGroup []*producer

func (g producerGroup) acked() (records, bytes int64) {
	for _, p := range g {
		records += p.acked.Load()
		bytes += p.ackedBytes.Load()
	}
	return records, bytes
}

func (g producerGroup) failed() int64 {
	var n int64
	for _, p := range g {
		n += p.failed.Load()
	}
	return n
}

func (g producerGroup) firstErr() error {
	for _, p := range g {
		if err := p.err(); err != nil {
			return err
		}
	}
	return nil
}

func (g producerGroup) close() {
	for _, p := range g {
		p.cl.Close()
	}
}

// errProduceFailed marks a cell whose produce phase had failed records.
var errProduceFailed = errors.New("produce failed")
