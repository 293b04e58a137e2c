package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// ErrCountMismatch means the records the run acknowledged or read differ
// from what the broker's end offsets say it holds.
var ErrCountMismatch = errors.New("record counts differ")

// rssInterval is how often broker processes' RSS is sampled.
const rssInterval = 100 * time.Millisecond

// spawnStopGrace is how long a spawned broker gets to exit after SIGTERM.
const spawnStopGrace = 20 * time.Second

// run is the state of one Run.
type run struct {
	cfg      Config
	clock    Clock
	adm      *admin
	parts    []int32
	prod     *Recorder
	cons     *Recorder
	out      io.Writer
	phase    atomic.Pointer[string]
	measured atomic.Bool // the measured period has begun
	// measureFrom is measureStart in Unix ns, for e2e consumers.
	measureFrom atomic.Int64

	// txn is what transactional producers left in the log, summed once
	// they ended (producers' wait).
	txn txnTotals

	mu           sync.Mutex // guards series and measureStart
	series       []Point
	measureStart time.Time
	lastTick     time.Time
}

// Run performs the workload of cfg against the cluster and returns the
// report, also when the run failed (with Error set) after connecting.
// Progress lines go to progress every cfg.Progress. With cfg.SpawnBroker
// it starts that broker first and stops it at the end.
func Run(ctx context.Context, cfg Config, progress io.Writer) (rep *Report, err error) {
	if progress == nil {
		progress = io.Discard
	}
	if cfg.SpawnBroker != "" {
		return runSpawned(ctx, cfg, progress)
	}
	rep = &Report{Label: cfg.Label, Workload: cfg.Workload, Settings: settingsOf(cfg), Started: time.Now().UTC()}
	defer func() {
		if err != nil {
			rep.Error = err.Error()
		}
	}()
	if cfg, err = cfg.withSecurity(); err != nil {
		return rep, err
	}
	a, err := connect(ctx, cfg)
	if err != nil {
		return rep, err
	}
	defer a.close()
	parts, err := a.ensureTopic(ctx, cfg)
	if err != nil {
		return rep, err
	}
	if cfg.DeleteTopic {
		defer func() { err = errors.Join(err, a.deleteTopic(ctx, cfg)) }()
	}
	start, err := a.endOffsets(ctx, cfg, parts)
	if err != nil {
		return rep, err
	}

	var samplers []*brokerproc.RSSSampler
	for _, pid := range cfg.BrokerPIDs {
		samplers = append(samplers, brokerproc.StartRSSSampler(pid, rssInterval))
	}
	r := &run{cfg: cfg, clock: SystemClock{}, adm: a, parts: parts, prod: NewRecorder(), cons: NewRecorder(), out: newSyncWriter(progress)}
	r.setPhase("starting")
	switch cfg.Workload {
	case WorkloadProduce:
		err = r.produce(ctx, rep, start)
	case WorkloadConsume:
		err = r.consume(ctx, rep)
	case WorkloadE2E:
		err = r.e2e(ctx, rep, start)
	}
	for _, s := range samplers {
		s.Stop()
		rep.BrokerPeakRSSBytes += s.Peak()
	}
	rep.Series = r.series

	ends, endErr := r.finalEnds(ctx, rep, start)
	if endErr != nil {
		return rep, errors.Join(err, endErr)
	}
	rep.BrokerRecords, rep.TxnMarkers = sumDelta(start, ends), r.txn.markers
	return rep, errors.Join(err, checkCounts(cfg, rep))
}

// runSpawned runs cfg against a brokerd it spawns (cfg.SpawnBroker) and
// stops afterwards. A broker that dies mid-run cancels the run at once,
// with its exit as the cause, instead of leaving clients retrying.
func runSpawned(ctx context.Context, cfg Config, progress io.Writer) (rep *Report, err error) {
	b, err := brokerproc.Spawn(ctx, cfg.SpawnBroker, cfg.Timeout)
	if err != nil {
		rep = &Report{Label: cfg.Label, Workload: cfg.Workload, Settings: settingsOf(cfg), Started: time.Now().UTC()}
		err = fmt.Errorf("spawn broker: %w", err)
		rep.Error = err.Error()
		return rep, err
	}
	fmt.Fprintf(progress, "started %s on %s (pid %d, data in %s)\n", cfg.SpawnBroker, b.Addr(), b.PID(), b.DataDir())
	defer func() {
		if stopErr := b.Stop(spawnStopGrace); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stop broker: %w", stopErr))
			rep.Error = err.Error()
		}
	}()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-b.Exited():
			cancel(b.Err())
		case <-ctx.Done():
		}
	}()
	cfg.SpawnBroker, cfg.Bootstrap, cfg.BrokerPIDs = "", b.Addr(), []int{b.PID()}
	rep, err = Run(ctx, cfg, progress)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = fmt.Errorf("%w (%w)", err, cause)
		rep.Error = err.Error()
	}
	return rep, err
}

// checkCounts compares what the run saw with what the broker holds.
func checkCounts(cfg Config, rep *Report) error {
	var errs []error
	if p := rep.Produce; p != nil && p.Errors > 0 {
		errs = append(errs, fmt.Errorf("%d records failed to produce", p.Errors))
	}
	// Without idempotence a retried batch may be stored twice, and with
	// acks=0 nothing is acknowledged: only then may the counts differ.
	// A transactional run's end offsets count its COMMIT markers too.
	if p := rep.Produce; p != nil && cfg.Idempotent && p.AllRecords+rep.TxnMarkers != rep.BrokerRecords {
		errs = append(errs, fmt.Errorf("%w: %d records acknowledged and %d transaction markers, broker end offsets advanced by %d",
			ErrCountMismatch, p.AllRecords, rep.TxnMarkers, rep.BrokerRecords))
	}
	switch c := rep.Consume; {
	case c == nil:
	case cfg.Workload == WorkloadConsume && c.AllRecords != rep.TopicRecords:
		errs = append(errs, fmt.Errorf("%w: %d records read, the topic holds %d", ErrCountMismatch, c.AllRecords, rep.TopicRecords))
	case (cfg.Workload == WorkloadE2E || cfg.ReadBack) && c.AllRecords != rep.BrokerRecords-rep.TxnMarkers:
		errs = append(errs, fmt.Errorf("%w: %d records read, broker end offsets advanced by %d (%d of them transaction markers)",
			ErrCountMismatch, c.AllRecords, rep.BrokerRecords, rep.TxnMarkers))
	}
	return errors.Join(errs...)
}

func (r *run) setPhase(p string) { r.phase.Store(&p) }

// startMeasuring ends the warm-up on the given recorders.
func (r *run) startMeasuring(recs ...*Recorder) time.Time {
	for _, rec := range recs {
		rec.Measure()
	}
	now := r.clock.Now()
	r.mu.Lock()
	r.measureStart, r.lastTick = now, now
	r.mu.Unlock()
	r.measureFrom.Store(now.UnixNano())
	r.measured.Store(true)
	r.setPhase("measuring")
	return now
}

// producers starts cfg.Producers producers sharing rate; wait stops
// nothing by itself: it waits until the budget ends them, then closes them
// and returns their errors.
func (r *run) producers(ctx context.Context, rec *Recorder, budget *sendBudget, rate float64, stamp bool) (wait func() error, err error) {
	var ps []*producer
	for i := range r.cfg.Producers {
		p, err := newProducer(r.cfg, i, rate/float64(r.cfg.Producers), r.clock, rec, budget, stamp)
		if err != nil {
			for _, p := range ps {
				p.close()
			}
			return nil, err
		}
		ps = append(ps, p)
	}
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.run(ctx)
		}()
	}
	return func() error {
		wg.Wait()
		var first error
		for _, p := range ps {
			if first == nil {
				first = p.err()
			}
			if p.txn != nil {
				r.txn.add(p.txn)
			}
			p.close()
		}
		if first != nil {
			errs = append(errs, fmt.Errorf("first produce error: %w", first))
		}
		return errors.Join(errs...)
	}, nil
}

// consumers starts cfg.Consumers consumers (at most one per partition),
// partitions dealt round-robin, reading from the offsets in from.
func (r *run) consumers(ctx context.Context, from map[int32]int64, e2e bool) (cs []*consumer, wait func() error, err error) {
	n := min(r.cfg.Consumers, len(r.parts))
	assigned := make([][]int32, n)
	for i, p := range r.parts {
		assigned[i%n] = append(assigned[i%n], p)
	}
	for i := range n {
		c, err := newConsumer(r.cfg, assigned[i], from, r.clock, r.cons, e2e, &r.measureFrom)
		if err != nil {
			for _, c := range cs {
				c.close()
			}
			return nil, nil, err
		}
		cs = append(cs, c)
	}
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.run(ctx)
		}()
	}
	return cs, func() error {
		wg.Wait()
		for _, c := range cs {
			c.close()
		}
		return errors.Join(errs...)
	}, nil
}

// measure waits out the warm-up, starts measuring on recs, then waits for
// the end of the measured period: cfg.Duration, the record budget, or ctx.
func (r *run) measure(ctx context.Context, budget *sendBudget, recs ...*Recorder) time.Time {
	r.setPhase("warm-up")
	if r.cfg.Warmup > 0 {
		_ = r.clock.SleepUntil(ctx, r.clock.Now().Add(r.cfg.Warmup))
	}
	budget.measuring.Store(true)
	begin := r.startMeasuring(recs...)
	var timeout <-chan time.Time
	if r.cfg.Duration > 0 {
		t := time.NewTimer(r.cfg.Duration)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-budget.exhausted:
	case <-ctx.Done():
	}
	budget.stop.Store(true)
	return begin
}

func (r *run) produce(ctx context.Context, rep *Report, start map[int32]int64) error {
	budget := newSendBudget(r.cfg.Records, r.cfg.Warmup)
	wait, err := r.producers(ctx, r.prod, budget, r.cfg.Rate, false)
	if err != nil {
		return err
	}
	stop := r.watch()
	begin := r.measure(ctx, budget, r.prod)
	r.setPhase("flushing")
	err = wait()
	elapsed := r.clock.Now().Sub(begin)
	stop()
	rep.Produce = streamStats(r.prod, elapsed, true)
	if err != nil || ctx.Err() != nil || !r.cfg.ReadBack {
		return errors.Join(err, ctx.Err())
	}
	return r.readBack(ctx, rep, start)
}

// readBack reads everything the produce workload wrote (warm-up
// included), from the offsets the run started at to the end offsets now,
// as fast as the consumers can, within cfg.ConsumeTimeout. It is not part
// of the time series: producing is over.
func (r *run) readBack(ctx context.Context, rep *Report, start map[int32]int64) error {
	ends, err := r.readEnds(ctx, start)
	if err != nil {
		return err
	}
	r.setPhase("reading back")
	what := "records"
	if r.cfg.Transactional() {
		what = "offsets (records and transaction markers)"
	}
	fmt.Fprintf(r.out, "%sreading back %d %s\n", r.prefix(), sumDelta(start, ends), what)
	cctx, cancel := context.WithTimeout(ctx, r.cfg.ConsumeTimeout)
	defer cancel()
	cs, waitConsumers, err := r.consumers(cctx, start, false)
	if err != nil {
		return err
	}
	r.cons.Measure()
	begin := r.clock.Now()
	for _, c := range cs {
		c.setEnds(ends)
	}
	err = waitConsumers()
	rep.Consume = streamStats(r.cons, r.clock.Now().Sub(begin), false)
	return errors.Join(err, ctx.Err())
}

func (r *run) e2e(ctx context.Context, rep *Report, start map[int32]int64) error {
	cctx, cancelConsumers := context.WithCancel(ctx)
	defer cancelConsumers()
	cs, waitConsumers, err := r.consumers(cctx, start, true)
	if err != nil {
		return err
	}
	budget := newSendBudget(r.cfg.Records, r.cfg.Warmup)
	waitProducers, err := r.producers(ctx, r.prod, budget, r.cfg.Rate, true)
	if err != nil {
		cancelConsumers()
		return errors.Join(err, waitConsumers())
	}
	stop := r.watch()
	begin := r.measure(ctx, budget, r.prod, r.cons)
	r.setPhase("flushing")
	perr := waitProducers()
	produced := r.clock.Now().Sub(begin)
	ends, err := r.readEnds(ctx, start)
	if err != nil {
		cancelConsumers()
		stop()
		return errors.Join(perr, err, waitConsumers())
	}
	r.setPhase("reading the tail")
	for _, c := range cs {
		c.setEnds(ends)
	}
	timer := time.AfterFunc(r.cfg.ConsumeTimeout, cancelConsumers)
	cerr := waitConsumers()
	timer.Stop()
	consumed := r.clock.Now().Sub(begin)
	stop()
	rep.Produce = streamStats(r.prod, produced, true)
	rep.Consume = streamStats(r.cons, consumed, true)
	return errors.Join(perr, cerr, ctx.Err())
}

// consume preloads (if asked) and then reads the whole topic, from the
// log start offsets to the end offsets after the preload.
func (r *run) consume(ctx context.Context, rep *Report) error {
	stop := r.watch()
	if r.cfg.Preload > 0 {
		budget := newSendBudget(r.cfg.Preload, 0)
		r.setPhase("preload")
		wait, err := r.producers(ctx, r.prod, budget, 0, false)
		if err != nil {
			stop()
			return err
		}
		if err := wait(); err != nil {
			stop()
			return fmt.Errorf("preload: %w", err)
		}
	}
	start, err := r.adm.startOffsets(ctx, r.cfg, r.parts)
	if err != nil {
		stop()
		return err
	}
	ends, err := r.adm.endOffsets(ctx, r.cfg, r.parts)
	if err != nil {
		stop()
		return err
	}
	rep.TopicRecords = sumDelta(start, ends)
	if rep.TopicRecords == 0 {
		stop()
		return fmt.Errorf("topic %s is empty: nothing to read (set --preload)", r.cfg.Topic)
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.ConsumeTimeout)
	defer cancel()
	cs, waitConsumers, err := r.consumers(cctx, start, false)
	if err != nil {
		stop()
		return err
	}
	begin := r.startMeasuring(r.cons)
	for _, c := range cs {
		c.setEnds(ends)
	}
	err = waitConsumers()
	elapsed := r.clock.Now().Sub(begin)
	stop()
	// The preload is not measured: its row shows what it wrote.
	rep.Produce = &StreamStats{Records: r.prod.AllRecords(), Errors: r.prod.AllErrors(), AllRecords: r.prod.AllRecords()}
	rep.Consume = streamStats(r.cons, elapsed, false)
	return errors.Join(err, ctx.Err())
}

// finalEnds are the end offsets after the run; a transactional run's
// wait for the COMMIT markers of its last transactions (awaitMarkers).
func (r *run) finalEnds(ctx context.Context, rep *Report, start map[int32]int64) (map[int32]int64, error) {
	if r.cfg.Transactional() && rep.Produce != nil {
		return r.awaitMarkers(ctx, start, rep.Produce.AllRecords)
	}
	return r.adm.endOffsets(ctx, r.cfg, r.parts)
}

// readEnds are where consumers of what the producers wrote stop: the end
// offsets, or in a transactional run the offsets after the last records
// (txnTotals.dataEnds).
func (r *run) readEnds(ctx context.Context, start map[int32]int64) (map[int32]int64, error) {
	if r.cfg.Transactional() {
		return r.txn.dataEnds(start), nil
	}
	return r.adm.endOffsets(ctx, r.cfg, r.parts)
}

// syncWriter serialises progress lines from the watcher and the run.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newSyncWriter(w io.Writer) *syncWriter { return &syncWriter{w: w} }

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
