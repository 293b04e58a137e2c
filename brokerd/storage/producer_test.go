package storage

import (
	"errors"
	"math"
	"testing"
	"time"
)

func idem(pid int64, epoch int16, seq int32, records int) []byte {
	return makeBatch(spec{records: records, value: 10, ts: 1, pid: pid, epoch: epoch, seq: seq})
}

func TestIdempotentProducer(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, dir, o)
	defer func() { l.Close() }()

	first := mustAppend(t, l, idem(7, 0, 0, 3), AppendOptions{})  // seq 0..2
	second := mustAppend(t, l, idem(7, 0, 3, 2), AppendOptions{}) // seq 3..4
	end := l.LogEndOffset()

	t.Run("duplicate returns original offsets", func(t *testing.T) {
		r := mustAppend(t, l, idem(7, 0, 0, 3), AppendOptions{})
		if !r.Duplicate || r.BaseOffset != first.BaseOffset || r.LastOffset != first.LastOffset {
			t.Fatalf("retry: %+v, original %+v", r, first)
		}
		r = mustAppend(t, l, idem(7, 0, 3, 2), AppendOptions{})
		if !r.Duplicate || r.BaseOffset != second.BaseOffset {
			t.Fatalf("retry of second: %+v", r)
		}
		if l.LogEndOffset() != end {
			t.Fatalf("duplicate was written")
		}
	})
	t.Run("out of order", func(t *testing.T) {
		if _, err := l.Append(idem(7, 0, 6, 1), AppendOptions{}); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("gap: %v", err)
		}
		if _, err := l.Append(idem(7, 0, 1, 2), AppendOptions{}); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("overlap: %v", err)
		}
	})
	t.Run("epochs", func(t *testing.T) {
		if _, err := l.Append(idem(7, 1, 5, 1), AppendOptions{}); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("new epoch not at 0: %v", err)
		}
		mustAppend(t, l, idem(7, 1, 0, 1), AppendOptions{})
		if _, err := l.Append(idem(7, 0, 5, 1), AppendOptions{}); !errors.Is(err, ErrInvalidProducerEpoch) {
			t.Fatalf("stale epoch: %v", err)
		}
	})
	t.Run("unknown producer accepted at any sequence", func(t *testing.T) {
		mustAppend(t, l, idem(8, 3, 42, 1), AppendOptions{})
		mustAppend(t, l, idem(8, 3, 43, 1), AppendOptions{})
	})
	t.Run("only the last five batches are remembered", func(t *testing.T) {
		var rs []AppendResult
		for i := int32(0); i < 7; i++ {
			rs = append(rs, mustAppend(t, l, idem(9, 0, i, 1), AppendOptions{}))
		}
		if r := mustAppend(t, l, idem(9, 0, 2, 1), AppendOptions{}); !r.Duplicate || r.BaseOffset != rs[2].BaseOffset {
			t.Fatalf("fifth-newest retry: %+v", r)
		}
		if _, err := l.Append(idem(9, 0, 1, 1), AppendOptions{}); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("retry older than the window: %v", err)
		}
	})
	t.Run("sequence wraps at MaxInt32", func(t *testing.T) {
		mustAppend(t, l, idem(10, 0, math.MaxInt32-1, 2), AppendOptions{})
		mustAppend(t, l, idem(10, 0, 0, 1), AppendOptions{})
	})
	t.Run("batches without producer id skip checks", func(t *testing.T) {
		a := mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
		b := mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{})
		if a.Duplicate || b.Duplicate || b.BaseOffset != a.BaseOffset+1 {
			t.Fatalf("plain batches: %+v %+v", a, b)
		}
	})
}

// checkProducerState asserts the state written by fillProducers.
func checkProducerState(t *testing.T, l *Log, firsts map[int64]AppendResult) {
	t.Helper()
	for pid, r := range firsts {
		// The last batch of each producer is a duplicate now.
		got := mustAppend(t, l, idem(pid, 2, 10, 1), AppendOptions{})
		if !got.Duplicate || got.BaseOffset != r.BaseOffset {
			t.Fatalf("producer %d: retry after reopen %+v, original %+v", pid, got, r)
		}
		if _, err := l.Append(idem(pid, 2, 13, 1), AppendOptions{}); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("producer %d: gap after reopen: %v", pid, err)
		}
		if _, err := l.Append(idem(pid, 1, 0, 1), AppendOptions{}); !errors.Is(err, ErrInvalidProducerEpoch) {
			t.Fatalf("producer %d: stale epoch after reopen: %v", pid, err)
		}
	}
}

// fillProducers appends, over many segments, batches of several
// producers ending with (epoch 2, seq 10), and returns those last appends.
func fillProducers(t *testing.T, l *Log) map[int64]AppendResult {
	last := map[int64]AppendResult{}
	for pid := int64(100); pid < 104; pid++ {
		for seq := int32(0); seq < 10; seq++ {
			mustAppend(t, l, makeBatch(spec{records: 1, value: 200, pid: pid, epoch: 2, seq: seq}), AppendOptions{})
		}
	}
	for pid := int64(100); pid < 104; pid++ {
		last[pid] = mustAppend(t, l, idem(pid, 2, 10, 1), AppendOptions{})
	}
	return last
}

func TestProducerStateSurvivesClose(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, dir, o)
	last := fillProducers(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, o)
	defer l.Close()
	checkProducerState(t, l, last)
}

func TestProducerStateSurvivesCrash(t *testing.T) {
	for _, snapshots := range []bool{true, false} {
		name := "snapshot+replay"
		if !snapshots {
			name = "no snapshots, full replay"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := newFaultFS()
			o := testOptions(newClock(), nil, fsys)
			l := mustOpen(t, dir, o)
			last := fillProducers(t, l)
			if err := l.Maintain(); err != nil { // seals: snapshots, checkpoint
				t.Fatal(err)
			}
			// More batches after the last snapshot, to be replayed.
			for pid := int64(100); pid < 104; pid++ {
				last[pid] = mustAppend(t, l, idem(pid, 2, 11, 1), AppendOptions{})
			}
			fsys.crash()
			if n := len(segmentFiles(t, dir, snapshotSuffix)); n == 0 {
				t.Fatalf("no snapshot written at rolls")
			}
			if !snapshots {
				for _, f := range segmentFiles(t, dir, snapshotSuffix) {
					if err := removeFile(f); err != nil {
						t.Fatal(err)
					}
				}
			}
			o.FS = nil
			l = mustOpen(t, dir, o)
			defer l.Close()
			for pid, r := range last {
				got := mustAppend(t, l, idem(pid, 2, 11, 1), AppendOptions{})
				if !got.Duplicate || got.BaseOffset != r.BaseOffset {
					t.Fatalf("producer %d: retry after crash %+v, original %+v", pid, got, r)
				}
				if _, err := l.Append(idem(pid, 2, 13, 1), AppendOptions{}); !errors.Is(err, ErrOutOfOrderSequence) {
					t.Fatalf("producer %d: gap after crash: %v", pid, err)
				}
			}
		})
	}
}

func TestProducerExpiration(t *testing.T) {
	clock := newClock()
	o := testOptions(clock, nil, nil)
	o.ProducerExpiration = time2h
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	mustAppend(t, l, makeBatch(spec{records: 1, ts: clock.Ms(), pid: 5, epoch: 0, seq: 0}), AppendOptions{})
	clock.Advance(time2h + time.Millisecond)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	// Forgotten: any sequence is accepted again, and no duplicate found.
	r := mustAppend(t, l, makeBatch(spec{records: 1, ts: clock.Ms(), pid: 5, epoch: 0, seq: 0}), AppendOptions{})
	if r.Duplicate {
		t.Fatalf("expired producer still deduplicated")
	}
}

func TestSnapshotCodec(t *testing.T) {
	p := producers{}
	for i := int32(0); i < 8; i++ {
		p.update(hdr(3, 1, i*2, 1, int64(i*2)), 0)
	}
	p.update(hdr(4, 0, 0, 0, 100), 0)
	b := encodeSnapshot(p)
	q, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(encodeSnapshot(q)) != string(b) {
		t.Fatalf("round trip differs")
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		if _, err := decodeSnapshot(c); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
		if _, err := decodeSnapshot(b[:i]); err == nil {
			t.Fatalf("truncation to %d accepted", i)
		}
	}
}
