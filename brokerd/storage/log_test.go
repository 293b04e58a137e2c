package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
)

// appendRandom appends n batches of varied sizes and returns their bytes
// by base offset (as stored: base offset rewritten).
func appendRandom(t testing.TB, l *Log, rng *rand.Rand, n int, ts int64, want map[int64][]byte) {
	t.Helper()
	for i := 0; i < n; i++ {
		b := makeBatch(spec{records: 1 + rng.IntN(5), value: rng.IntN(120), ts: ts + int64(i), tsStep: 1, pid: -1, seq: -1})
		r := mustAppend(t, l, b, AppendOptions{})
		if want != nil {
			want[r.BaseOffset] = bytes.Clone(b)
		}
	}
}

func checkLog(t testing.TB, l *Log, want map[int64][]byte) {
	t.Helper()
	got := readAll(t, l)
	if len(got) != len(want) {
		t.Fatalf("log holds %d batches, want %d", len(got), len(want))
	}
	for off, b := range want {
		if !bytes.Equal(got[off], b) {
			t.Fatalf("batch %d differs", off)
		}
	}
}

func TestAppendReadManySegments(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testOptions(newClock(), nil, nil))
	defer l.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[int64][]byte{}
	next := int64(0)
	for i := 0; i < 300; i++ {
		n := 1 + rng.IntN(5)
		b := makeBatch(plain(n, rng.IntN(120), 1000))
		r := mustAppend(t, l, b, AppendOptions{})
		if r.BaseOffset != next || r.LastOffset != next+int64(n)-1 || r.LogAppendTime != -1 {
			t.Fatalf("append %d: got %+v, want base %d", i, r, next)
		}
		want[r.BaseOffset] = bytes.Clone(b)
		next += int64(n)
	}
	if l.LogEndOffset() != next {
		t.Fatalf("LogEndOffset %d, want %d", l.LogEndOffset(), next)
	}
	if l.NumSegments() < 10 {
		t.Fatalf("only %d segments with 1 KiB segments", l.NumSegments())
	}
	checkLog(t, l, want)

	// Every offset reads from the batch that contains it.
	for off := int64(0); off < next; off++ {
		b, err := l.Read(off, 1, next)
		if err != nil {
			t.Fatal(err)
		}
		hs := splitBatches(t, b)
		if len(hs) != 1 || hs[0].BaseOffset > off || hs[0].LastOffset() < off {
			t.Fatalf("Read(%d) returned %+v", off, hs)
		}
	}
	// Segment sizes respect segment.bytes.
	l.mu.RLock()
	for _, s := range l.segments {
		if s.size > 1024 {
			t.Errorf("segment %d has %d bytes", s.base, s.size)
		}
	}
	l.mu.RUnlock()
}

func TestReadBounds(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	o.Config.SegmentBytes = 4096
	l := mustOpen(t, dir, o)
	defer l.Close()
	var sizes []int
	for i := 0; i < 10; i++ {
		b := makeBatch(plain(2, 50, 1))
		sizes = append(sizes, len(b))
		mustAppend(t, l, b, AppendOptions{})
	}
	big := makeBatch(plain(3, 3000, 1)) // larger than maxBytes below
	mustAppend(t, l, big, AppendOptions{})

	t.Run("KIP-74 oversized first batch", func(t *testing.T) {
		b, err := l.Read(20, 100, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if hs := splitBatches(t, b); len(hs) != 1 || hs[0].BaseOffset != 20 || len(b) != len(big) {
			t.Fatalf("got %d bytes %+v", len(b), hs)
		}
		b, _ = l.Read(0, 0, 1000)
		if len(b) != sizes[0] {
			t.Fatalf("maxBytes 0 returned %d bytes, want the first batch (%d)", len(b), sizes[0])
		}
	})
	t.Run("maxBytes stops before the batch that does not fit", func(t *testing.T) {
		b, _ := l.Read(0, sizes[0]*3+sizes[0]/2, 1000)
		if hs := splitBatches(t, b); len(hs) != 3 {
			t.Fatalf("%d batches, want 3", len(hs))
		}
	})
	t.Run("maxOffset", func(t *testing.T) {
		b, _ := l.Read(1, 1<<20, 6)
		hs := splitBatches(t, b)
		if len(hs) != 3 || hs[0].BaseOffset != 0 || hs[2].BaseOffset != 4 {
			t.Fatalf("got %+v", hs)
		}
		if b, err := l.Read(6, 1<<20, 6); b != nil || err != nil {
			t.Fatalf("offset == maxOffset: %d bytes, %v", len(b), err)
		}
	})
	t.Run("end and out of range", func(t *testing.T) {
		end := l.LogEndOffset()
		if b, err := l.Read(end, 1<<20, end+10); b != nil || err != nil {
			t.Fatalf("at log end: %d bytes, %v", len(b), err)
		}
		if _, err := l.Read(end+1, 1<<20, end+10); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("beyond log end: %v", err)
		}
		if _, err := l.Read(-1, 1<<20, end); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("negative: %v", err)
		}
	})
}

func TestReadAtSegmentBoundaries(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	defer l.Close()
	for i := 0; i < 40; i++ {
		mustAppend(t, l, makeBatch(plain(2, 100, 1)), AppendOptions{})
	}
	l.mu.RLock()
	segs := append([]*segment(nil), l.segments...)
	l.mu.RUnlock()
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	for _, s := range segs[1:] {
		// First offset of a segment, last offset of the previous one.
		b, err := l.Read(s.base, 1<<20, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		if hs := splitBatches(t, b); hs[0].BaseOffset != s.base {
			t.Fatalf("Read(%d) starts at %d", s.base, hs[0].BaseOffset)
		}
		b, _ = l.Read(s.base-1, 1<<20, 1<<40)
		hs := splitBatches(t, b)
		if hs[len(hs)-1].LastOffset() != s.base-1 {
			t.Fatalf("Read(%d) crossed into segment %d: %+v", s.base-1, s.base, hs)
		}
	}
}

func TestReopenContinues(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[int64][]byte{}
	appendRandom(t, l, rng, 50, 1, want)
	end := l.LogEndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, o)
	defer l.Close()
	if l.LogEndOffset() != end {
		t.Fatalf("reopened at %d, want %d", l.LogEndOffset(), end)
	}
	r := mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
	if r.BaseOffset != end {
		t.Fatalf("first append after reopen at %d, want %d", r.BaseOffset, end)
	}
	delete(want, -1)
	appendRandom(t, l, rng, 20, 1, want)
	want[end] = makeBatch(plain(1, 1, 1))
	batch.SetBaseOffset(want[end], end)
	checkLog(t, l, want)
}

func TestOptionPermutationsWithReopen(t *testing.T) {
	for _, segBytes := range []int64{300, 1024, 64 << 10} {
		for _, interval := range []int{1, 200, 4096} {
			for _, sync := range []bool{false, true} {
				t.Run(fmt.Sprintf("seg=%d/interval=%d/sync=%v", segBytes, interval, sync), func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					o := testOptions(newClock(), nil, nil)
					o.Config.SegmentBytes = segBytes
					o.Config.IndexIntervalBytes = interval
					rng := rand.New(rand.NewPCG(uint64(segBytes), uint64(interval)))
					want := map[int64][]byte{}
					for cycle := 0; cycle < 4; cycle++ {
						l := mustOpen(t, dir, o)
						checkLog(t, l, want)
						for i := 0; i < 30; i++ {
							b := makeBatch(plain(1+rng.IntN(4), rng.IntN(200), int64(cycle*100+i)))
							r := mustAppend(t, l, b, AppendOptions{Sync: sync && i%7 == 0})
							want[r.BaseOffset] = bytes.Clone(b)
						}
						checkLog(t, l, want)
						if err := l.Close(); err != nil {
							t.Fatal(err)
						}
					}
				})
			}
		}
	}
}

func TestAppendRejectsInvalidBatch(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	defer l.Close()
	b := makeBatch(plain(1, 10, 1))
	if _, err := l.Append(b[:len(b)-1], AppendOptions{}); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("short batch: %v", err)
	}
	if _, err := l.Append(append(b, 0), AppendOptions{}); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("trailing byte: %v", err)
	}
	if l.LogEndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("invalid batches changed the log")
	}
}

func TestLogAppendTime(t *testing.T) {
	clock := newClock()
	l := mustOpen(t, t.TempDir(), testOptions(clock, nil, nil))
	defer l.Close()
	r := mustAppend(t, l, makeBatch(plain(3, 10, 5)), AppendOptions{LogAppendTime: true})
	if r.LogAppendTime != clock.Ms() {
		t.Fatalf("LogAppendTime %d, want %d", r.LogAppendTime, clock.Ms())
	}
	b, _ := l.Read(0, 1<<20, 100)
	h := splitBatches(t, b)[0] // checks the recomputed CRC
	if h.MaxTimestamp != clock.Ms() || h.Attributes&batch.AttrLogAppendTime == 0 {
		t.Fatalf("stored header %+v", h)
	}
	off, ts, ok, err := l.OffsetForTimestamp(clock.Ms())
	if err != nil || !ok || off != 0 || ts != clock.Ms() {
		t.Fatalf("OffsetForTimestamp: %d %d %v %v", off, ts, ok, err)
	}
}

func TestChangedFiresOnAppend(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	ch := l.Changed()
	select {
	case <-ch:
		t.Fatal("Changed closed before any append")
	default:
	}
	done := make(chan int64)
	go func() {
		<-ch
		done <- l.LogEndOffset()
	}()
	mustAppend(t, l, makeBatch(plain(2, 1, 1)), AppendOptions{})
	select {
	case end := <-done:
		if end != 2 {
			t.Fatalf("woken with log end %d", end)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Changed not closed by Append")
	}
	ch = l.Changed()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by Close")
	}
	select {
	case <-l.Changed():
	default:
		t.Fatal("Changed after Close is not closed")
	}
	if _, err := l.Append(makeBatch(plain(1, 1, 1)), AppendOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
}

func TestConcurrentAppendRead(t *testing.T) {
	o := testOptions(newClock(), nil, nil)
	o.Flush.Bytes = 8 << 10
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	const writers, perWriter = 4, 200
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if _, err := l.Append(makeBatch(plain(2, 40, 1)), AppendOptions{Sync: i%50 == 0}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			off := int64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				ch := l.Changed()
				b, err := l.Read(off, 4096, 1<<40)
				if err != nil {
					t.Error(err)
					return
				}
				if len(b) == 0 {
					select {
					case <-ch:
					case <-stop:
						return
					}
					continue
				}
				hs := splitBatches(t, b)
				if hs[0].BaseOffset != off {
					t.Errorf("read at %d got %d", off, hs[0].BaseOffset)
					return
				}
				off = hs[len(hs)-1].LastOffset() + 1
			}
		}()
	}
	maint := make(chan struct{})
	go func() {
		defer close(maint)
		for {
			select {
			case <-stop:
				return
			default:
				if err := l.Maintain(); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond) // pacing only, not synchronisation
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	<-maint
	if got := l.LogEndOffset(); got != writers*perWriter*2 {
		t.Fatalf("log end %d, want %d", got, writers*perWriter*2)
	}
	readAll(t, l)
}
