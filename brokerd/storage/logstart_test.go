package storage

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
)

// logStartFixture opens a log of 4 batches of 5 records each, rolled
// after the second: segments [0, 10) and [10, 20).
func logStartFixture(t *testing.T, dir string, o Options) *Log {
	t.Helper()
	l := mustOpen(t, dir, o)
	for i := range 4 {
		if i == 2 {
			if err := l.Roll(); err != nil {
				t.Fatal(err)
			}
		}
		mustAppend(t, l, makeBatch(spec{records: 5, value: 10, ts: int64(100 * i), tsStep: 1, pid: -1, seq: -1}), AppendOptions{})
	}
	return l
}

// firstBase returns the base offset of the first batch Read returns at off.
func firstBase(t *testing.T, l *Log, off int64) int64 {
	t.Helper()
	b, err := l.Read(off, 1, 1<<62)
	if err != nil {
		t.Fatalf("read at %d: %v", off, err)
	}
	h, err := batch.ParseHeader(b)
	if err != nil {
		t.Fatalf("read at %d: %v", off, err)
	}
	return h.BaseOffset
}

// An advance inside a batch of the first segment sets the start exactly,
// hides what is below it, keeps the segment, and survives a reopen.
func TestAdvanceLogStartInsideSegment(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := logStartFixture(t, dir, o)
	start, err := l.AdvanceLogStart(7)
	if err != nil || start != 7 {
		t.Fatalf("advance to 7: %d, %v", start, err)
	}
	if got := l.LogStartOffset(); got != 7 {
		t.Fatalf("log start %d, want 7", got)
	}
	if l.NumSegments() != 2 {
		t.Fatalf("%d segments, want 2 (the first still holds 7..9)", l.NumSegments())
	}
	if _, err := l.Read(6, 1<<20, 1<<62); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the start: %v, want ErrOffsetOutOfRange", err)
	}
	// As in Kafka, a read at the start returns the batch containing it.
	if base := firstBase(t, l, 7); base != 5 {
		t.Fatalf("read at 7 starts at batch %d, want 5", base)
	}
	// A timestamp lookup does not answer below the start: record 5 has
	// timestamp 100, record 7 has 102.
	if off, ts, ok, err := l.OffsetForTimestamp(100); err != nil || !ok || off != 7 || ts != 102 {
		t.Fatalf("offset for timestamp 100: %d @%d %v %v; want 7 @102", off, ts, ok, err)
	}
	// Backwards is a no-op.
	if start, err := l.AdvanceLogStart(3); err != nil || start != 7 {
		t.Fatalf("advance backwards: %d, %v; want 7, nil", start, err)
	}
	l = reopen(t, l, dir, o)
	defer l.Close()
	wantRange(t, l, 7, 20, "after reopen")
	if _, err := l.Read(6, 1<<20, 1<<62); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the start after reopen: %v", err)
	}
}

// Past a segment's end, the segment is deleted; the active segment is
// kept even when the start reaches the log end; beyond it is refused.
func TestAdvanceLogStartDeletesSegments(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := logStartFixture(t, dir, o)
	defer l.Close()
	if start, err := l.AdvanceLogStart(13); err != nil || start != 13 {
		t.Fatalf("advance to 13: %d, %v", start, err)
	}
	if l.NumSegments() != 1 {
		t.Fatalf("%d segments, want 1", l.NumSegments())
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000000.log")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("first segment file still there: %v", err)
	}
	if _, err := l.AdvanceLogStart(21); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("advance beyond the end: %v, want ErrOffsetOutOfRange", err)
	}
	if l.LogStartOffset() != 13 {
		t.Fatalf("refused advance moved the start to %d", l.LogStartOffset())
	}
	if start, err := l.AdvanceLogStart(20); err != nil || start != 20 {
		t.Fatalf("advance to the end: %d, %v", start, err)
	}
	if l.NumSegments() != 1 || l.LogEndOffset() != 20 {
		t.Fatalf("%d segments, end %d; want the active segment kept, end 20", l.NumSegments(), l.LogEndOffset())
	}
	if b, err := l.Read(20, 1<<20, 1<<62); err != nil || b != nil {
		t.Fatalf("read at the end: %d bytes, %v", len(b), err)
	}
	// Appends continue after it.
	r := mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
	if r.BaseOffset != 20 || r.LogStartOffset != 20 {
		t.Fatalf("append after advance: base %d, log start %d", r.BaseOffset, r.LogStartOffset)
	}
}

// Retention deleting segments keeps a logical start that is higher than
// the new first segment's base, and moves it when it is lower.
func TestRetentionAfterAdvance(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := logStartFixture(t, dir, o)
	if _, err := l.AdvanceLogStart(12); err != nil {
		t.Fatal(err)
	}
	// Keep only the active segment from here on.
	mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{}) // 20
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	cfg := l.Config()
	cfg.RetentionBytes = 0
	l.SetConfig(cfg)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 21 || l.NumSegments() != 1 {
		t.Fatalf("after retention: start %d, %d segments; want 21, 1", l.LogStartOffset(), l.NumSegments())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The checkpoint (12) is stale now, below the first segment: ignored.
	l = mustOpen(t, dir, o)
	defer l.Close()
	if l.LogStartOffset() != 21 {
		t.Fatalf("after reopen: start %d, want 21", l.LogStartOffset())
	}

	// And a logical start above the base of the first segment kept by
	// retention stays.
	dir2 := t.TempDir()
	l2 := logStartFixture(t, dir2, o)
	defer l2.Close()
	mustAppend(t, l2, makeBatch(plain(1, 1, 1)), AppendOptions{}) // 20, in [10, 21)
	if _, err := l2.AdvanceLogStart(15); err != nil {
		t.Fatal(err)
	}
	if err := l2.DeleteRecordsBefore(10); err != nil {
		t.Fatal(err)
	}
	if l2.LogStartOffset() != 15 {
		t.Fatalf("DeleteRecordsBefore lowered the logical start to %d", l2.LogStartOffset())
	}
}

// A damaged checkpoint is ignored with a log line: the log opens at its
// first segment and the file is removed.
func TestLogStartCheckpointIgnored(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"corrupt", []byte("KLS1garbage!")},
		{"bad crc", func() []byte { b := encodeOffsetFile(logStartMagic, 7); b[15] ^= 1; return b }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			logs := &syncBuffer{}
			o := testOptions(newClock(), logs, nil)
			l := logStartFixture(t, dir, o)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, logStartFile), tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, o)
			defer l.Close()
			wantRange(t, l, 0, 20, "opened")
			if !strings.Contains(logs.String(), "log start checkpoint") {
				t.Fatalf("no log line about the checkpoint:\n%s", logs.String())
			}
			if _, err := os.Stat(filepath.Join(dir, logStartFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("bad checkpoint kept: %v", err)
			}
			if base := firstBase(t, l, 0); base != 0 {
				t.Fatalf("read at 0 gives batch %d", base)
			}
		})
	}
}

// A valid checkpoint beyond the recovered log end (an unflushed tail cut
// below a durable DeleteRecords start) restarts the log empty at the
// checkpoint: the deleted records never come back, and appends continue
// from it.
func TestLogStartCheckpointBeyondRecoveredEnd(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	o := testOptions(newClock(), logs, nil)
	l := logStartFixture(t, dir, o)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, logStartFile), encodeOffsetFile(logStartMagic, 99), 0o644); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, o)
	wantRange(t, l, 99, 99, "opened")
	if !strings.Contains(logs.String(), "beyond the recovered log end") {
		t.Fatalf("no log line about the checkpoint:\n%s", logs.String())
	}
	if _, err := l.Read(0, 1<<20, math.MaxInt64); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read at 0: %v, want ErrOffsetOutOfRange", err)
	}
	res := mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
	if res.BaseOffset != 99 {
		t.Fatalf("append after restart at 99 landed at %d", res.BaseOffset)
	}
	l = reopen(t, l, dir, o)
	defer l.Close()
	wantRange(t, l, 99, 100, "reopened")
}

// A truncation below a logical start inside a batch lowers the start to
// the cut, durably; a full truncation forgets it even once the new log
// grows past it.
func TestLogStartFollowsTruncation(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := logStartFixture(t, dir, o)
	if _, err := l.AdvanceLogStart(17); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(17); err != nil { // inside batch [15, 20): cut at 15
		t.Fatal(err)
	}
	wantRange(t, l, 15, 15, "after TruncateTo")
	for range 5 {
		mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
	}
	l = reopen(t, l, dir, o)
	if l.LogStartOffset() != 15 {
		t.Fatalf("after reopen: start %d, want 15 (the lowered checkpoint)", l.LogStartOffset())
	}
	if err := l.TruncateFullyAndStartAt(3); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
	}
	l = reopen(t, l, dir, o)
	defer l.Close()
	wantRange(t, l, 3, 23, "after full truncation and reopen")
}

// reopen closes l and opens its directory again, as a broker restart does.
func reopen(t *testing.T, l *Log, dir string, o Options) *Log {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return mustOpen(t, dir, o)
}

// wantRange fails unless the log holds [start, end).
func wantRange(t *testing.T, l *Log, start, end int64, when string) {
	t.Helper()
	if l.LogStartOffset() != start || l.LogEndOffset() != end {
		t.Fatalf("%s: log is [%d, %d), want [%d, %d)", when, l.LogStartOffset(), l.LogEndOffset(), start, end)
	}
}
