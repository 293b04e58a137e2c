package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
)

// kv is one record of a compaction test: a nil value is a tombstone.
type kv struct {
	key, value []byte
}

func krec(key string, value *string) kv {
	r := kv{key: []byte(key)}
	if value != nil {
		r.value = []byte(*value)
	}
	return r
}

func strp(s string) *string { return &s }

// keyedBatch encodes records as one batch.
func keyedBatch(recs []kv, ts int64, o batch.BuildOptions) []byte {
	rs := make([]batch.Record, len(recs))
	for i, r := range recs {
		rs[i] = batch.Record{Key: r.key, Value: r.value}
	}
	o.BaseTimestamp = ts
	return batch.Build(rs, o)
}

// model is every record appended, by offset.
type model map[int64]kv

// compactTestOptions: compacted, small segments, fsync on every append so
// every closed segment is cleanable.
func compactTestOptions(clock *fakeClock) Options {
	o := testOptions(clock, nil, nil)
	o.Config.Compact = true
	o.Config.NoRetention = true
	o.Config.SegmentBytes = 600
	o.Config.IndexIntervalBytes = 100
	o.Config.DeleteRetention = time.Hour
	return o
}

// appendKeyed appends one batch and records it in m.
func appendKeyed(t *testing.T, l *Log, m model, recs []kv, ts int64, o batch.BuildOptions) AppendResult {
	t.Helper()
	res := mustAppend(t, l, keyedBatch(recs, ts, o), AppendOptions{Sync: true})
	for i, r := range recs {
		m[res.BaseOffset+int64(i)] = r
	}
	return res
}

// readRecords reads the whole log through Read, gaps included, checking
// each batch's CRC, and returns its records by offset.
func readRecords(t *testing.T, l *Log) (model, []batch.Header) {
	t.Helper()
	out := model{}
	var hs []batch.Header
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		b, err := l.Read(off, 1<<20, l.LogEndOffset())
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(b) == 0 {
			t.Fatalf("Read(%d) returned nothing before the log end %d", off, l.LogEndOffset())
		}
		for len(b) > 0 {
			h, err := batch.ParseHeader(b)
			if err != nil {
				t.Fatalf("batch at %d: %v", off, err)
			}
			if err := batch.CheckCRC(b, &h); err != nil {
				t.Fatalf("batch at %d: %v", h.BaseOffset, err)
			}
			if h.LastOffset() < off {
				t.Fatalf("Read(%d) returned batch %d..%d", off, h.BaseOffset, h.LastOffset())
			}
			recs, err := batch.Records(b, &h, batch.DecodeOptions{})
			if err != nil {
				t.Fatalf("records of batch %d: %v", h.BaseOffset, err)
			}
			for _, r := range recs {
				o := h.BaseOffset + int64(r.OffsetDelta)
				if o > h.LastOffset() {
					t.Fatalf("record offset %d beyond batch %d..%d", o, h.BaseOffset, h.LastOffset())
				}
				out[o] = kv{key: r.Key, value: r.Value}
			}
			hs = append(hs, h)
			off = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	return out, hs
}

// cleanAll runs Clean until a pass has nothing to do.
func cleanAll(t *testing.T, l *Log, o CleanOptions) (passes int) {
	t.Helper()
	for {
		st, err := l.Clean(context.Background(), o)
		if err != nil {
			t.Fatalf("Clean: %v", err)
		}
		if !st.Cleaned {
			return passes
		}
		passes++
		if passes > 1000 {
			t.Fatal("Clean does not converge")
		}
	}
}

// checkCompacted checks got against the model: every record read is the
// one appended at its offset; below cleanedEnd no key appears twice and
// superseded records are gone; every key's last record is present unless
// it is a tombstone allowed to go (tombstonesGone).
// Tombstone expectations of checkCompacted.
type tombstoneRule int

const (
	tombstonesKept tombstoneRule = iota // the last record of a key is present, tombstone or not
	tombstonesAny                       // a last tombstone may be gone (checkTombstones decides)
	tombstonesGone                      // a last tombstone below cleanedEnd must be gone
)

func checkCompacted(t *testing.T, all, got model, cleanedEnd int64, rule tombstoneRule) {
	t.Helper()
	last := map[string]int64{}
	for o, r := range all {
		if p, ok := last[string(r.key)]; !ok || o > p {
			last[string(r.key)] = o
		}
	}
	for o, r := range got {
		want, ok := all[o]
		if !ok || string(want.key) != string(r.key) || string(want.value) != string(r.value) || (want.value == nil) != (r.value == nil) {
			t.Fatalf("offset %d: read %q=%q, appended %q=%q", o, r.key, r.value, want.key, want.value)
		}
		if l := last[string(r.key)]; o < l && l < cleanedEnd {
			t.Fatalf("offset %d: key %q superseded at %d but still present", o, r.key, l)
		}
	}
	for k, o := range last {
		r := all[o]
		if _, ok := got[o]; !ok && !(r.value == nil && rule != tombstonesKept) {
			t.Fatalf("key %q: last record at %d lost", k, o)
		}
		if _, ok := got[o]; ok && r.value == nil && rule == tombstonesGone && o < cleanedEnd {
			t.Fatalf("key %q: tombstone at %d kept past delete.retention.ms", k, o)
		}
	}
}

func fillKeyed(t *testing.T, l *Log, m model, rng *rand.Rand, batches, keys int, clock *fakeClock) {
	t.Helper()
	for i := 0; i < batches; i++ {
		var recs []kv
		for j := 0; j < 1+rng.IntN(3); j++ {
			recs = append(recs, krec(fmt.Sprintf("k%02d", rng.IntN(keys)), strp(fmt.Sprintf("v%d-%d", i, j))))
		}
		appendKeyed(t, l, m, recs, clock.Ms(), batch.BuildOptions{})
	}
}

func TestCleanKeepsLastRecordPerKeyAndOffsets(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	o := compactTestOptions(clock)
	l := mustOpen(t, dir, o)
	m := model{}
	rng := rand.New(rand.NewPCG(1, 2))
	fillKeyed(t, l, m, rng, 300, 8, clock)
	sizeBefore, segsBefore := l.Size(), l.NumSegments()
	activeBase := l.segments[len(l.segments)-1].base
	cleanAll(t, l, CleanOptions{})
	st := l.Cleanable()
	if st.FirstDirty != activeBase {
		t.Fatalf("first dirty %d after cleaning, want the active segment's base %d", st.FirstDirty, activeBase)
	}
	got, _ := readRecords(t, l)
	checkCompacted(t, m, got, st.FirstDirty, tombstonesKept)
	if l.Size() >= sizeBefore/2 {
		t.Fatalf("size %d -> %d: nothing compacted", sizeBefore, l.Size())
	}
	// Segments shrunk by one pass are merged by the next (grouped by
	// input size, as Kafka does): the count stays bounded under churn.
	fillKeyed(t, l, m, rng, 300, 8, clock)
	cleanAll(t, l, CleanOptions{})
	if n := l.NumSegments(); n > segsBefore+2 {
		t.Fatalf("%d segments after two rounds of churn and cleaning, %d after the first round of appends: the first round's were not merged", n, segsBefore)
	}
	activeBase = l.segments[len(l.segments)-1].base
	st = l.Cleanable()
	got, _ = readRecords(t, l)
	checkCompacted(t, m, got, st.FirstDirty, tombstonesKept)
	// Active segment untouched: it still holds every record appended to it.
	for off, r := range m {
		if off >= activeBase {
			if g, ok := got[off]; !ok || string(g.value) != string(r.value) {
				t.Fatalf("active segment record %d changed", off)
			}
		}
	}
	// A fetch inside a gap returns the next batch.
	for off := l.LogStartOffset(); off < activeBase; off++ {
		if _, ok := got[off]; ok {
			continue
		}
		b, err := l.Read(off, 1, l.LogEndOffset())
		if err != nil || len(b) == 0 {
			t.Fatalf("Read(%d) in a gap: %d bytes, %v", off, len(b), err)
		}
		h, _ := batch.ParseHeader(b)
		if h.LastOffset() < off {
			t.Fatalf("Read(%d) in a gap returned batch ending at %d", off, h.LastOffset())
		}
		break
	}
	// Appends continue; reopening (with and without a recovery point)
	// recovers the same records: gaps are not truncation points.
	appendKeyed(t, l, m, []kv{krec("k00", strp("after"))}, clock.Ms(), batch.BuildOptions{})
	got, _ = readRecords(t, l)
	end := l.LogEndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, lose := range []string{"", recoveryPointFile, cleanerFile} {
		if lose != "" {
			if err := os.Remove(filepath.Join(dir, lose)); err != nil {
				t.Fatal(err)
			}
		}
		l = mustOpen(t, dir, o)
		again, _ := readRecords(t, l)
		if len(again) != len(got) || l.LogEndOffset() != end {
			t.Fatalf("after reopen without %q: %d records, end %d; before %d records, end %d", lose, len(again), l.LogEndOffset(), len(got), end)
		}
		checkCompacted(t, m, again, 0, tombstonesKept)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCleanMultiPassWithTinyOffsetMap(t *testing.T) {
	clock := newClock()
	o := compactTestOptions(clock)
	l := mustOpen(t, t.TempDir(), o)
	m := model{}
	fillKeyed(t, l, m, rand.New(rand.NewPCG(3, 4)), 300, 20, clock)
	passes := cleanAll(t, l, CleanOptions{MaxKeys: 4})
	if passes < 3 {
		t.Fatalf("%d passes with a 4-key map over 20 keys", passes)
	}
	got, _ := readRecords(t, l)
	checkCompacted(t, m, got, l.Cleanable().FirstDirty, tombstonesKept)
	l.Close()
}

func TestCleanTombstonesRemovedAfterDeleteRetention(t *testing.T) {
	clock := newClock()
	o := compactTestOptions(clock)
	l := mustOpen(t, t.TempDir(), o)
	m := model{}
	rng := rand.New(rand.NewPCG(5, 6))
	fillKeyed(t, l, m, rng, 100, 6, clock)
	appendKeyed(t, l, m, []kv{krec("k01", nil), krec("k02", nil)}, clock.Ms(), batch.BuildOptions{})
	fillKeyed(t, l, m, rand.New(rand.NewPCG(7, 8)), 0, 6, clock)
	// Push the tombstones out of the active segment with other keys.
	for i := 0; i < 40; i++ {
		appendKeyed(t, l, m, []kv{krec(fmt.Sprintf("x%d", i%3), strp("filler"))}, clock.Ms(), batch.BuildOptions{})
	}
	cleanAll(t, l, CleanOptions{})
	got, _ := readRecords(t, l)
	end := l.Cleanable().FirstDirty
	checkCompacted(t, m, got, end, tombstonesKept)
	tombs := 0
	for _, r := range got {
		if r.value == nil {
			tombs++
		}
	}
	if tombs != 2 {
		t.Fatalf("%d tombstones right after cleaning, want 2 (kept for delete.retention.ms)", tombs)
	}
	clock.Advance(30 * time.Minute)
	cleanAll(t, l, CleanOptions{})
	if got, _ = readRecords(t, l); countTombstones(got) != 2 {
		t.Fatal("tombstones removed before delete.retention.ms")
	}
	clock.Advance(31 * time.Minute)
	if !l.Cleanable().Due {
		t.Fatal("log with expired tombstones not due for cleaning")
	}
	cleanAll(t, l, CleanOptions{})
	got, _ = readRecords(t, l)
	if n := countTombstones(got); n != 0 {
		t.Fatalf("%d tombstones after delete.retention.ms", n)
	}
	checkCompacted(t, m, got, end, tombstonesGone)
	for o, r := range got {
		if string(r.key) == "k01" || string(r.key) == "k02" {
			t.Fatalf("deleted key %q still at offset %d", r.key, o)
		}
	}
	if l.Cleanable().Due {
		t.Fatal("still due with no tombstone left")
	}
	l.Close()
}

func countTombstones(m model) int {
	n := 0
	for _, r := range m {
		if r.value == nil {
			n++
		}
	}
	return n
}

func TestCleanKeepsProducerStateAndMetadata(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	o := compactTestOptions(clock)
	l := mustOpen(t, dir, o)
	m := model{}
	const pid = 7
	// An idempotent producer writes keys a..c, compressed; everything it
	// wrote is later overwritten by a plain producer.
	var last AppendResult
	for i := 0; i < 6; i++ {
		last = appendKeyed(t, l, m, []kv{krec("a", strp("p")), krec("b", strp("p")), krec("c", strp("p"))}, clock.Ms(),
			batch.BuildOptions{ProducerID: pid, ProducerEpoch: 2, BaseSequence: int32(3 * i), Compression: batch.CompressionZstd})
	}
	for i := 0; i < 60; i++ {
		appendKeyed(t, l, m, []kv{krec("a", strp("q")), krec("b", strp("q")), krec("c", strp("q"))}, clock.Ms(), batch.BuildOptions{Compression: batch.CompressionLZ4})
	}
	cleanAll(t, l, CleanOptions{})
	got, hs := readRecords(t, l)
	checkCompacted(t, m, got, l.Cleanable().FirstDirty, tombstonesKept)
	var kept *batch.Header
	for i := range hs {
		if hs[i].ProducerID == pid {
			if kept != nil {
				t.Fatalf("two batches of producer %d kept: %d and %d", pid, kept.BaseOffset, hs[i].BaseOffset)
			}
			kept = &hs[i]
		}
	}
	if kept == nil {
		t.Fatal("the producer's last batch was not kept")
	}
	if kept.BaseOffset != last.BaseOffset || kept.LastOffset() != last.LastOffset || kept.RecordCount != 0 ||
		kept.ProducerEpoch != 2 || kept.BaseSequence != 15 {
		t.Fatalf("kept batch %+v, want the empty last batch %d..%d epoch 2 seq 15", kept, last.BaseOffset, last.LastOffset)
	}
	for _, h := range hs {
		if h.ProducerID < 0 && h.RecordCount > 0 && h.Compression() != batch.CompressionLZ4 {
			t.Fatalf("batch %d re-encoded as %v, was lz4", h.BaseOffset, h.Compression())
		}
	}
	// Producer state survives a restart that must rebuild it from the
	// cleaned log: its next sequence is accepted, a retry of its last
	// batch is a duplicate, and a gap is refused.
	l.Close()
	for _, f := range segmentFiles(t, dir, snapshotSuffix) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	l = mustOpen(t, dir, o)
	defer l.Close()
	dup, err := l.Append(keyedBatch([]kv{krec("a", strp("p")), krec("b", strp("p")), krec("c", strp("p"))}, clock.Ms(),
		batch.BuildOptions{ProducerID: pid, ProducerEpoch: 2, BaseSequence: 15}), AppendOptions{})
	if err != nil || !dup.Duplicate || dup.BaseOffset != last.BaseOffset {
		t.Fatalf("retry of the last batch after cleaning: %+v, %v", dup, err)
	}
	if _, err := l.Append(keyedBatch([]kv{krec("a", strp("z"))}, clock.Ms(), batch.BuildOptions{ProducerID: pid, ProducerEpoch: 2, BaseSequence: 19}), AppendOptions{}); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("sequence gap after cleaning: %v, want ErrOutOfOrderSequence", err)
	}
	if _, err := l.Append(keyedBatch([]kv{krec("a", strp("z"))}, clock.Ms(), batch.BuildOptions{ProducerID: pid, ProducerEpoch: 2, BaseSequence: 18}), AppendOptions{}); err != nil {
		t.Fatalf("next sequence after cleaning: %v", err)
	}
}

func TestCleanRespectsMinCompactionLag(t *testing.T) {
	clock := newClock()
	o := compactTestOptions(clock)
	o.Config.MinCompactionLag = time.Hour
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	m := model{}
	rng := rand.New(rand.NewPCG(9, 10))
	fillKeyed(t, l, m, rng, 100, 4, clock)
	if n := cleanAll(t, l, CleanOptions{}); n != 0 {
		t.Fatalf("%d passes over records younger than min.compaction.lag.ms", n)
	}
	got, _ := readRecords(t, l)
	if len(got) != len(m) {
		t.Fatalf("%d records after a clean within the lag, appended %d", len(got), len(m))
	}
	clock.Advance(2 * time.Hour)
	if st := l.Cleanable(); st.Ratio != 1 {
		t.Fatalf("dirty ratio %v once past the lag, want 1", st.Ratio)
	}
	cleanAll(t, l, CleanOptions{})
	got, _ = readRecords(t, l)
	checkCompacted(t, m, got, l.Cleanable().FirstDirty, tombstonesKept)
	if len(got) == len(m) {
		t.Fatal("nothing cleaned once past min.compaction.lag.ms")
	}
}

func TestCleanNotCompactedLogUntouched(t *testing.T) {
	clock := newClock()
	o := compactTestOptions(clock)
	o.Config.Compact = false
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	m := model{}
	fillKeyed(t, l, m, rand.New(rand.NewPCG(1, 1)), 50, 2, clock)
	if n := cleanAll(t, l, CleanOptions{}); n != 0 {
		t.Fatalf("%d clean passes on cleanup.policy=delete", n)
	}
}

// failRenameFS fails the first Rename whose target ends with suffix.
type failRenameFS struct {
	OSFS
	mu     sync.Mutex
	suffix string
	done   bool
}

func (f *failRenameFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	hit := !f.done && f.suffix != "" && strings.HasSuffix(newpath, f.suffix)
	if hit {
		f.done = true
	}
	f.mu.Unlock()
	if hit {
		return fmt.Errorf("injected: rename %s: %w", filepath.Base(newpath), fs.ErrPermission)
	}
	return f.OSFS.Rename(oldpath, newpath)
}

// TestCleanInterruptedSwapRecovers stops a clean at each step of its swap
// (as a crash would: the files stay as they are) and checks that Open
// ends with either the old or the new segments, all keys present.
func TestCleanInterruptedSwapRecovers(t *testing.T) {
	for _, stop := range []string{swapSuffix, logSuffix, indexSuffix, timeIndexSuffix} {
		t.Run(stop, func(t *testing.T) {
			clock := newClock()
			dir := t.TempDir()
			ffs := &failRenameFS{}
			o := compactTestOptions(clock)
			o.FS = ffs
			l := mustOpen(t, dir, o)
			m := model{}
			fillKeyed(t, l, m, rand.New(rand.NewPCG(11, 12)), 200, 5, clock)
			ffs.mu.Lock()
			ffs.suffix = stop
			ffs.mu.Unlock()
			_, err := l.Clean(context.Background(), CleanOptions{})
			if err == nil {
				t.Fatal("clean with a failing rename succeeded")
			}
			// Simulate the crash: abandon l without Close.
			o.FS = OSFS{}
			l2 := mustOpen(t, dir, o)
			defer l2.Close()
			got, _ := readRecords(t, l2)
			checkCompacted(t, m, got, 0, tombstonesKept)
			if left := append(segmentFiles(t, dir, cleanedSuffix), segmentFiles(t, dir, swapSuffix)...); len(left) > 0 {
				t.Fatalf("leftover files after recovery: %v", left)
			}
			if stop != swapSuffix && len(got) == len(m) {
				t.Fatal("a committed swap was undone")
			}
			cleanAll(t, l2, CleanOptions{})
			got, _ = readRecords(t, l2)
			checkCompacted(t, m, got, l2.Cleanable().FirstDirty, tombstonesKept)
		})
	}
}

func TestCleanGarbageCleanerFilesAtOpen(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	o := compactTestOptions(clock)
	l := mustOpen(t, dir, o)
	m := model{}
	fillKeyed(t, l, m, rand.New(rand.NewPCG(13, 14)), 100, 5, clock)
	l.Close()
	base := l.segments[0].base
	junk := map[string][]byte{
		filepath.Base(segmentPath(dir, base, logSuffix)) + cleanedSuffix:   []byte("half a batch"),
		filepath.Base(segmentPath(dir, base, indexSuffix)) + cleanedSuffix: {1, 2, 3},
		swapName(base + 1):      []byte("KSW1 torn"),
		cleanerFile:             []byte("garbage"),
		swapName(base) + ".tmp": []byte("KSW1"),
	}
	for name, b := range junk {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l = mustOpen(t, dir, o)
	defer l.Close()
	got, _ := readRecords(t, l)
	if len(got) != len(m) {
		t.Fatalf("%d records after opening with garbage cleaner files, appended %d", len(got), len(m))
	}
	for name := range junk {
		if name == cleanerFile {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s not removed at Open: %v", name, err)
		}
	}
	cleanAll(t, l, CleanOptions{})
	got, _ = readRecords(t, l)
	checkCompacted(t, m, got, l.Cleanable().FirstDirty, tombstonesKept)
}

// readRaw reads the log's batches from start to end, as a fetcher would.
func readRaw(t *testing.T, l *Log) []byte {
	t.Helper()
	var out []byte
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		b, err := l.Read(off, 1<<20, l.LogEndOffset())
		if err != nil || len(b) == 0 {
			t.Fatalf("Read(%d): %d bytes, %v", off, len(b), err)
		}
		out = append(out, b...)
		hs := splitBatches(t, b)
		off = hs[len(hs)-1].LastOffset() + 1
	}
	return out
}

// TestCleanLeaderAndFollowerAgree: a follower that replicated the
// leader's batches and cleans its own copy returns the same bytes as the
// leader for every offset; a follower that starts after the leader
// cleaned replicates across the gaps and survives a restart.
func TestCleanLeaderAndFollowerAgree(t *testing.T) {
	clock := newClock()
	o := compactTestOptions(clock)
	leader := mustOpen(t, t.TempDir(), o)
	defer leader.Close()
	follower := mustOpen(t, t.TempDir(), o)
	defer follower.Close()
	m := model{}
	rng := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < 200; i++ {
		res := appendKeyed(t, leader, m, []kv{krec(fmt.Sprintf("k%d", rng.IntN(7)), strp(fmt.Sprint(i)))}, clock.Ms(), batch.BuildOptions{Compression: batch.CompressionGzip})
		b, err := leader.Read(res.BaseOffset, 1<<20, res.LastOffset+1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := follower.AppendReplica(b, true); err != nil {
			t.Fatalf("AppendReplica: %v", err)
		}
		if i%50 == 0 {
			appendKeyed(t, leader, m, []kv{krec("k1", nil)}, clock.Ms(), batch.BuildOptions{})
			b, _ := leader.Read(leader.LogEndOffset()-1, 1<<20, leader.LogEndOffset())
			if _, err := follower.AppendReplica(b, true); err != nil {
				t.Fatalf("AppendReplica: %v", err)
			}
		}
	}
	cleanAll(t, leader, CleanOptions{})
	cleanAll(t, follower, CleanOptions{})
	lb, fb := readRaw(t, leader), readRaw(t, follower)
	if string(lb) != string(fb) {
		t.Fatalf("leader and follower differ after cleaning: %d and %d bytes", len(lb), len(fb))
	}
	got, _ := readRecords(t, leader)
	checkCompacted(t, m, got, leader.Cleanable().FirstDirty, tombstonesKept)

	// A new follower fetches the cleaned log from its start.
	dir := t.TempDir()
	late := mustOpen(t, dir, o)
	if _, err := late.AppendReplica(lb, true); err != nil {
		t.Fatalf("AppendReplica of a compacted log: %v", err)
	}
	if late.LogEndOffset() != leader.LogEndOffset() || string(readRaw(t, late)) != string(lb) {
		t.Fatalf("late follower: end %d, leader %d", late.LogEndOffset(), leader.LogEndOffset())
	}
	late.Close()
	for _, f := range []string{recoveryPointFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	late = mustOpen(t, dir, o)
	defer late.Close()
	if string(readRaw(t, late)) != string(lb) {
		t.Fatal("late follower lost records at recovery: gaps taken for damage")
	}
	// A follower of a topic that is not compacted still refuses a gap.
	o.Config.Compact = false
	plainLog := mustOpen(t, t.TempDir(), o)
	defer plainLog.Close()
	if _, err := plainLog.AppendReplica(lb, true); !errors.Is(err, ErrOffsetMismatch) {
		t.Fatalf("gap on a non-compacted follower: %v, want ErrOffsetMismatch", err)
	}
}

// TestCleanConcurrentWithAppendsReadsAndMaintenance cleans while a
// producer appends, a reader reads from the start, and maintenance runs
// (run with -race).
func TestCleanConcurrentWithAppendsReadsAndMaintenance(t *testing.T) {
	clock := newClock()
	o := compactTestOptions(clock)
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	m := model{}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer cancel()
		for i := 0; i < 400; i++ {
			recs := []kv{krec(fmt.Sprintf("k%d", i%9), strp(fmt.Sprint(i)))}
			res, err := l.Append(keyedBatch(recs, clock.Ms(), batch.BuildOptions{}), AppendOptions{Sync: i%3 == 0})
			if err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			mu.Lock()
			m[res.BaseOffset] = recs[0]
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for off := l.LogStartOffset(); off < l.LogEndOffset(); {
				b, err := l.Read(off, 4096, l.LogEndOffset())
				if err != nil {
					t.Errorf("Read(%d): %v", off, err)
					return
				}
				if len(b) == 0 {
					break
				}
				h, _ := batch.ParseHeader(b)
				for len(b) > 0 {
					h, _ = batch.ParseHeader(b)
					b = b[h.Size():]
				}
				off = h.LastOffset() + 1
			}
		}
	}()
	for ctx.Err() == nil {
		if _, err := l.Clean(context.Background(), CleanOptions{MaxKeys: 5}); err != nil {
			t.Fatalf("Clean: %v", err)
		}
		if err := l.Maintain(); err != nil {
			t.Fatalf("Maintain: %v", err)
		}
	}
	wg.Wait()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	cleanAll(t, l, CleanOptions{})
	got, _ := readRecords(t, l)
	checkCompacted(t, m, got, l.Cleanable().FirstDirty, tombstonesKept)
}

// TestCleanOffsetQueriesAndRetention: ListOffsets by timestamp and for the
// max timestamp, OffsetForLeaderEpoch, AdvanceLogStart (DeleteRecords)
// and retention of cleanup.policy=compact,delete keep working on a
// compacted log.
func TestCleanOffsetQueriesAndRetention(t *testing.T) {
	clock := newClock()
	o := compactTestOptions(clock)
	o.Config.NoRetention = false // compact,delete
	o.Config.RetentionMs = 10 * time.Hour
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	m := model{}
	ts := map[int64]int64{}
	var epoch2 int64
	for i := 0; i < 240; i++ {
		clock.Advance(time.Minute)
		epoch := int32(1)
		if i >= 120 {
			epoch = 2
		}
		r := krec(fmt.Sprintf("k%d", i%6), strp(fmt.Sprint(i)))
		res, err := l.Append(keyedBatch([]kv{r}, clock.Ms(), batch.BuildOptions{}), AppendOptions{Sync: true, LeaderEpoch: epoch})
		if err != nil {
			t.Fatal(err)
		}
		if i == 120 {
			epoch2 = res.BaseOffset
		}
		m[res.BaseOffset], ts[res.BaseOffset] = r, clock.Ms()
	}
	cleanAll(t, l, CleanOptions{})
	got, _ := readRecords(t, l)
	checkCompacted(t, m, got, l.Cleanable().FirstDirty, tombstonesKept)
	if len(got) >= len(m)/2 {
		t.Fatalf("%d of %d records left: not compacted", len(got), len(m))
	}
	for off := int64(0); off < l.LogEndOffset(); off++ {
		want := off
		for _, ok := got[want]; !ok; _, ok = got[want] {
			want++
		}
		gotOff, gotTs, found, err := l.OffsetForTimestamp(ts[off])
		if err != nil || !found || gotOff != want || gotTs != ts[want] {
			t.Fatalf("OffsetForTimestamp(ts of %d): %d@%d %v %v, want the next record %d@%d", off, gotOff, gotTs, found, err, want, ts[want])
		}
	}
	if off, mts, found, err := l.MaxTimestamp(); err != nil || !found || off != l.LogEndOffset()-1 || mts != ts[off] {
		t.Fatalf("MaxTimestamp: %d@%d %v %v", off, mts, found, err)
	}
	if e, end := l.EndOffsetForEpoch(1); e != 1 || end != epoch2 {
		t.Fatalf("EndOffsetForEpoch(1) = %d, %d, want 1, %d", e, end, epoch2)
	}
	// DeleteRecords into a gap: the read at the new start returns the
	// next batch.
	var gap int64 = -1
	for off := int64(1); off < epoch2; off++ {
		if _, ok := got[off]; !ok {
			gap = off
			break
		}
	}
	if gap < 0 {
		t.Fatal("no gap below epoch 2")
	}
	if _, err := l.AdvanceLogStart(gap); err != nil {
		t.Fatalf("AdvanceLogStart(%d): %v", gap, err)
	}
	if b, err := l.Read(gap, 1, l.LogEndOffset()); err != nil || len(b) == 0 {
		t.Fatalf("Read at a log start inside a gap: %d bytes, %v", len(b), err)
	}
	// Retention (compact,delete) removes the oldest segments by time.
	clock.Advance(10*time.Hour - 100*time.Minute)
	before := l.NumSegments()
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() >= before || l.LogStartOffset() <= gap {
		t.Fatalf("retention with compact,delete: segments %d -> %d, log start %d", before, l.NumSegments(), l.LogStartOffset())
	}
	got, _ = readRecords(t, l)
	checkCompacted(t, m, got, 0, tombstonesKept)
}

// TestCleanMaxCompactionLag: a dirty record older than
// max.compaction.lag.ms makes the log due whatever its dirty ratio, and
// rolls the active segment so the record can be cleaned.
func TestCleanMaxCompactionLag(t *testing.T) {
	clock := newClock()
	o := compactTestOptions(clock)
	o.Config.MaxCompactionLag = time.Hour
	o.Config.SegmentBytes = 1 << 20 // nothing rolls by size
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	m := model{}
	for i := 0; i < 20; i++ {
		appendKeyed(t, l, m, []kv{krec("k", strp(fmt.Sprint(i)))}, clock.Ms(), batch.BuildOptions{})
	}
	if st := l.Cleanable(); st.Due || st.DirtyBytes != 0 {
		t.Fatalf("fresh log: %+v", st)
	}
	clock.Advance(2 * time.Hour)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != 2 {
		t.Fatalf("%d segments after max.compaction.lag.ms: the active segment did not roll", l.NumSegments())
	}
	if st := l.Cleanable(); !st.Due {
		t.Fatalf("not due with a dirty record older than max.compaction.lag.ms: %+v", st)
	}
	cleanAll(t, l, CleanOptions{})
	if got, _ := readRecords(t, l); len(got) != 1 {
		t.Fatalf("%d records after cleaning, want the last one", len(got))
	}
	if l.Cleanable().Due {
		t.Fatal("still due after cleaning")
	}
}

// TestCleanRandomHistories is a property test: random keyed histories
// (tombstones, several codecs, idempotent and plain producers, random
// batch sizes) are cleaned at random moments with random offset-map
// sizes, the clock moving and the log sometimes reopened, and after every
// step the log must match the model: every record read is the one
// appended at its offset; below the first dirty offset no key has a
// superseded record; every key's last record is present, a tombstone as
// long as delete.retention.ms has not passed since the first clean that
// kept it, and gone after a full clean once it has.
func TestCleanRandomHistories(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			clock := newClock()
			dir := t.TempDir()
			o := compactTestOptions(clock)
			o.Config.DeleteRetention = 30 * time.Minute
			l := mustOpen(t, dir, o)
			defer func() { l.Close() }()
			m := model{}
			keys := 3 + rng.IntN(20)
			codecs := []batch.Compression{batch.CompressionNone, batch.CompressionGzip, batch.CompressionSnappy, batch.CompressionLZ4, batch.CompressionZstd}
			seqs := map[int64]int32{}
			// firstKept: when the first pass after a tombstone's offset
			// became clean ran (its delete horizon's start).
			firstKept := map[int64]time.Time{}
			for step := 0; step < 60; step++ {
				for b := 0; b < 1+rng.IntN(8); b++ {
					var recs []kv
					for r := 0; r < 1+rng.IntN(4); r++ {
						k := fmt.Sprintf("k%02d", rng.IntN(keys))
						if rng.IntN(8) == 0 {
							recs = append(recs, krec(k, nil))
						} else {
							recs = append(recs, krec(k, strp(fmt.Sprintf("%d.%d.%d", step, b, r))))
						}
					}
					bo := batch.BuildOptions{Compression: codecs[rng.IntN(len(codecs))]}
					if pid := int64(1 + rng.IntN(3)); rng.IntN(2) == 0 {
						bo.ProducerID, bo.ProducerEpoch, bo.BaseSequence = pid, 1, seqs[pid]
						seqs[pid] += int32(len(recs))
					}
					appendKeyed(t, l, m, recs, clock.Ms(), bo)
				}
				clock.Advance(time.Duration(rng.IntN(10)) * time.Minute)
				switch rng.IntN(4) {
				case 0:
					before := l.Cleanable().FirstDirty
					if _, err := l.Clean(context.Background(), CleanOptions{MaxKeys: 1 + rng.IntN(keys+2)}); err != nil {
						t.Fatal(err)
					}
					noteKept(l, m, before, clock.Now(), firstKept)
				case 1:
					before := l.Cleanable().FirstDirty
					cleanAll(t, l, CleanOptions{MaxKeys: 1 + rng.IntN(keys+2)})
					noteKept(l, m, before, clock.Now(), firstKept)
				case 2:
					if rng.IntN(3) == 0 {
						l.Close()
						l = mustOpen(t, dir, o)
					}
				}
				got, _ := readRecords(t, l)
				checkCompacted(t, m, got, l.Cleanable().FirstDirty, tombstonesAny)
				checkTombstones(t, m, got, firstKept, clock.Now(), o.Config.DeleteRetention, false)
			}
			// A full clean after delete.retention.ms removes every
			// tombstone below the active segment.
			clock.Advance(time.Hour)
			before := l.Cleanable().FirstDirty
			cleanAll(t, l, CleanOptions{})
			noteKept(l, m, before, clock.Now(), firstKept)
			clock.Advance(time.Hour)
			cleanAll(t, l, CleanOptions{})
			got, _ := readRecords(t, l)
			checkCompacted(t, m, got, l.Cleanable().FirstDirty, tombstonesGone)
			checkTombstones(t, m, got, firstKept, clock.Now(), o.Config.DeleteRetention, true)
			// Every idempotent producer continues where it was.
			for pid, seq := range seqs {
				if _, err := l.Append(keyedBatch([]kv{krec("k00", strp("again"))}, clock.Ms(),
					batch.BuildOptions{ProducerID: pid, ProducerEpoch: 1, BaseSequence: seq}), AppendOptions{}); err != nil {
					t.Fatalf("producer %d at sequence %d after cleaning: %v", pid, seq, err)
				}
			}
		})
	}
}

// noteKept records, for tombstones that a pass moved below the first
// dirty offset, when that happened.
func noteKept(l *Log, m model, before int64, now time.Time, firstKept map[int64]time.Time) {
	after := l.Cleanable().FirstDirty
	for off, r := range m {
		if r.value == nil && off < after {
			if _, ok := firstKept[off]; !ok {
				firstKept[off] = now
			}
		}
	}
	_ = before
}

// checkTombstones: a key's last record that is a tombstone is present
// until delete.retention.ms after it was first cleaned; with final, it
// must be gone once that passed (in the cleaned part of the log).
func checkTombstones(t *testing.T, all, got model, firstKept map[int64]time.Time, now time.Time, retention time.Duration, final bool) {
	t.Helper()
	last := map[string]int64{}
	for o, r := range all {
		if p, ok := last[string(r.key)]; !ok || o > p {
			last[string(r.key)] = o
		}
	}
	for k, o := range last {
		if all[o].value != nil {
			continue
		}
		_, present := got[o]
		kept, cleaned := firstKept[o]
		if !present && (!cleaned || now.Before(kept.Add(retention))) {
			t.Fatalf("key %s: tombstone at %d removed before delete.retention.ms (first cleaned %v, now %v)", k, o, kept, now)
		}
		if final && present && cleaned && !now.Before(kept.Add(retention)) {
			t.Fatalf("key %s: tombstone at %d still present %v after its first clean", k, o, now.Sub(kept))
		}
	}
}
