package loadtest

import (
	"fmt"
	"strings"
	"time"
)

// watch prints a progress line every cfg.Progress and, once measuring,
// records a Point per interval for the chart (every second when progress
// lines are off). stop takes the last, partial interval and ends it.
func (r *run) watch() (stop func()) {
	every := r.cfg.Progress
	quiet := every == 0
	if quiet {
		every = time.Second
	}
	started := r.clock.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				r.tick(started, quiet)
				return
			case <-t.C:
				r.tick(started, quiet)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// tick takes one interval from the recorders.
func (r *run) tick(started time.Time, quiet bool) {
	now := r.clock.Now()
	phase := *r.phase.Load()
	if !r.measured.Load() {
		if !quiet {
			fmt.Fprintf(r.out, "%s%5.0fs  %-9s produced %d, read %d\n", r.prefix(), now.Sub(started).Seconds(), phase, r.prod.AllRecords(), r.cons.AllRecords())
		}
		return
	}
	pt := Point{Produce: r.prod.Interval(), Consume: r.cons.Interval()}
	r.mu.Lock()
	pt.T = now.Sub(r.measureStart).Seconds()
	pt.Seconds = now.Sub(r.lastTick).Seconds()
	r.lastTick = now
	if pt.Seconds > 0.05 {
		r.series = append(r.series, pt)
	}
	r.mu.Unlock()
	if quiet || pt.Seconds <= 0.05 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%5.0fs  %-9s", r.prefix(), now.Sub(started).Seconds(), phase)
	if r.cfg.Workload != WorkloadConsume {
		writeSide(&b, "produce", pt.Produce, pt.Seconds, true)
	}
	if r.cfg.Workload != WorkloadProduce {
		name := "consume"
		if r.cfg.Workload == WorkloadE2E {
			name = "e2e"
		}
		writeSide(&b, name, pt.Consume, pt.Seconds, r.cfg.Workload == WorkloadE2E)
	}
	b.WriteByte('\n')
	fmt.Fprint(r.out, b.String())
}

func (r *run) prefix() string {
	if r.cfg.Label == "" {
		return ""
	}
	return "[" + r.cfg.Label + " " + r.cfg.Workload + "] "
}

func writeSide(b *strings.Builder, name string, s IntervalStats, secs float64, latency bool) {
	fmt.Fprintf(b, "  %s %9.0f rec/s %7.1f MB/s", name, float64(s.Records)/secs, float64(s.Bytes)/1e6/secs)
	if latency {
		if s.Latency.Count > 0 {
			fmt.Fprintf(b, " p50 %s p99 %s p99.9 %s ms", ms(s.Latency.P50), ms(s.Latency.P99), ms(s.Latency.P999))
		} else {
			b.WriteString(" p50 - p99 - p99.9 - ms")
		}
	}
	fmt.Fprintf(b, " err %d", s.Errors)
}
