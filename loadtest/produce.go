package loadtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// slotMemory bounds the value buffers of one producer's slots; with large
// records, fewer slots (and so fewer records in flight) are used.
const slotMemory = 256 << 20

// deliveryTimeout bounds each record's delivery: a broker that stops
// answering fails records instead of hanging the run.
const deliveryTimeout = 30 * time.Second

// sendBudget is shared by a run's producers: it stops them, and in a
// record-count run hands out the measured period's records.
type sendBudget struct {
	stop      atomic.Bool
	measuring atomic.Bool
	limited   bool         // a record count bounds the measured period
	left      atomic.Int64 // measured records still to send, when limited
	exhausted chan struct{}
	once      sync.Once
}

// newSendBudget hands out records (0: unlimited). Without a warm-up the
// budget measures from its first record: set later, the producers could
// send a record "in the warm-up" before measure starts, one more than
// --records asked for.
func newSendBudget(records int64, warmup time.Duration) *sendBudget {
	b := &sendBudget{limited: records > 0, exhausted: make(chan struct{})}
	b.left.Store(records)
	b.measuring.Store(warmup <= 0)
	return b
}

// take reports whether one more record may be sent, and whether it
// belongs to the measured period.
func (b *sendBudget) take() (ok, measured bool) {
	if b.stop.Load() {
		return false, false
	}
	measured = b.measuring.Load()
	if b.limited && measured {
		if b.left.Add(-1) < 0 {
			b.once.Do(func() { close(b.exhausted) })
			return false, true
		}
	}
	return true, measured
}

// producer drives one kgo client. Records live in a fixed pool of slots,
// each with its own value buffer (an e2e value carries its send time), so
// the hot path allocates nothing per record; a slot returns to the pool in
// its promise.
type producer struct {
	cl     *kgo.Client
	topic  string
	clock  Clock
	pacer  *Pacer
	rec    *Recorder
	budget *sendBudget
	sizes  SizeDist
	keys   *keyPicker
	rng    *rand.Rand
	stamp  bool // write the intended send time into the first 8 bytes
	free   chan *slot
	// txn is the transaction state of a transactional producer (txn.go),
	// nil otherwise.
	txn *txnState

	mu       sync.Mutex
	firstErr error
}

type slot struct {
	rec kgo.Record
	buf []byte
	due time.Time
	// measured: sent in the measured period (not the warm-up).
	measured bool
	p        *producer
	done     func(*kgo.Record, error)
}

func producerOpts(cfg Config, slots int) []kgo.Opt {
	opts := append(cfg.connOpts(),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(int32(cfg.BatchBytes)),
		kgo.MaxBufferedRecords(slots),
		kgo.ProducerBatchCompression(mustCodec(cfg.Compression)),
		kgo.RecordDeliveryTimeout(deliveryTimeout),
	)
	switch cfg.Acks {
	case AcksAll:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case AcksLeader:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	}
	if !cfg.Idempotent {
		// Without idempotence kgo defaults to one request in flight per
		// broker; Kafka's Java producer allows five.
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	return opts
}

// newProducer connects producer i of a run whose producers share rate.
func newProducer(cfg Config, i int, rate float64, clock Clock, rec *Recorder, budget *sendBudget, stamp bool) (*producer, error) {
	slots := max(1, min(cfg.MaxBuffered, slotMemory/max(1, cfg.RecordSize.Max())))
	cl, err := kgo.NewClient(append(producerOpts(cfg, slots), cfg.txnOpts(i)...)...)
	if err != nil {
		return nil, fmt.Errorf("producer client: %w", err)
	}
	seed := uint64(i) + 1
	p := &producer{
		cl:     cl,
		topic:  cfg.Topic,
		clock:  clock,
		pacer:  NewPacer(clock, rate),
		rec:    rec,
		budget: budget,
		sizes:  cfg.RecordSize,
		keys:   newKeyPicker(cfg.Keys, seed),
		rng:    rand.New(rand.NewPCG(seed, 42)),
		stamp:  stamp,
		free:   make(chan *slot, slots),
	}
	if cfg.Transactional() {
		p.txn = newTxnState(cfg.TransactionRecords)
	}
	// Values are random capital letters, like Kafka's producer-perf-test:
	// compressible only modestly, so a codec is not flattered.
	fill := rand.New(rand.NewPCG(seed, 99))
	for range slots {
		s := &slot{p: p, buf: make([]byte, cfg.RecordSize.Max())}
		for j := range s.buf {
			s.buf[j] = 'A' + byte(fill.IntN(26))
		}
		s.done = s.finish
		p.free <- s
	}
	return p, nil
}

// finish is a slot's promise. kgo calls a client's promises serially and
// does not touch the record after, so the slot is reusable at once; the
// send to free never blocks (it has room for every slot).
func (s *slot) finish(r *kgo.Record, err error) {
	p := s.p
	if err != nil {
		p.rec.Error()
		p.mu.Lock()
		if p.firstErr == nil {
			p.firstErr = err
		}
		p.mu.Unlock()
	} else if p.txn != nil {
		p.acked(s, r) // counted at its transaction's commit
	} else {
		p.rec.RecordAt(p.clock.Now().Sub(s.due), len(r.Value), s.measured)
	}
	p.free <- s
}

// run produces until the budget says stop or ctx ends, then waits for
// every record in flight.
func (p *producer) run(ctx context.Context) error {
	for {
		ok, measured := p.budget.take()
		if !ok {
			break
		}
		var s *slot
		select {
		case s = <-p.free:
		case <-ctx.Done():
			return p.flush(ctx)
		}
		due, err := p.pacer.Next(ctx)
		if err != nil {
			p.free <- s
			return p.flush(ctx)
		}
		s.due, s.measured = due, measured
		s.rec.Topic = p.topic
		s.rec.Key = p.keys.next()
		s.rec.Value = s.buf[:p.sizes.Next(p.rng)]
		s.rec.Partition = 0
		if p.stamp {
			binary.BigEndian.PutUint64(s.rec.Value, uint64(due.UnixNano()))
		}
		if err := p.beforeProduce(); err != nil {
			p.free <- s
			return errors.Join(err, p.flush(ctx))
		}
		p.cl.Produce(ctx, &s.rec, s.done)
		if err := p.afterProduce(ctx); err != nil {
			return errors.Join(err, p.flush(ctx))
		}
	}
	// The last transaction holds the records sent since the last commit.
	return errors.Join(p.commit(ctx), p.flush(ctx))
}

// flush waits for the records in flight; a cancelled ctx fails them.
func (p *producer) flush(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliveryTimeout+5*time.Second)
	defer cancel()
	if ctx.Err() != nil {
		// The run is being abandoned: fail what is buffered at once.
		p.cl.PurgeTopicsFromClient(p.topic)
	}
	if err := p.cl.Flush(fctx); err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	return nil
}

func (p *producer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firstErr
}

func (p *producer) close() { p.cl.Close() }

// decodeStamp reads an e2e value's intended send time.
func decodeStamp(v []byte) (time.Time, bool) {
	if len(v) < e2eStampLength {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
}
