package storage

import (
	"errors"
	"testing"
	"time"
)

func TestRollBySize(t *testing.T) {
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	b := makeBatch(plain(1, 100, 1))
	per := int(o.Config.SegmentBytes) / len(b) // batches that fit exactly
	for i := 0; i < per; i++ {
		mustAppend(t, l, makeBatch(plain(1, 100, 1)), AppendOptions{})
	}
	if l.NumSegments() != 1 {
		t.Fatalf("rolled before the segment was full: %d segments", l.NumSegments())
	}
	mustAppend(t, l, makeBatch(plain(1, 100, 1)), AppendOptions{})
	if l.NumSegments() != 2 {
		t.Fatalf("did not roll when the next batch would exceed segment.bytes")
	}
	// A batch larger than segment.bytes goes in alone.
	huge := makeBatch(plain(1, 3000, 1))
	r := mustAppend(t, l, huge, AppendOptions{})
	mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
	if l.NumSegments() != 4 {
		t.Fatalf("%d segments, want the huge batch alone in the third", l.NumSegments())
	}
	l.mu.RLock()
	s := l.segments[2]
	l.mu.RUnlock()
	if s.base != r.BaseOffset || s.size != int64(len(huge)) {
		t.Fatalf("huge segment base %d size %d", s.base, s.size)
	}
}

func TestRollByAge(t *testing.T) {
	clock := newClock()
	o := testOptions(clock, nil, nil)
	o.Config.SegmentBytes = 1 << 20
	o.Config.SegmentMs = time.Hour
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	mustAppend(t, l, makeBatch(plain(1, 1, clock.Ms())), AppendOptions{})
	clock.Advance(time.Hour)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != 1 {
		t.Fatalf("rolled at exactly segment.ms")
	}
	clock.Advance(time.Millisecond)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != 2 {
		t.Fatalf("Maintain did not roll an old segment")
	}
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != 2 {
		t.Fatalf("rolled an empty segment")
	}
	// The next append also rolls by age.
	mustAppend(t, l, makeBatch(plain(1, 1, clock.Ms())), AppendOptions{})
	clock.Advance(2 * time.Hour)
	r := mustAppend(t, l, makeBatch(plain(1, 1, clock.Ms())), AppendOptions{})
	if l.NumSegments() != 3 {
		t.Fatalf("append did not roll an old segment: %d", l.NumSegments())
	}
	l.mu.RLock()
	base := l.active().base
	l.mu.RUnlock()
	if base != r.BaseOffset {
		t.Fatalf("new segment base %d, want %d", base, r.BaseOffset)
	}
}

func TestRetentionByBytes(t *testing.T) {
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	for i := 0; i < 100; i++ {
		mustAppend(t, l, makeBatch(plain(2, 100, 1)), AppendOptions{})
	}
	segs := l.NumSegments()
	c := l.Config()
	c.RetentionBytes = 3000
	l.SetConfig(c)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.Size() < 3000 || l.Size()-3000 >= 1024 {
		t.Fatalf("size %d after retention.bytes 3000 (segments of 1 KiB)", l.Size())
	}
	if l.NumSegments() >= segs {
		t.Fatalf("no segment deleted")
	}
	start := l.LogStartOffset()
	l.mu.RLock()
	first := l.segments[0].base
	l.mu.RUnlock()
	if start == 0 || start != first {
		t.Fatalf("log start %d, first segment %d", start, first)
	}
	if _, err := l.Read(start-1, 100, 1<<40); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	if b, err := l.Read(start, 100, 1<<40); err != nil || len(b) == 0 {
		t.Fatalf("read at log start: %v", err)
	}
	r := mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
	if r.LogStartOffset != start {
		t.Fatalf("AppendResult.LogStartOffset %d, want %d", r.LogStartOffset, start)
	}
	if n := len(segmentFiles(t, l.dir, logSuffix)); n != l.NumSegments() {
		t.Fatalf("%d log files for %d segments", n, l.NumSegments())
	}
	// Log start survives reopen.
	dir := l.dir
	l.Close()
	l2 := mustOpen(t, dir, o)
	defer l2.Close()
	if l2.LogStartOffset() != start {
		t.Fatalf("reopened log start %d, want %d", l2.LogStartOffset(), start)
	}
	readAll(t, l2)
}

func TestRetentionByTime(t *testing.T) {
	clock := newClock()
	o := testOptions(clock, nil, nil)
	o.Config.RetentionMs = time.Hour
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	// Old records, then new ones, each group filling segments.
	for i := 0; i < 30; i++ {
		mustAppend(t, l, makeBatch(plain(1, 100, clock.Ms()-2*time.Hour.Milliseconds())), AppendOptions{})
	}
	l.mu.RLock()
	oldEnd := l.logEnd
	l.mu.RUnlock()
	// Roll so that the boundary between old and new is a segment edge.
	clock.Advance(time.Second)
	o.Config.SegmentMs = time.Millisecond
	l.SetConfig(o.Config)
	l.Maintain()
	o.Config.SegmentMs = 0
	l.SetConfig(o.Config)
	for i := 0; i < 30; i++ {
		mustAppend(t, l, makeBatch(plain(1, 100, clock.Ms())), AppendOptions{})
	}
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != oldEnd {
		t.Fatalf("log start %d, want %d (the first recent record)", l.LogStartOffset(), oldEnd)
	}
	// Everything expires: the active segment is rolled and deleted too.
	clock.Advance(2 * time.Hour)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	end := l.LogEndOffset()
	if l.LogStartOffset() != end || l.NumSegments() != 1 || l.Size() != 0 {
		t.Fatalf("after full expiry: start %d end %d segments %d size %d", l.LogStartOffset(), end, l.NumSegments(), l.Size())
	}
	if b, err := l.Read(end, 100, 1<<40); b != nil || err != nil {
		t.Fatalf("read at end of empty log: %v", err)
	}
	r := mustAppend(t, l, makeBatch(plain(1, 1, clock.Ms())), AppendOptions{})
	if r.BaseOffset != end {
		t.Fatalf("offsets restarted: %d, want %d", r.BaseOffset, end)
	}
	dir := l.dir
	l.Close()
	l = mustOpen(t, dir, o)
	defer l.Close()
	if l.LogStartOffset() != end || l.LogEndOffset() != end+1 {
		t.Fatalf("reopened: [%d,%d), want [%d,%d)", l.LogStartOffset(), l.LogEndOffset(), end, end+1)
	}
}

func TestRetentionUnlimitedKeepsEverything(t *testing.T) {
	clock := newClock()
	o := testOptions(clock, nil, nil)
	o.Config.RetentionBytes, o.Config.RetentionMs = -1, -1
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	for i := 0; i < 40; i++ {
		mustAppend(t, l, makeBatch(plain(1, 100, 0)), AppendOptions{})
	}
	clock.Advance(1000 * time.Hour)
	l.Maintain()
	if l.LogStartOffset() != 0 {
		t.Fatalf("unlimited retention deleted data")
	}
}

func TestIntervalFlush(t *testing.T) {
	clock := newClock()
	fsys := newFaultFS()
	o := testOptions(clock, nil, fsys)
	o.Config.SegmentBytes = 1 << 20
	o.Flush.Interval = time.Second
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
	count := func() int { fsys.mu.Lock(); defer fsys.mu.Unlock(); return fsys.syncCalls }
	before := count()
	l.Maintain()
	if count() != before {
		t.Fatalf("flushed before the interval")
	}
	clock.Advance(time.Second)
	l.Maintain()
	if count() == before {
		t.Fatalf("no flush after the interval")
	}
	l.mu.RLock()
	flushed := l.flushed
	l.mu.RUnlock()
	if flushed != 1 {
		t.Fatalf("recovery point %d, want 1", flushed)
	}
}

func TestFlushBytesPolicy(t *testing.T) {
	fsys := newFaultFS()
	o := testOptions(newClock(), nil, fsys)
	o.Config.SegmentBytes = 1 << 20
	b := makeBatch(plain(1, 100, 1))
	o.Flush.Bytes = int64(3 * len(b))
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	count := func() int { fsys.mu.Lock(); defer fsys.mu.Unlock(); return fsys.syncCalls }
	// The first append also records leader epoch 0 in the epoch
	// checkpoint (an fsynced file); count from after it.
	mustAppend(t, l, makeBatch(plain(1, 100, 1)), AppendOptions{})
	before := count()
	mustAppend(t, l, makeBatch(plain(1, 100, 1)), AppendOptions{})
	if count() != before {
		t.Fatalf("synced below the byte threshold")
	}
	mustAppend(t, l, makeBatch(plain(1, 100, 1)), AppendOptions{})
	if count() == before {
		t.Fatalf("no sync at the byte threshold")
	}
}
