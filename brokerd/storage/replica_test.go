package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
)

// replicaPID is the idempotent producer of the test leader's log.
const replicaPID = 9

// leaderBatch describes one batch the test leader appended.
type leaderBatch struct {
	base, last int64
	epoch      int32 // partition leader epoch
	pid        int64
	seq        int32 // base sequence if pid >= 0
}

// fillLeader appends n batches of 1-3 records with non-monotonic
// timestamps; every third batch comes from idempotent producer replicaPID,
// and the leader epoch rises from 1 to 2 to 4 over the thirds of the log.
func fillLeader(t testing.TB, l *Log, n int) []leaderBatch {
	t.Helper()
	var out []leaderBatch
	seq := int32(0)
	for i := 0; i < n; i++ {
		s := spec{records: 1 + i%3, value: 30 + (i*7)%50, ts: 1000 + int64(i)*10 - int64(i%4)*15, tsStep: 1, pid: -1, seq: -1}
		epoch := int32(1)
		switch {
		case i >= 2*n/3:
			epoch = 4
		case i >= n/3:
			epoch = 2
		}
		if i%3 == 0 {
			s.pid, s.seq = replicaPID, seq
			seq += int32(s.records)
		}
		r := mustAppend(t, l, makeBatch(s), AppendOptions{LeaderEpoch: epoch})
		out = append(out, leaderBatch{base: r.BaseOffset, last: r.LastOffset, epoch: epoch, pid: s.pid, seq: s.seq})
	}
	return out
}

// logBytes reads [from, LogEndOffset) of l as one buffer of batches.
func logBytes(t testing.TB, l *Log, from int64) []byte {
	t.Helper()
	return logBytesBetween(t, l, from, l.LogEndOffset())
}

// logBytesBetween reads the batches of l from offset from up to to.
func logBytesBetween(t testing.TB, l *Log, from, to int64) []byte {
	t.Helper()
	var out []byte
	for off := from; off < to; {
		b, err := l.Read(off, 1<<20, to)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		hs := splitBatches(t, b)
		out = append(out, b...)
		off = hs[len(hs)-1].LastOffset() + 1
	}
	return out
}

// replicate copies the leader's log to the follower as a fetcher would,
// one Read of at most maxBytes per AppendReplica.
func replicate(t testing.TB, leader, follower *Log, maxBytes int) {
	t.Helper()
	for {
		off := follower.LogEndOffset()
		b, err := leader.Read(off, maxBytes, leader.LogEndOffset())
		if err != nil {
			t.Fatalf("leader Read(%d): %v", off, err)
		}
		if len(b) == 0 {
			return
		}
		hs := splitBatches(t, b)
		r, err := follower.AppendReplica(b, false)
		if err != nil {
			t.Fatalf("AppendReplica at %d: %v", off, err)
		}
		if r.BaseOffset != off || r.LastOffset != hs[len(hs)-1].LastOffset() {
			t.Fatalf("AppendReplica at %d: result %+v, batches %d..%d", off, r, off, hs[len(hs)-1].LastOffset())
		}
	}
}

func segmentBases(l *Log) []int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []int64
	for _, s := range l.segments {
		out = append(out, s.base)
	}
	return out
}

// sameLog fails unless a and b hold the same batches, byte for byte, in
// the same segments, with the same leader-epoch history.
func sameLog(t testing.TB, a, b *Log) {
	t.Helper()
	if a.LogStartOffset() != b.LogStartOffset() || a.LogEndOffset() != b.LogEndOffset() {
		t.Fatalf("logs span [%d, %d) and [%d, %d)", a.LogStartOffset(), a.LogEndOffset(), b.LogStartOffset(), b.LogEndOffset())
	}
	if !bytes.Equal(logBytes(t, a, a.LogStartOffset()), logBytes(t, b, b.LogStartOffset())) {
		t.Fatal("logs hold different bytes")
	}
	if sa, sb := segmentBases(a), segmentBases(b); !slices.Equal(sa, sb) {
		t.Fatalf("segments %v and %v", sa, sb)
	}
	if a.LatestEpoch() != b.LatestEpoch() {
		t.Fatalf("latest epochs %d and %d", a.LatestEpoch(), b.LatestEpoch())
	}
	for e := int32(-1); e <= a.LatestEpoch()+1; e++ {
		ea, oa := a.EndOffsetForEpoch(e)
		eb, ob := b.EndOffsetForEpoch(e)
		if ea != eb || oa != ob {
			t.Fatalf("epoch %d ends at (%d, %d) and (%d, %d)", e, ea, oa, eb, ob)
		}
	}
}

// lastIdempotent returns the last batch of replicaPID below end.
func lastIdempotent(bs []leaderBatch, end int64) (leaderBatch, bool) {
	for i := len(bs) - 1; i >= 0; i-- {
		if bs[i].pid == replicaPID && bs[i].last < end {
			return bs[i], true
		}
	}
	return leaderBatch{}, false
}

// idemBatchFor rebuilds b as its producer would retry it.
func idemBatchFor(b leaderBatch) []byte {
	return idem(replicaPID, 0, b.seq, int(b.last-b.base+1))
}

func TestAppendReplicaMatchesLeader(t *testing.T) {
	o := testOptions(newClock(), nil, nil)
	leader := mustOpen(t, t.TempDir(), o)
	defer leader.Close()
	bs := fillLeader(t, leader, 150)
	if leader.NumSegments() < 8 {
		t.Fatalf("leader has only %d segments", leader.NumSegments())
	}

	// One follower fetches like a replica fetcher (a few batches per
	// call, never across a leader segment); the other gets the whole log
	// in one call, so its segments roll in the middle of the input.
	fdir := t.TempDir()
	f1 := mustOpen(t, fdir, o)
	replicate(t, leader, f1, 500)
	f2 := mustOpen(t, t.TempDir(), o)
	defer f2.Close()
	all := logBytes(t, leader, 0)
	r, err := f2.AppendReplica(all, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.BaseOffset != 0 || r.LastOffset != leader.LogEndOffset()-1 || r.Duplicate {
		t.Fatalf("AppendReplica of the whole log: %+v", r)
	}
	sameLog(t, leader, f1)
	sameLog(t, leader, f2)
	if !bytes.Equal(logBytes(t, f2, 0), all) {
		t.Fatal("follower does not return the leader's bytes")
	}
	if e, end := f1.EndOffsetForEpoch(2); e != 2 || end != bs[100].base {
		t.Fatalf("epoch 2 ends at (%d, %d), want (2, %d)", e, end, bs[100].base)
	}

	// The follower survives a restart unchanged.
	if err := f1.Close(); err != nil {
		t.Fatal(err)
	}
	f1 = mustOpen(t, fdir, o)
	defer f1.Close()
	sameLog(t, leader, f1)

	// The follower took over the producer's state: as the new leader it
	// answers a retry with the original offsets and rejects a gap.
	for _, f := range []*Log{f1, f2} {
		last, _ := lastIdempotent(bs, leader.LogEndOffset())
		got := mustAppend(t, f, idemBatchFor(last), AppendOptions{LeaderEpoch: 5})
		if !got.Duplicate || got.BaseOffset != last.base || got.LastOffset != last.last {
			t.Fatalf("retry on the new leader: %+v, original at %d..%d", got, last.base, last.last)
		}
		next := last.seq + int32(last.last-last.base) + 1
		if _, err := f.Append(idem(replicaPID, 0, next+1, 1), AppendOptions{LeaderEpoch: 5}); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("gap on the new leader: %v", err)
		}
		r := mustAppend(t, f, idem(replicaPID, 0, next, 1), AppendOptions{LeaderEpoch: 5})
		if r.Duplicate || r.BaseOffset != leader.LogEndOffset() {
			t.Fatalf("next sequence on the new leader: %+v", r)
		}
		if f.LatestEpoch() != 5 {
			t.Fatalf("latest epoch %d after leading in epoch 5", f.LatestEpoch())
		}
	}
}

func TestAppendReplicaRejects(t *testing.T) {
	o := testOptions(newClock(), nil, nil)
	leader := mustOpen(t, t.TempDir(), o)
	defer leader.Close()
	fillLeader(t, leader, 12)
	all := logBytes(t, leader, 0)
	raw, err := batch.Split(all)
	if err != nil {
		t.Fatal(err)
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	withByte := func(b []byte, i int, v byte) []byte {
		b = bytes.Clone(b)
		b[i] = v
		return b
	}
	withLength := func(b []byte, n int32) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint32(b[8:], uint32(n))
		return b
	}

	f := mustOpen(t, t.TempDir(), o)
	defer f.Close()
	unchanged := func(name string) {
		t.Helper()
		if f.LogEndOffset() != 0 || f.Size() != 0 || f.LatestEpoch() != -1 {
			t.Fatalf("%s: log changed: end %d, size %d, epoch %d", name, f.LogEndOffset(), f.Size(), f.LatestEpoch())
		}
	}
	for _, tc := range []struct {
		name  string
		input []byte
		want  error
	}{
		{"first batch not at log end", cat(raw[1], raw[2]), ErrOffsetMismatch},
		{"gap between batches", cat(raw[0], raw[1], raw[3]), ErrOffsetMismatch},
		{"batch repeated", cat(raw[0], raw[0]), ErrOffsetMismatch},
		{"bad magic", cat(raw[0], withByte(raw[1], 16, 1)), ErrInvalidBatch},
		{"bad crc", cat(raw[0], withByte(raw[1], len(raw[1])-1, raw[1][len(raw[1])-1]^1)), ErrInvalidBatch},
		{"length below header", cat(raw[0], withLength(raw[1], 10)), ErrInvalidBatch},
		{"garbage tail shorter than a header", cat(raw[0], []byte("not a batch at all")), ErrInvalidBatch},
		{"partial tail with bad magic", cat(raw[0], withByte(raw[1], 16, 0)[:30]), ErrInvalidBatch},
		{"zeros", make([]byte, 200), ErrInvalidBatch},
	} {
		r, err := f.AppendReplica(tc.input, false)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		if r.BaseOffset != -1 || r.LastOffset != -1 {
			t.Fatalf("%s: result %+v", tc.name, r)
		}
		unchanged(tc.name)
	}

	// Nothing to append is not an error.
	for name, in := range map[string][]byte{
		"empty":                           nil,
		"only a partial header":           raw[0][:20],
		"only a batch cut in its records": raw[0][:len(raw[0])-1],
	} {
		r, err := f.AppendReplica(in, true)
		if err != nil || r.BaseOffset != -1 || r.LastOffset != -1 {
			t.Fatalf("%s: %+v, %v", name, r, err)
		}
		unchanged(name)
	}

	// A trailing partial batch is dropped, the whole batches before it
	// appended, whatever part of it is present.
	for k, cut := range []int{5, 40, batch.HeaderSize, len(raw[4]) - 1} {
		first, _ := batch.ParseHeader(raw[k])
		r, err := f.AppendReplica(cat(raw[k], raw[k+1][:cut]), false)
		if err != nil {
			t.Fatalf("partial tail of %d bytes: %v", cut, err)
		}
		if r.BaseOffset != first.BaseOffset || r.LastOffset != first.LastOffset() || f.LogEndOffset() != first.LastOffset()+1 {
			t.Fatalf("partial tail of %d bytes: %+v, log end %d", cut, r, f.LogEndOffset())
		}
	}
	// The fetcher then continues from the log end with the whole batch.
	replicate(t, leader, f, 300)
	sameLog(t, leader, f)
}

// checkSegmentLikeFresh compares the last segment of l with that of a log
// built fresh by AppendReplica from the same bytes: indexes and metadata
// must agree, whatever path (truncation, reopen) led to l's state.
func checkSegmentLikeFresh(t *testing.T, l *Log, o Options) {
	t.Helper()
	ref := mustOpen(t, t.TempDir(), o)
	defer ref.Close()
	start := l.LogStartOffset()
	if start > 0 {
		if err := ref.TruncateFullyAndStartAt(start); err != nil {
			t.Fatal(err)
		}
	}
	// Same segment boundaries: a cut at a segment's base keeps that
	// segment (empty), so the log may have rolled where a fresh one would
	// not.
	bases := append(segmentBases(l), l.LogEndOffset())
	for i := 0; i+1 < len(bases); i++ {
		if i > 0 {
			if err := ref.Roll(); err != nil {
				t.Fatal(err)
			}
		}
		if b := logBytesBetween(t, l, bases[i], bases[i+1]); len(b) > 0 {
			if _, err := ref.AppendReplica(b, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	ref.mu.RLock()
	defer ref.mu.RUnlock()
	a, b := l.active(), ref.active()
	if a.base != b.base || a.size != b.size || a.next != b.next || a.lastBatch != b.lastBatch || a.maxTs != b.maxTs || a.sinceIndex != b.sinceIndex {
		t.Fatalf("active segment: base %d size %d next %d last %d maxTs %d since %d; fresh: base %d size %d next %d last %d maxTs %d since %d",
			a.base, a.size, a.next, a.lastBatch, a.maxTs, a.sinceIndex, b.base, b.size, b.next, b.lastBatch, b.maxTs, b.sinceIndex)
	}
	if !bytes.Equal(a.index.buf, b.index.buf) || !bytes.Equal(a.tindex.buf, b.tindex.buf) {
		t.Fatalf("active segment indexes differ from a fresh build: %x/%x vs %x/%x", a.index.buf, a.tindex.buf, b.index.buf, b.tindex.buf)
	}
	if l.size != ref.size || len(l.segments) != len(ref.segments) {
		t.Fatalf("size %d in %d segments, fresh %d in %d", l.size, len(l.segments), ref.size, len(ref.segments))
	}
}

func TestTruncateTo(t *testing.T) {
	o := testOptions(newClock(), nil, nil)
	// The leader's layout decides the cases; every case rebuilds it.
	probe := mustOpen(t, t.TempDir(), o)
	layout := fillLeader(t, probe, 120)
	bases := segmentBases(probe)
	probeEnd := probe.LogEndOffset()
	probe.Close()
	if len(bases) < 10 {
		t.Fatalf("only %d segments", len(bases))
	}
	var inside, mid int64 = -1, -1
	for _, b := range layout {
		if b.base > bases[4] && b.last > b.base && inside < 0 && !slices.Contains(bases, b.base) {
			inside = b.base + 1
		}
		if b.base > bases[6] && b.base < bases[7] && !slices.Contains(bases, b.base) && mid < 0 {
			mid = b.base
		}
	}
	// wantEnd is where a cut at off leaves the log: the base of the batch
	// holding off.
	wantEnd := func(off int64) int64 {
		for _, b := range layout {
			if b.last >= off {
				return b.base
			}
		}
		return probeEnd
	}
	cases := []struct {
		name string
		off  int64
	}{
		{"middle of a segment", mid},
		{"segment boundary", bases[5]},
		{"inside a batch", inside},
		{"across many segments", bases[1] + 1},
		{"last batch", layout[len(layout)-1].base},
		{"everything", 0},
	}
	for _, tc := range cases {
		for _, sealed := range []bool{false, true} {
			name := tc.name + "/pending seals"
			if sealed {
				name = tc.name + "/after reopen"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				l := mustOpen(t, dir, o)
				defer func() { l.Close() }()
				fillLeader(t, l, 120)
				if sealed {
					// Sealed segments with index files and snapshots, as
					// loaded at open.
					l.Close()
					l = mustOpen(t, dir, o)
				}
				before := logBytes(t, l, 0)
				end := wantEnd(tc.off)
				if err := l.TruncateTo(tc.off); err != nil {
					t.Fatal(err)
				}
				checkTruncated(t, l, o, layout, before, end)

				// The cut is where appending continues: the producer's
				// truncated sequences are new again, and later ones roll
				// segments as usual.
				next := int32(0)
				if last, ok := lastIdempotent(layout, end); ok {
					next = last.seq + int32(last.last-last.base) + 1
				}
				r := mustAppend(t, l, idem(replicaPID, 0, next, 2), AppendOptions{LeaderEpoch: 6})
				if r.Duplicate || r.BaseOffset != end {
					t.Fatalf("append after truncation: %+v, want new batch at %d", r, end)
				}
				for i := 0; i < 20; i++ {
					mustAppend(t, l, makeBatch(plain(2, 60, 5000+int64(i))), AppendOptions{LeaderEpoch: 6})
				}
				after := logBytes(t, l, 0)
				checkSegmentLikeFresh(t, l, o)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = mustOpen(t, dir, o)
				if got := logBytes(t, l, 0); !bytes.Equal(got, after) {
					t.Fatalf("reopened log differs: %d bytes, want %d", len(got), len(after))
				}
				wantE, wantEO := layoutEpoch(layout, end), end
				if wantE < 0 {
					wantEO = -1
				}
				if e, eo := l.EndOffsetForEpoch(5); e != wantE || eo != wantEO {
					t.Fatalf("after reopen epoch 5 -> (%d, %d), want (%d, %d)", e, eo, wantE, wantEO)
				}
				if d := mustAppend(t, l, idem(replicaPID, 0, next, 2), AppendOptions{}); !d.Duplicate || d.BaseOffset != end {
					t.Fatalf("retry after reopen: %+v", d)
				}
			})
		}
	}

	t.Run("no-op at or past the end", func(t *testing.T) {
		l := mustOpen(t, t.TempDir(), o)
		defer l.Close()
		fillLeader(t, l, 20)
		before, end := logBytes(t, l, 0), l.LogEndOffset()
		for _, off := range []int64{end, end + 10} {
			if err := l.TruncateTo(off); err != nil {
				t.Fatal(err)
			}
		}
		if l.LogEndOffset() != end || !bytes.Equal(logBytes(t, l, 0), before) {
			t.Fatal("no-op truncation changed the log")
		}
	})
	t.Run("below the log start", func(t *testing.T) {
		l := mustOpen(t, t.TempDir(), o)
		defer l.Close()
		fillLeader(t, l, 60)
		start := segmentBases(l)[2]
		if err := l.DeleteRecordsBefore(start); err != nil {
			t.Fatal(err)
		}
		if err := l.TruncateTo(start - 1); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("truncate below log start: %v", err)
		}
		if err := l.TruncateTo(start); err != nil {
			t.Fatal(err)
		}
		if l.LogStartOffset() != start || l.LogEndOffset() != start || l.NumSegments() != 1 {
			t.Fatalf("truncate to the log start: [%d, %d) in %d segments", l.LogStartOffset(), l.LogEndOffset(), l.NumSegments())
		}
	})
}

// layoutEpoch is the leader epoch of the last batch below end.
func layoutEpoch(layout []leaderBatch, end int64) int32 {
	e := int32(-1)
	for _, b := range layout {
		if b.last < end {
			e = b.epoch
		}
	}
	return e
}

// checkTruncated checks l right after TruncateTo left it ending at end.
func checkTruncated(t *testing.T, l *Log, o Options, layout []leaderBatch, before []byte, end int64) {
	t.Helper()
	if l.LogEndOffset() != end {
		t.Fatalf("log end %d, want %d", l.LogEndOffset(), end)
	}
	got := logBytes(t, l, 0)
	if !bytes.HasPrefix(before, got) {
		t.Fatal("truncated log is not a prefix of the old one")
	}
	if hs := splitBatches(t, got); (len(hs) == 0) != (end == 0) || (len(hs) > 0 && hs[len(hs)-1].LastOffset() != end-1) {
		t.Fatalf("truncated log does not end at %d", end)
	}
	// Every kept offset reads from the batch holding it.
	for _, b := range layout {
		if b.last >= end {
			break
		}
		for _, off := range []int64{b.base, b.last} {
			rb, err := l.Read(off, 1, end)
			if err != nil {
				t.Fatal(err)
			}
			if hs := splitBatches(t, rb); len(hs) != 1 || hs[0].BaseOffset != b.base {
				t.Fatalf("Read(%d) after truncation: %+v", off, hs)
			}
		}
	}
	if r, err := l.Read(end, 1, end+100); r != nil || err != nil {
		t.Fatalf("Read at the new end: %d bytes, %v", len(r), err)
	}
	wantEpoch := layoutEpoch(layout, end)
	if l.LatestEpoch() != wantEpoch {
		t.Fatalf("latest epoch %d, want %d", l.LatestEpoch(), wantEpoch)
	}
	if e, eo := l.EndOffsetForEpoch(10); e != wantEpoch || (wantEpoch >= 0 && eo != end) {
		t.Fatalf("epoch 10 -> (%d, %d), want (%d, %d)", e, eo, wantEpoch, end)
	}
	offs, err := listSnapshots(l.fs, l.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range offs {
		if off > end {
			t.Fatalf("snapshot at %d survives a cut at %d", off, end)
		}
	}
	if n := len(segmentFiles(t, l.dir, logSuffix)); n != l.NumSegments() {
		t.Fatalf("%d segment files for %d segments", n, l.NumSegments())
	}
	checkSegmentLikeFresh(t, l, o)
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	o := testOptions(newClock(), nil, nil)
	for _, start := range []int64{0, 37, 5000} {
		t.Run(fmt.Sprint(start), func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, o)
			defer func() { l.Close() }()
			layout := fillLeader(t, l, 60)
			if err := l.TruncateFullyAndStartAt(start); err != nil {
				t.Fatal(err)
			}
			if l.LogStartOffset() != start || l.LogEndOffset() != start || l.Size() != 0 || l.NumSegments() != 1 || l.LatestEpoch() != -1 {
				t.Fatalf("after restart at %d: [%d, %d), %d bytes, %d segments, epoch %d",
					start, l.LogStartOffset(), l.LogEndOffset(), l.Size(), l.NumSegments(), l.LatestEpoch())
			}
			if files := segmentFiles(t, dir, logSuffix); len(files) != 1 {
				t.Fatalf("segment files %v", files)
			}
			if snaps := segmentFiles(t, dir, snapshotSuffix); len(snaps) != 0 {
				t.Fatalf("snapshots survive: %v", snaps)
			}
			if _, err := l.Read(start-1, 100, start+1); start > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("read below the new start: %v", err)
			}

			// The leader's batches from start on, with the leader's offsets.
			var in []byte
			next := start
			for i := 0; i < 30; i++ {
				b := makeBatch(plain(2, 50, 100+int64(i)))
				batch.SetBaseOffset(b, next)
				batch.SetPartitionLeaderEpoch(b, 7)
				in = append(in, b...)
				next += 2
			}
			r, err := l.AppendReplica(in, false)
			if err != nil || r.BaseOffset != start || r.LastOffset != next-1 {
				t.Fatalf("AppendReplica at %d: %+v, %v", start, r, err)
			}
			// The producer's state is gone: any sequence is accepted.
			last := layout[len(layout)-1]
			for last.pid != replicaPID {
				layout = layout[:len(layout)-1]
				last = layout[len(layout)-1]
			}
			if d := mustAppend(t, l, idemBatchFor(last), AppendOptions{LeaderEpoch: 7}); d.Duplicate || d.BaseOffset != next {
				t.Fatalf("old producer batch after full truncation: %+v", d)
			}
			want := logBytes(t, l, start)
			wantEnd := l.LogEndOffset()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, o)
			if l.LogStartOffset() != start || l.LogEndOffset() != wantEnd || !bytes.Equal(logBytes(t, l, start), want) {
				t.Fatalf("reopened: [%d, %d), want [%d, %d)", l.LogStartOffset(), l.LogEndOffset(), start, wantEnd)
			}
			if e, eo := l.EndOffsetForEpoch(7); e != 7 || eo != wantEnd {
				t.Fatalf("epoch 7 -> (%d, %d) after reopen", e, eo)
			}
			if e, _ := l.EndOffsetForEpoch(6); e != -1 {
				t.Fatalf("epoch history before the restart survives: epoch %d", e)
			}
			if err := l.TruncateTo(start - 1); start > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("TruncateTo below the new start: %v", err)
			}
		})
	}
}

// Reads racing truncations and re-appends return data or an error, never
// a panic or torn batches.
func TestTruncateConcurrentWithReads(t *testing.T) {
	o := testOptions(newClock(), nil, nil)
	leader := mustOpen(t, t.TempDir(), o)
	defer leader.Close()
	fillLeader(t, leader, 80)
	end := leader.LogEndOffset()
	f := mustOpen(t, t.TempDir(), o)
	defer f.Close()
	replicate(t, leader, f, 2000)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(r); ; i += 7 {
				select {
				case <-stop:
					return
				default:
				}
				b, err := f.Read(i%end, 600, end)
				if err != nil {
					if !errors.Is(err, ErrOffsetOutOfRange) {
						t.Errorf("Read: %v", err)
						return
					}
					continue
				}
				it := batch.NewIter(b)
				for it.Next() {
					h, err := batch.ParseHeader(it.Batch())
					if err == nil {
						err = batch.CheckCRC(it.Batch(), &h)
					}
					if err != nil {
						t.Errorf("Read returned a bad batch: %v", err)
						return
					}
				}
				if it.Err() != nil {
					t.Errorf("Read returned torn batches: %v", it.Err())
					return
				}
			}
		}()
	}
	for i := int64(0); i < 40; i++ {
		if err := f.TruncateTo((i * 37) % end); err != nil {
			t.Fatal(err)
		}
		replicate(t, leader, f, 1500)
	}
	close(stop)
	wg.Wait()
	sameLog(t, leader, f)
}

// After a cut the recovery point is no higher than the new end, and data
// appended below the old end is fsynced by the next sync, not taken for
// already flushed.
func TestTruncateToLowersRecoveryPoint(t *testing.T) {
	fsys := newFaultFS()
	o := testOptions(newClock(), nil, fsys)
	dir := t.TempDir()
	l := mustOpen(t, dir, o)
	defer l.Close()
	fillLeader(t, l, 60)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Maintain(); err != nil { // writes the recovery point
		t.Fatal(err)
	}
	cut := segmentBases(l)[2] + 1
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	end := l.LogEndOffset()
	raw, err := readWholeFile(OSFS{}, filepath.Join(dir, recoveryPointFile))
	if err != nil {
		t.Fatal(err)
	}
	if rp, err := decodeRecoveryPoint(raw); err != nil || rp > end {
		t.Fatalf("recovery point %d (%v) above the new end %d", rp, err, end)
	}
	fsys.mu.Lock()
	before := fsys.syncCalls
	fsys.mu.Unlock()
	mustAppend(t, l, makeBatch(plain(1, 10, 1)), AppendOptions{Sync: true})
	fsys.mu.Lock()
	after := fsys.syncCalls
	fsys.mu.Unlock()
	if after == before {
		t.Fatal("Sync after truncation did not fsync the re-appended data")
	}
}

// A failed fsync of the cut segment takes the log offline; reopening
// recovers a prefix of the old log.
func TestTruncateToFsyncError(t *testing.T) {
	fsys := newFaultFS()
	o := testOptions(newClock(), nil, fsys)
	dir := t.TempDir()
	l := mustOpen(t, dir, o)
	fillLeader(t, l, 40)
	before := logBytes(t, l, 0)
	fsys.set(nil, errors.New("disk on fire"))
	if err := l.TruncateTo(10); !errors.Is(err, ErrStorage) {
		t.Fatalf("TruncateTo with failing fsync: %v", err)
	}
	if l.Offline() == nil {
		t.Fatal("log still online")
	}
	if _, err := l.AppendReplica(before[:0:0], false); err != nil {
		t.Fatalf("empty AppendReplica on an offline log: %v", err)
	}
	if _, err := l.Append(makeBatch(plain(1, 1, 1)), AppendOptions{}); !errors.Is(err, ErrStorage) {
		t.Fatalf("Append on the offline log: %v", err)
	}
	l.Close()
	fsys.set(nil, nil)
	l = mustOpen(t, dir, o)
	defer l.Close()
	if got := logBytes(t, l, 0); !bytes.HasPrefix(before, got) {
		t.Fatal("reopened log is not a prefix of the old one")
	}
}
