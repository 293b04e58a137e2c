package cleaner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/storage"
)

// fakeLog is a Log whose dirtiness the test sets; Clean records calls.
type fakeLog struct {
	mu     sync.Mutex
	cfg    storage.Config
	state  storage.CleanState
	cleans []storage.CleanOptions
	err    error
	io     int // bytes Clean reports to the throttle
}

func (f *fakeLog) Config() storage.Config { f.mu.Lock(); defer f.mu.Unlock(); return f.cfg }

func (f *fakeLog) Cleanable() storage.CleanState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *fakeLog) Clean(ctx context.Context, o storage.CleanOptions) (storage.CleanStats, error) {
	f.mu.Lock()
	f.cleans = append(f.cleans, o)
	err, n := f.err, f.io
	f.state = storage.CleanState{CleanBytes: f.state.CleanBytes + f.state.DirtyBytes}
	f.mu.Unlock()
	if err != nil {
		return storage.CleanStats{}, err
	}
	if n > 0 && o.Throttle != nil {
		if err := o.Throttle(ctx, n); err != nil {
			return storage.CleanStats{}, err
		}
	}
	return storage.CleanStats{Cleaned: true, BytesRead: int64(n)}, nil
}

func compacted(ratio float64, st storage.CleanState) *fakeLog {
	cfg := storage.DefaultConfig()
	cfg.Compact, cfg.MinCleanableRatio = true, ratio
	return &fakeLog{cfg: cfg, state: st}
}

func newTest(parts []Partition, o Options) *Cleaner {
	o.Partitions = func() []Partition { return parts }
	o.Logger = slog.New(slog.DiscardHandler)
	if o.DedupeBufferSize == 0 {
		o.DedupeBufferSize = 24 << 10
	}
	return New(o)
}

func TestPickDirtiestAboveThresholdDueFirst(t *testing.T) {
	low := compacted(0.5, storage.CleanState{CleanBytes: 90, DirtyBytes: 10, Ratio: 0.1})
	mid := compacted(0.5, storage.CleanState{CleanBytes: 40, DirtyBytes: 60, Ratio: 0.6})
	high := compacted(0.5, storage.CleanState{CleanBytes: 10, DirtyBytes: 90, Ratio: 0.9})
	due := compacted(0.5, storage.CleanState{CleanBytes: 95, DirtyBytes: 5, Ratio: 0.05, Due: true})
	notCompacted := &fakeLog{cfg: storage.DefaultConfig(), state: storage.CleanState{DirtyBytes: 100, Ratio: 1}}
	logs := map[string]*fakeLog{"low": low, "mid": mid, "high": high, "due": due, "plain": notCompacted}
	var parts []Partition
	for name, l := range logs {
		parts = append(parts, Partition{name, 0, l})
	}
	c := newTest(parts, Options{Threads: 2})
	var order []string
	for c.CleanOnce(context.Background()) {
		for name, l := range logs {
			if len(l.cleans) > countIn(order, name) {
				order = append(order, name)
			}
		}
		if len(order) > 10 {
			t.Fatal("cleaning never stops")
		}
	}
	want := []string{"due", "high", "mid"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("cleaned %v, want %v (low is below its ratio, plain is not compacted)", order, want)
	}
	// Two threads share the dedupe buffer: 24 KiB / 2 / 24 bytes.
	if got := high.cleans[0].MaxKeys; got != 512 {
		t.Fatalf("offset map of %d keys, want 512", got)
	}
	stats := c.Stats()
	if len(stats) != 4 {
		t.Fatalf("stats for %d partitions, want the 4 compacted ones", len(stats))
	}
	for _, s := range stats {
		if cleaned := s.Topic != "low"; cleaned == s.LastClean.IsZero() {
			t.Fatalf("%s: last clean %v", s.Topic, s.LastClean)
		}
	}
}

func TestFailedCleanIsRetriedNotFatal(t *testing.T) {
	l := compacted(0.1, storage.CleanState{DirtyBytes: 10, Ratio: 1})
	l.err = errors.New("injected: disk on fire")
	c := newTest([]Partition{{"t", 0, l}}, Options{})
	if c.CleanOnce(context.Background()) {
		t.Fatal("a failed pass reported as cleaned")
	}
	l.mu.Lock()
	l.err = nil
	l.state = storage.CleanState{DirtyBytes: 10, Ratio: 1}
	l.mu.Unlock()
	if !c.CleanOnce(context.Background()) {
		t.Fatal("partition not retried after a failed pass")
	}
}

func TestThrottleBoundsRate(t *testing.T) {
	l := compacted(0.1, storage.CleanState{DirtyBytes: 10, Ratio: 1})
	l.io = 200 << 10
	// 1 MiB/s with a 100 KiB burst: 200 KiB takes at least ~100 ms.
	c := newTest([]Partition{{"t", 0, l}}, Options{IOMaxBytesPerSecond: 1 << 20})
	start := time.Now()
	if !c.CleanOnce(context.Background()) {
		t.Fatal("not cleaned")
	}
	if took := time.Since(start); took < 80*time.Millisecond {
		t.Fatalf("200 KiB at 1 MiB/s took %v", took)
	}
	// A cancelled context stops a throttled pass.
	l.mu.Lock()
	l.state = storage.CleanState{DirtyBytes: 10, Ratio: 1}
	l.io = 10 << 20
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if c.CleanOnce(ctx) {
		t.Fatal("a pass throttled past its context's end reported success")
	}
}

func TestRunStopsWithContext(t *testing.T) {
	l := compacted(0.1, storage.CleanState{})
	c := newTest([]Partition{{"t", 0, l}}, Options{Threads: 3, Backoff: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func countIn(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
