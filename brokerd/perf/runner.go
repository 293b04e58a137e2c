package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUnreachable means the broker did not answer within --timeout.
var ErrUnreachable = errors.New("broker unreachable")

// ErrVerify means a cell read back a different number of records than
// the broker acknowledged.
var ErrVerify = errors.New("read-back mismatch")

// brokerStopGrace is how long a spawned broker gets to exit after SIGTERM.
const brokerStopGrace = 20 * time.Second

// rssSampleInterval is how often a known broker's RSS is sampled.
const rssSampleInterval = 100 * time.Millisecond

// runner holds what every cell of one run shares.
type runner struct {
	cfg       Config
	seeds     []string
	progress  io.Writer // synchronised: progress goroutines write too
	admCl     *kgo.Client
	adm       *kadm.Client
	brokerPID int         // 0 when unknown
	sampler   *RSSSampler // nil when brokerPID is 0
	runID     string      // distinguishes this run's topics
}

// Run executes the matrix of cfg (which must have passed Validate),
// writing progress lines to progress. With cfg.SpawnBroker it starts the
// broker first and stops it at the end. It returns the report of the cells
// that ran, and an error when the run could not complete (broker
// unreachable or died, ctx ended); a cell that merely failed is recorded
// in its CellResult instead.
func Run(ctx context.Context, cfg Config, progress io.Writer) (rep *Report, err error) {
	r := &runner{
		cfg:       cfg,
		seeds:     cfg.Seeds(),
		progress:  &syncWriter{w: progress},
		brokerPID: cfg.BrokerPID,
		runID:     time.Now().Format("20060102-150405"),
	}
	rep = &Report{Broker: cfg.Bootstrap, Settings: settingsOf(cfg), StartedAt: time.Now()}
	defer func() { rep.Seconds = time.Since(rep.StartedAt).Seconds() }()

	if cfg.SpawnBroker != "" {
		b, err := SpawnBroker(ctx, cfg.SpawnBroker, cfg.Timeout)
		if err != nil {
			return rep, fmt.Errorf("spawn broker: %w", err)
		}
		r.logf("kafki-perf: started %s on %s (pid %d, data in %s)", cfg.SpawnBroker, b.Addr(), b.PID(), b.DataDir())
		defer func() {
			if stopErr := b.Stop(brokerStopGrace); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("stop broker: %w", stopErr))
			}
		}()
		r.seeds = []string{b.Addr()}
		r.brokerPID = b.PID()
		rep.Broker, rep.BrokerBinary = b.Addr(), cfg.SpawnBroker

		// A broker that dies mid-run cancels everything at once, with
		// its exit as the cause, instead of leaving clients retrying.
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			select {
			case <-b.Exited():
				cancel(b.Err())
			case <-ctx.Done():
			}
		}()
	}
	if r.brokerPID != 0 {
		if _, err := ReadProcMemory(r.brokerPID); err != nil {
			return rep, fmt.Errorf("--broker-pid: %w", err)
		}
		r.sampler = StartRSSSampler(r.brokerPID, rssSampleInterval)
		defer r.sampler.Stop()
	}

	if err := r.connect(ctx); err != nil {
		return rep, err
	}
	defer r.admCl.Close()

	cells := cfg.Cells()
	r.logf("kafki-perf: %d cell(s) on %s: %s; %d partitions, linger %s, batch max %d B, %d producer(s) with %d buffered records, compression %s",
		len(cells), rep.Broker, r.phaseText(), cfg.Partitions, cfg.Linger, cfg.BatchMaxBytes, cfg.Producers, cfg.MaxBufferedRecords, cfg.Compression)
	for i, cell := range cells {
		res := r.runCell(ctx, i, len(cells), cell)
		rep.Cells = append(rep.Cells, res)
		if ctx.Err() != nil {
			return rep, fmt.Errorf("cell %s: %w", cell, context.Cause(ctx))
		}
	}
	if r.sampler != nil {
		rep.BrokerPeakRSSBytes = r.sampler.Peak()
		if m, err := ReadProcMemory(r.brokerPID); err == nil {
			rep.BrokerHWMBytes = m.HWM
			rep.BrokerPeakRSSBytes = max(rep.BrokerPeakRSSBytes, m.RSS)
		}
	}
	return rep, nil
}

func (r *runner) phaseText() string {
	if r.cfg.Records > 0 {
		return FormatCount(r.cfg.Records) + " records per cell"
	}
	return fmt.Sprintf("%s per cell after %s warm-up", r.cfg.Duration, r.cfg.Warmup)
}

// connect creates the admin client and checks, within --timeout, that the
// broker answers.
func (r *runner) connect(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.seeds...), kgo.DialTimeout(r.cfg.Timeout), kgo.DisableClientMetrics())
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		if cause := context.Cause(ctx); cause != nil {
			return fmt.Errorf("%w at %s: %w", ErrUnreachable, r.seeds[0], cause)
		}
		return fmt.Errorf("%w at %s within %s: %w", ErrUnreachable, r.seeds[0], r.cfg.Timeout, err)
	}
	r.admCl, r.adm = cl, kadm.NewClient(cl)
	return nil
}

// runCell creates the cell's topic, produces, consumes everything back and
// verifies the count. Failures are recorded in the result.
func (r *runner) runCell(ctx context.Context, i, n int, cell Cell) (res CellResult) {
	label := fmt.Sprintf("[%d/%d %s]", i+1, n, cell)
	res = CellResult{RecordSize: cell.RecordSize, Acks: cell.Acks.String(), BrokerCPUCores: -1}
	res.Topic = "kafki-perf-" + r.runID + "-" + strconv.Itoa(i+1) + "-" + strconv.Itoa(cell.RecordSize) + "b-acks" + cell.Acks.String()
	fail := func(err error) CellResult {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		res.Error = oneLine(err.Error())
		r.logf("%s failed: %s", label, res.Error)
		return res
	}

	if err := r.createTopic(ctx, res.Topic); err != nil {
		return fail(err)
	}
	if !r.cfg.KeepTopics {
		defer r.deleteTopic(ctx, label, res.Topic)
	}
	if r.sampler != nil {
		r.sampler.ResetWindow()
		defer func() { res.BrokerPeakRSSBytes = r.sampler.WindowPeak() }()
	}

	ps, cpu, err := r.produce(ctx, label, cell, res.Topic)
	res.Produce, res.BrokerCPUCores, res.PerfCPUCores = ps, cpu.broker, cpu.self
	if err != nil {
		return fail(err)
	}
	r.logf("%s produced %s records in %.1fs: %s rec/s, %.1f MB/s, latency p50 %s ms, p99 %s ms, p99.9 %s ms, max %s ms",
		label, FormatCount(ps.Records), ps.Seconds, FormatCount(int64(ps.RecordsPerSec)), ps.MBPerSec,
		formatMillis(ps.Latency.P50), formatMillis(ps.Latency.P99), formatMillis(ps.Latency.P999), formatMillis(ps.Latency.Max))

	cs, err := r.consume(ctx, label, res.Topic, ps.TotalAcked)
	res.Consume = cs
	if err != nil {
		return fail(err)
	}
	r.logf("%s consumed %s records in %.1fs: %s rec/s, %.1f MB/s", label, FormatCount(cs.Records), cs.Seconds,
		FormatCount(int64(cs.RecordsPerSec)), cs.MBPerSec)
	return res
}

func (r *runner) createTopic(ctx context.Context, topic string) error {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	resp, err := r.adm.CreateTopic(cctx, int32(r.cfg.Partitions), 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// deleteTopic removes a cell's topic so a long matrix does not fill the
// disk; a failure is only reported.
func (r *runner) deleteTopic(ctx context.Context, label, topic string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout)
	defer cancel()
	resp, err := r.adm.DeleteTopics(cctx, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		r.logf("%s warning: delete topic %s: %v", label, topic, err)
	}
}

// cpuUse is CPU consumption in cores; broker is -1 when unknown.
type cpuUse struct{ broker, self float64 }

// cpuMeter measures the CPU time of the broker (when known) and of this
// process over an interval.
type cpuMeter struct {
	pid          int
	broker, self time.Duration
	brokerOK     bool
	start        time.Time
}

func startCPUMeter(pid int) cpuMeter {
	m := cpuMeter{pid: pid, start: time.Now()}
	m.self, _ = ReadProcCPU(0)
	if pid != 0 {
		var err error
		m.broker, err = ReadProcCPU(pid)
		m.brokerOK = err == nil
	}
	return m
}

func (m cpuMeter) stop() cpuUse {
	elapsed := time.Since(m.start).Seconds()
	use := cpuUse{broker: -1}
	if elapsed <= 0 {
		return use
	}
	if self, err := ReadProcCPU(0); err == nil {
		use.self = (self - m.self).Seconds() / elapsed
	}
	if m.brokerOK {
		if b, err := ReadProcCPU(m.pid); err == nil {
			use.broker = (b - m.broker).Seconds() / elapsed
		}
	}
	return use
}

// produce runs the cell's produce phase: --producers clients flat out, a
// warm-up (duration mode), then the measured window.
func (r *runner) produce(ctx context.Context, label string, cell Cell, topic string) (ProduceStats, cpuUse, error) {
	var stop atomic.Bool
	group := make(producerGroup, 0, r.cfg.Producers)
	defer func() { group.close() }()
	for range r.cfg.Producers {
		p, err := newProducer(r.cfg, r.seeds, topic, cell, &stop)
		if err != nil {
			return ProduceStats{}, cpuUse{broker: -1}, err
		}
		group = append(group, p)
	}

	runErrs := make([]error, len(group))
	var wg sync.WaitGroup
	start := time.Now()
	for i, p := range group {
		limit := int64(0)
		if r.cfg.Records > 0 {
			// Split --records across producers; the first takes the rest.
			limit = r.cfg.Records / int64(len(group))
			if i == 0 {
				limit += r.cfg.Records % int64(len(group))
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runErrs[i] = p.run(ctx, limit)
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	counter := func() (int64, int64) { return group.acked() }
	t0 := start
	var base, baseBytes int64
	if r.cfg.Warmup > 0 {
		done := r.watch(label, "warm-up", counter)
		waitFor(ctx, r.cfg.Warmup, allDone)
		done()
		// The window starts now: figures, latencies and CPU from here on.
		for _, p := range group {
			p.resetHistogram()
		}
		t0 = time.Now()
		base, baseBytes = group.acked()
	}
	meter := startCPUMeter(r.brokerPID)
	done := r.watch(label, "produce", counter)
	if r.cfg.Records == 0 {
		waitFor(ctx, r.cfg.Duration, allDone)
		stop.Store(true)
	}
	<-allDone
	t1 := time.Now()
	done()
	cpu := meter.stop()

	acked, ackedBytes := group.acked()
	elapsed := t1.Sub(t0)
	hist := newLatencyHistogram()
	for _, p := range group {
		p.mergeInto(hist)
	}
	ps := ProduceStats{
		Records:       acked - base,
		Bytes:         ackedBytes - baseBytes,
		Seconds:       elapsed.Seconds(),
		RecordsPerSec: rate(acked-base, elapsed),
		MBPerSec:      rate(ackedBytes-baseBytes, elapsed) / MB,
		Latency: LatencyMicros{
			P50:  hist.ValueAtQuantile(50),
			P99:  hist.ValueAtQuantile(99),
			P999: hist.ValueAtQuantile(99.9),
			Max:  hist.Max(),
		},
		Errors:     group.failed(),
		TotalAcked: acked,
	}
	if err := group.firstErr(); err != nil {
		ps.FirstError = oneLine(err.Error())
	}
	if err := errors.Join(runErrs...); err != nil {
		return ps, cpu, fmt.Errorf("produce: %w", err)
	}
	if ps.Errors > 0 {
		return ps, cpu, fmt.Errorf("%w: %s of %s records failed, first: %s", errProduceFailed,
			FormatCount(ps.Errors), FormatCount(ps.Errors+acked), ps.FirstError)
	}
	return ps, cpu, nil
}

// waitFor waits d, or until done is closed or ctx ends.
func waitFor(ctx context.Context, d time.Duration, done <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	case <-ctx.Done():
	}
}

// consume reads the cell's topic back and checks the count.
func (r *runner) consume(ctx context.Context, label, topic string, acked int64) (ConsumeStats, error) {
	lctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	listed, err := r.adm.ListEndOffsets(lctx, topic)
	cancel()
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return ConsumeStats{Expected: acked}, fmt.Errorf("list end offsets: %w", err)
	}
	ends := map[int32]int64{}
	listed.Each(func(lo kadm.ListedOffset) { ends[lo.Partition] = lo.Offset })

	var counters consumeCounters
	cctx, cancel := context.WithTimeout(ctx, r.cfg.ConsumeTimeout)
	defer cancel()
	done := r.watch(label, "consume", func() (int64, int64) { return counters.records.Load(), counters.bytes.Load() })
	res, err := consumeAll(cctx, r.cfg, r.seeds, topic, ends, &counters)
	done()
	cs := ConsumeStats{
		Records:       res.records,
		Bytes:         res.bytes,
		Seconds:       res.elapsed.Seconds(),
		RecordsPerSec: rate(res.records, res.elapsed),
		MBPerSec:      rate(res.bytes, res.elapsed) / MB,
		Expected:      acked,
	}
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return cs, fmt.Errorf("consume: read %s of %s records within --consume-timeout %s",
			FormatCount(res.records), FormatCount(acked), r.cfg.ConsumeTimeout)
	case err != nil:
		return cs, fmt.Errorf("consume: %w", err)
	case res.records != acked:
		return cs, fmt.Errorf("%w: read back %s records, %s were acknowledged", ErrVerify,
			FormatCount(res.records), FormatCount(acked))
	}
	return cs, nil
}

// watch prints a progress line for phase every --progress-interval until
// the returned function is called (which waits for the printer to stop).
func (r *runner) watch(label, phase string, counter func() (records, bytes int64)) (stop func()) {
	if r.cfg.ProgressInterval <= 0 {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(r.cfg.ProgressInterval)
		defer t.Stop()
		start := time.Now()
		last, lastBytes := counter()
		lastAt := start
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				recs, bytes := counter()
				d := now.Sub(lastAt)
				line := fmt.Sprintf("%s %-7s %5.1fs %12s rec/s %8.1f MB/s", label, phase, now.Sub(start).Seconds(),
					FormatCount(int64(rate(recs-last, d))), rate(bytes-lastBytes, d)/MB)
				if r.sampler != nil {
					if rss := r.sampler.WindowPeak(); rss > 0 {
						line += "  broker RSS " + formatMB(rss) + " MB"
					}
				}
				r.logf("%s", line)
				last, lastBytes, lastAt = recs, bytes, now
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.progress, format+"\n", args...)
}

// syncWriter serialises writes from the progress goroutines and the
// cell's driver.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
