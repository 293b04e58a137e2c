package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"reflect"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
)

// txnBatch is a transactional batch of n records of 40 bytes.
func txnBatch(pid int64, epoch int16, seq int32, n int) []byte {
	rs := make([]batch.Record, n)
	for i := range rs {
		rs[i] = batch.Record{Value: make([]byte, 40)}
	}
	return batch.Build(rs, batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Transactional: true, BaseTimestamp: 1})
}

func marker(pid int64, epoch int16, t batch.ControlType) []byte {
	return batch.BuildMarker(pid, epoch, t, 3, 1)
}

func TestBuildMarkerParses(t *testing.T) {
	for _, ct := range []batch.ControlType{batch.ControlAbort, batch.ControlCommit} {
		b := marker(9, 2, ct)
		h, err := batch.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := batch.CheckCRC(b, &h); err != nil {
			t.Fatal(err)
		}
		if !h.IsControl() || !h.IsTransactional() || h.ProducerID != 9 || h.ProducerEpoch != 2 || h.BaseSequence != -1 || h.Size() != len(b) {
			t.Fatalf("header %+v", h)
		}
		got, err := batch.ParseControl(b, &h)
		if err != nil || got != ct {
			t.Fatalf("ParseControl = %v, %v; want %v", got, err, ct)
		}
	}
	// A client-style control batch with an unknown type is refused.
	bad := batch.Build([]batch.Record{{Key: []byte{0, 0, 0, 7}}}, batch.BuildOptions{ProducerID: 1, BaseSequence: -1, Control: true, Transactional: true})
	h, _ := batch.ParseHeader(bad)
	if _, err := batch.ParseControl(bad, &h); !errors.Is(err, batch.ErrNotMarker) {
		t.Fatalf("unknown type: %v", err)
	}
	l := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	defer l.Close()
	if _, err := l.Append(bad, AppendOptions{}); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("append of a bad marker: %v", err)
	}
}

// TestTxnLastStableOffset: open transactions pin the first unstable
// offset; commit and abort release it; aborts enter the index.
func TestTxnLastStableOffset(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	defer l.Close()
	if got := l.FirstUnstableOffset(); got != 0 {
		t.Fatalf("empty log: FUO %d", got)
	}
	mustAppend(t, l, idem(5, 0, 0, 2), AppendOptions{}) // idempotent, not transactional
	a1 := mustAppend(t, l, txnBatch(1, 0, 0, 2), AppendOptions{})
	b1 := mustAppend(t, l, txnBatch(2, 0, 0, 1), AppendOptions{})
	mustAppend(t, l, txnBatch(1, 0, 2, 1), AppendOptions{})
	if got := l.FirstUnstableOffset(); got != a1.BaseOffset {
		t.Fatalf("FUO %d, want %d", got, a1.BaseOffset)
	}
	if got := l.LastStableOffset(1); got != 1 {
		t.Fatalf("LSO below the high watermark: %d", got)
	}
	// A non-transactional batch of a producer inside a transaction.
	if _, err := l.Append(idem(1, 0, 3, 1), AppendOptions{}); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("non-transactional batch in a transaction: %v", err)
	}
	// A marker of an older epoch is fenced.
	mustAppend(t, l, txnBatch(3, 4, 0, 1), AppendOptions{})
	if _, err := l.Append(marker(3, 3, batch.ControlCommit), AppendOptions{}); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("stale marker: %v", err)
	}
	mustAppend(t, l, marker(3, 4, batch.ControlCommit), AppendOptions{})

	c1 := mustAppend(t, l, marker(1, 0, batch.ControlCommit), AppendOptions{})
	if got := l.FirstUnstableOffset(); got != b1.BaseOffset {
		t.Fatalf("after commit: FUO %d, want %d", got, b1.BaseOffset)
	}
	// KIP-890 part 2: the marker carries the bumped epoch.
	ab := mustAppend(t, l, marker(2, 1, batch.ControlAbort), AppendOptions{})
	if got, end := l.FirstUnstableOffset(), l.LogEndOffset(); got != end {
		t.Fatalf("all closed: FUO %d, log end %d", got, end)
	}
	want := []AbortedTxn{{ProducerID: 2, FirstOffset: b1.BaseOffset, LastOffset: ab.BaseOffset, LastStableOffset: ab.BaseOffset + 1}}
	if got := l.AbortedTxns(0, l.LogEndOffset()); !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted %+v, want %+v", got, want)
	}
	if got := l.AbortedTxns(ab.BaseOffset+1, l.LogEndOffset()); len(got) != 0 {
		t.Fatalf("after the marker: %+v", got)
	}
	if got := l.AbortedTxns(0, b1.BaseOffset); len(got) != 0 {
		t.Fatalf("before the transaction: %+v", got)
	}
	if _, err := l.Append(txnBatch(2, 0, 1, 1), AppendOptions{}); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch after a bumping marker: %v", err)
	}
	mustAppend(t, l, txnBatch(2, 1, 0, 1), AppendOptions{})
	// A marker with no open transaction is appended and changes nothing.
	mustAppend(t, l, marker(1, 0, batch.ControlAbort), AppendOptions{})
	if n := len(l.AbortedTxns(c1.BaseOffset, l.LogEndOffset())); n != 1 {
		t.Fatalf("%d aborted transactions, want 1", n)
	}
	ps := l.Producers()
	if len(ps) != 4 || ps[1].ProducerID != 2 || ps[1].Epoch != 1 || ps[1].TxnStartOffset < 0 || ps[0].TxnStartOffset != -1 {
		t.Fatalf("producers %+v", ps)
	}
}

// txnWorkload appends interleaved transactions of three producers over
// many small segments, committing and aborting, and leaves producer 3's
// last transaction open.
func txnWorkload(t *testing.T, l *Log) {
	t.Helper()
	seq := map[int64]int32{}
	for round := 0; round < 12; round++ {
		for pid := int64(1); pid <= 3; pid++ {
			mustAppend(t, l, txnBatch(pid, 0, seq[pid], 2), AppendOptions{})
			seq[pid] += 2
		}
		mustAppend(t, l, idem(9, 0, int32(round), 1), AppendOptions{})
		for pid := int64(1); pid <= 3; pid++ {
			if pid == 3 && round == 11 {
				continue
			}
			ct := batch.ControlCommit
			if (round+int(pid))%3 == 0 {
				ct = batch.ControlAbort
			}
			mustAppend(t, l, marker(pid, 0, ct), AppendOptions{})
		}
	}
}

type txnView struct {
	FUO     int64
	Aborted []AbortedTxn
}

func viewTxns(l *Log) txnView {
	return txnView{FUO: l.FirstUnstableOffset(), Aborted: l.AbortedTxns(0, l.LogEndOffset())}
}

func TestTxnStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, dir, o)
	txnWorkload(t, l)
	before := viewTxns(l)
	if len(before.Aborted) < 8 || before.FUO == l.LogEndOffset() || l.NumSegments() < 4 {
		t.Fatalf("workload too small: %+v, %d segments", before, l.NumSegments())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(segmentFiles(t, dir, txnIndexSuffix)) == 0 {
		t.Fatal("no .txnindex written")
	}
	l = mustOpen(t, dir, o)
	defer l.Close()
	if after := viewTxns(l); !reflect.DeepEqual(after, before) {
		t.Fatalf("after restart %+v\nbefore %+v", after, before)
	}
	if !l.HasTransactionalData() {
		t.Fatal("reopened log does not know it has transactional data")
	}
}

// TestTxnRecoveryRebuildsIndex: after a crash, with snapshots and
// .txnindex files lost or damaged, recovery rebuilds the same state.
func TestTxnRecoveryRebuildsIndex(t *testing.T) {
	damage := map[string]func(t *testing.T, dir string){
		"crash only": func(*testing.T, string) {},
		"no snapshots, no txn indexes": func(t *testing.T, dir string) {
			for _, suf := range []string{snapshotSuffix, txnIndexSuffix} {
				for _, f := range segmentFiles(t, dir, suf) {
					if err := removeFile(f); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Without indexes recovery must not trust anything.
			if err := removeFile(dir + "/" + recoveryPointFile); err != nil {
				t.Fatal(err)
			}
		},
		"torn txn index": func(t *testing.T, dir string) {
			fs := segmentFiles(t, dir, txnIndexSuffix)
			if len(fs) == 0 {
				t.Fatal("no txn index to damage")
			}
			if err := os.Truncate(fs[0], txnEntrySize+5); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, hurt := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := newFaultFS()
			o := testOptions(newClock(), nil, fsys)
			l := mustOpen(t, dir, o)
			txnWorkload(t, l)
			if err := l.Maintain(); err != nil { // seals: indexes, snapshots
				t.Fatal(err)
			}
			// More after the last seal, replayed by recovery.
			mustAppend(t, l, txnBatch(4, 0, 0, 1), AppendOptions{})
			mustAppend(t, l, marker(4, 0, batch.ControlAbort), AppendOptions{})
			mustAppend(t, l, txnBatch(4, 0, 1, 1), AppendOptions{})
			before := viewTxns(l)
			fsys.crash()
			hurt(t, dir)
			o.FS = nil
			l = mustOpen(t, dir, o)
			defer l.Close()
			if after := viewTxns(l); !reflect.DeepEqual(after, before) {
				t.Fatalf("after recovery %+v\nbefore %+v", after, before)
			}
		})
	}
}

func TestTxnTruncateReopensTransaction(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	defer l.Close()
	first := mustAppend(t, l, txnBatch(1, 0, 0, 2), AppendOptions{})
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	ab := mustAppend(t, l, marker(1, 0, batch.ControlAbort), AppendOptions{})
	if len(l.AbortedTxns(0, l.LogEndOffset())) != 1 {
		t.Fatal("abort not indexed")
	}
	if err := l.TruncateTo(ab.BaseOffset); err != nil {
		t.Fatal(err)
	}
	if got := l.AbortedTxns(0, l.LogEndOffset()+10); len(got) != 0 {
		t.Fatalf("cut marker still indexed: %+v", got)
	}
	if got := l.FirstUnstableOffset(); got != first.BaseOffset {
		t.Fatalf("FUO after cutting the marker: %d, want %d", got, first.BaseOffset)
	}
}

func TestTxnFollowerCopiesMarkers(t *testing.T) {
	leader := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	defer leader.Close()
	txnWorkload(t, leader)
	follower := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	defer follower.Close()
	for off := int64(0); off < leader.LogEndOffset(); {
		b, err := leader.Read(off, 1<<20, leader.LogEndOffset())
		if err != nil {
			t.Fatal(err)
		}
		res, err := follower.AppendReplica(b, false)
		if err != nil {
			t.Fatal(err)
		}
		off = res.LastOffset + 1
	}
	if got, want := viewTxns(follower), viewTxns(leader); !reflect.DeepEqual(got, want) {
		t.Fatalf("follower %+v\nleader %+v", got, want)
	}
}

// TestSnapshotV1StillRead: a snapshot of the format before transactions
// decodes into the same producer state.
func TestSnapshotV1StillRead(t *testing.T) {
	var b []byte
	b = append(b, snapshotMagicV1...)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint64(b, 42)  // producer id
	b = binary.BigEndian.AppendUint16(b, 3)   // epoch
	b = binary.BigEndian.AppendUint64(b, 777) // last timestamp
	b = append(b, 1)                          // one batch
	b = binary.BigEndian.AppendUint32(b, 10)  // first seq
	b = binary.BigEndian.AppendUint32(b, 12)  // last seq
	b = binary.BigEndian.AppendUint64(b, 100) // first offset
	b = binary.BigEndian.AppendUint64(b, 102) // last offset
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	p, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	e := p[42]
	if e == nil || e.epoch != 3 || e.lastTimestamp != 777 || e.n != 1 || e.ongoing || *e.newest() != (batchMeta{10, 12, 100, 102}) {
		t.Fatalf("decoded %+v", e)
	}
	// And the current format round-trips an open transaction.
	e.ongoing, e.txnFirst = true, 101
	q, err := decodeSnapshot(encodeSnapshot(p))
	if err != nil || !reflect.DeepEqual(q, p) {
		t.Fatalf("round trip: %v %+v", err, q[42])
	}
}

func TestTxnIndexCodecRejectsDamage(t *testing.T) {
	es := []AbortedTxn{{1, 5, 9, 10}, {2, 3, 12, 4}}
	got, err := decodeTxnIndex(encodeTxnIndex(es), 0, 20)
	if err != nil || !reflect.DeepEqual(got, es) {
		t.Fatalf("round trip %+v %v", got, err)
	}
	for name, b := range map[string][]byte{
		"torn":         encodeTxnIndex(es)[:txnEntrySize+1],
		"out of range": encodeTxnIndex([]AbortedTxn{{1, 5, 30, 31}}),
		"out of order": encodeTxnIndex([]AbortedTxn{es[1], es[0]}),
		"first > last": encodeTxnIndex([]AbortedTxn{{1, 10, 9, 10}}),
		"version":      append([]byte{0, 1}, encodeTxnIndex(es[:1])[2:]...),
	} {
		if _, err := decodeTxnIndex(b, 0, 20); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCleanRefusesTransactionalLog: compaction does not know markers, so
// a log with transactional data is left as it is.
func TestCleanRefusesTransactionalLog(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		clock := newClock()
		o := compactTestOptions(clock)
		dir := t.TempDir()
		l := mustOpen(t, dir, o)
		m := model{}
		for i := 0; i < 30; i++ {
			appendKeyed(t, l, m, []kv{{key: []byte("a"), value: []byte("x")}}, 1, batch.BuildOptions{})
		}
		mustAppend(t, l, txnBatch(1, 0, 0, 1), AppendOptions{Sync: true})
		mustAppend(t, l, marker(1, 0, batch.ControlAbort), AppendOptions{Sync: true})
		for i := 0; i < 30; i++ {
			appendKeyed(t, l, m, []kv{{key: []byte("a"), value: []byte("y")}}, 1, batch.BuildOptions{})
		}
		if reopen {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, o)
		}
		size := l.Size()
		st, err := l.Clean(context.Background(), CleanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Cleaned || l.Size() != size {
			t.Fatalf("reopen=%v: cleaned a transactional log: %+v", reopen, st)
		}
		l.Close()
	}
}

// TestTxnOpenInSnapshotOnly: a transaction whose batches are all below
// the producer snapshot the log reopens from (nothing is replayed) still
// holds the last stable offset: the log knows it has transactional data
// from the snapshot alone, which the LSO's fast path relies on.
func TestTxnOpenInSnapshotOnly(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, dir, o)
	mustAppend(t, l, txnBatch(7, 0, 0, 2), AppendOptions{})
	// Enough plain batches to seal the transaction's segment well below
	// the end, where a clean reopen replays nothing.
	for seq := int32(0); l.NumSegments() < 4; seq++ {
		mustAppend(t, l, idem(9, 0, seq, 1), AppendOptions{})
	}
	if got := l.FirstUnstableOffset(); got != 0 {
		t.Fatalf("first unstable %d, want 0", got)
	}
	end := l.LogEndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, o)
	defer l.Close()
	if got := l.FirstUnstableOffset(); got != 0 || l.LogEndOffset() != end {
		t.Fatalf("after reopening: first unstable %d (want 0), end %d (want %d)", got, l.LogEndOffset(), end)
	}
}
