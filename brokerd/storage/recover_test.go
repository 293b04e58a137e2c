package storage

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// crashedLog appends n random batches through a faultFS and then crashes
// (no Close), returning the batches by offset.
func crashedLog(t *testing.T, dir string, o Options, n int) map[int64][]byte {
	t.Helper()
	fsys := newFaultFS()
	o.FS = fsys
	l := mustOpen(t, dir, o)
	want := map[int64][]byte{}
	appendRandom(t, l, rand.New(rand.NewPCG(7, 8)), n, 1, want)
	fsys.crash()
	return want
}

// lastLogFile returns the path of the active segment's log file.
func lastLogFile(t *testing.T, dir string) string {
	files := segmentFiles(t, dir, logSuffix)
	return files[len(files)-1]
}

// keepBelow drops the batches at or above end from want.
func keepBelow(want map[int64][]byte, end int64) {
	for off := range want {
		if off >= end {
			delete(want, off)
		}
	}
}

func TestRecoverTruncatedTail(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	want := crashedLog(t, dir, o, 60)
	path := lastLogFile(t, dir)
	fi, _ := os.Stat(path)
	// Cut at every byte of the last few batches in turn.
	for cut := fi.Size() - 1; cut > fi.Size()-300 && cut > 0; cut -= 37 {
		if err := os.Truncate(path, cut); err != nil {
			t.Fatal(err)
		}
		logs := &syncBuffer{}
		o := testOptions(newClock(), logs, nil)
		l := mustOpen(t, dir, o)
		end := l.LogEndOffset()
		keepBelow(want, end)
		checkLog(t, l, want)
		if fi2, _ := os.Stat(path); fi2.Size() > cut {
			t.Fatalf("file grew")
		}
		if st, _ := os.Stat(path); st.Size() < cut && !strings.Contains(logs.String(), "truncating log") {
			t.Fatalf("truncation not logged: %s", logs.String())
		}
		// The log continues at the recovered end.
		nb := makeBatch(plain(1, 5, 1))
		r := mustAppend(t, l, nb, AppendOptions{})
		if r.BaseOffset != end {
			t.Fatalf("append after recovery at %d, want %d", r.BaseOffset, end)
		}
		want[end] = bytes.Clone(nb)
		checkLog(t, l, want)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		fi, _ = os.Stat(lastLogFile(t, dir))
		path = lastLogFile(t, dir)
	}
}

func TestRecoverFlippedByteInLastBatch(t *testing.T) {
	dir := t.TempDir()
	want := crashedLog(t, dir, testOptions(newClock(), nil, nil), 40)
	path := lastLogFile(t, dir)
	b, _ := os.ReadFile(path)
	var lastBase int64 = -1
	for off := range want {
		lastBase = max(lastBase, off)
	}
	b[len(b)-3] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	l := mustOpen(t, dir, testOptions(newClock(), logs, nil))
	defer l.Close()
	if l.LogEndOffset() != lastBase {
		t.Fatalf("log end %d, want %d (the corrupt batch cut)", l.LogEndOffset(), lastBase)
	}
	keepBelow(want, lastBase)
	checkLog(t, l, want)
	if !strings.Contains(logs.String(), "crc32c") {
		t.Fatalf("reason not logged: %s", logs.String())
	}
}

func TestRecoverZeroFilledTail(t *testing.T) {
	dir := t.TempDir()
	want := crashedLog(t, dir, testOptions(newClock(), nil, nil), 40)
	path := lastLogFile(t, dir)
	valid, err := os.Stat(path) // every batch written survived the crash
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	for off, b := range want {
		end = max(end, off+int64(binary.BigEndian.Uint32(b[23:]))+1)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 4096)) // preallocated, never written
	f.Close()
	l := mustOpen(t, dir, testOptions(newClock(), nil, nil))
	defer l.Close()
	checkLog(t, l, want)
	if l.LogEndOffset() != end {
		t.Fatalf("log end %d after recovery, want %d", l.LogEndOffset(), end)
	}
	if fi, _ := os.Stat(path); fi.Size() != valid.Size() {
		t.Fatalf("segment is %d bytes after recovery, want the valid prefix of %d", fi.Size(), valid.Size())
	}
	// The next append goes right after the valid prefix and reads back.
	b := makeBatch(plain(3, 10, 5))
	r := mustAppend(t, l, b, AppendOptions{})
	if r.BaseOffset != end {
		t.Fatalf("append after recovery at offset %d, want %d", r.BaseOffset, end)
	}
	want[end] = b
	checkLog(t, l, want)
	if fi, _ := os.Stat(lastLogFile(t, dir)); lastLogFile(t, dir) == path && fi.Size() != valid.Size()+int64(len(b)) {
		t.Fatalf("segment is %d bytes after one append, want %d", fi.Size(), valid.Size()+int64(len(b)))
	}
}

func TestRecoverGarbageAfterCleanShutdown(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, dir, o)
	want := map[int64][]byte{}
	appendRandom(t, l, rand.New(rand.NewPCG(1, 1)), 30, 1, want)
	end := l.LogEndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); err != nil {
		t.Fatalf("no clean-shutdown marker: %v", err)
	}
	// A whole valid-looking batch with the wrong offset, then garbage.
	f, _ := os.OpenFile(lastLogFile(t, dir), os.O_WRONLY|os.O_APPEND, 0)
	f.Write(makeBatch(plain(1, 3, 1))) // base offset 0: out of sequence
	f.Write([]byte("garbage"))
	f.Close()
	l = mustOpen(t, dir, o)
	defer l.Close()
	if l.LogEndOffset() != end {
		t.Fatalf("log end %d, want %d", l.LogEndOffset(), end)
	}
	checkLog(t, l, want)
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatalf("clean-shutdown marker survives Open: %v", err)
	}
}

func TestRecoverCorruptEarlierSegmentWithoutCheckpoint(t *testing.T) {
	dir := t.TempDir()
	want := crashedLog(t, dir, testOptions(newClock(), nil, nil), 80)
	os.Remove(filepath.Join(dir, recoveryPointFile)) // validate everything
	logs := filepath.Join(dir, "*"+logSuffix)
	files, _ := filepath.Glob(logs)
	if len(files) < 4 {
		t.Fatalf("%d segments", len(files))
	}
	victim := files[2]
	b, _ := os.ReadFile(victim)
	b[len(b)/2] ^= 0xff
	os.WriteFile(victim, b, 0o644)
	l := mustOpen(t, dir, testOptions(newClock(), nil, nil))
	defer l.Close()
	if n := l.NumSegments(); n != 3 {
		t.Fatalf("%d segments after truncating the third, want 3", n)
	}
	keepBelow(want, l.LogEndOffset())
	checkLog(t, l, want)
	if got, _ := filepath.Glob(logs); len(got) != 3 {
		t.Fatalf("later segment files not deleted: %v", got)
	}
}

func TestRecoverRebuildsIndexes(t *testing.T) {
	for _, damage := range []string{"missing", "short", "garbage", "non-monotonic"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(newClock(), nil, nil)
			o.Config.IndexIntervalBytes = 64
			l := mustOpen(t, dir, o)
			want := map[int64][]byte{}
			appendRandom(t, l, rand.New(rand.NewPCG(5, 5)), 80, 1000, want)
			wantTs := map[int64][3]int64{}
			for _, ts := range []int64{1000, 1010, 1040, 1079} {
				off, got, ok, err := l.OffsetForTimestamp(ts)
				if err != nil || !ok {
					t.Fatal(err)
				}
				wantTs[ts] = [3]int64{off, got}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			idx := segmentFiles(t, dir, indexSuffix)
			tidx := segmentFiles(t, dir, timeIndexSuffix)
			if len(idx) < 3 || len(tidx) < 3 {
				t.Fatalf("index files: %v", idx)
			}
			for _, f := range append(idx[:len(idx)-1], tidx[:len(tidx)-1]...) {
				b, _ := os.ReadFile(f)
				switch damage {
				case "missing":
					os.Remove(f)
				case "short":
					os.WriteFile(f, b[:max(len(b)-3, 0)], 0o644)
				case "garbage":
					os.WriteFile(f, bytes.Repeat([]byte{0xee}, len(b)), 0o644)
				case "non-monotonic":
					if len(b) >= 2*timeEntrySize {
						entry := len(b) / 2 / 4 * 4
						b[0], b[entry] = 0xff, 0
						os.WriteFile(f, b, 0o644)
					} else {
						os.WriteFile(f, bytes.Repeat([]byte{0xff}, len(b)), 0o644)
					}
				}
			}
			logs := &syncBuffer{}
			o.Logger = testOptions(newClock(), logs, nil).Logger
			l = mustOpen(t, dir, o)
			defer l.Close()
			checkLog(t, l, want)
			for ts, w := range wantTs {
				off, got, ok, err := l.OffsetForTimestamp(ts)
				if err != nil || !ok || off != w[0] || got != w[1] {
					t.Fatalf("OffsetForTimestamp(%d) = %d,%d,%v,%v want %v", ts, off, got, ok, err, w)
				}
			}
			if !strings.Contains(logs.String(), "rebuilding index") {
				t.Fatalf("rebuild not logged")
			}
			// Rebuilt files are correct again: a second open is silent.
			l.Close()
			logs2 := &syncBuffer{}
			o.Logger = testOptions(newClock(), logs2, nil).Logger
			l2 := mustOpen(t, dir, o)
			defer l2.Close()
			if strings.Contains(logs2.String(), "rebuilding index") {
				t.Fatalf("indexes rebuilt twice: %s", logs2.String())
			}
		})
	}
}

func TestRecoverOrphanAndTempFiles(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, dir, o)
	appendRandom(t, l, rand.New(rand.NewPCG(1, 9)), 5, 1, nil)
	l.Close()
	orphan := segmentPath(dir, 999999, indexSuffix)
	tmp := filepath.Join(dir, recoveryPointFile+tmpSuffix)
	os.WriteFile(orphan, []byte{1, 2, 3}, 0o644)
	os.WriteFile(tmp, []byte{1}, 0o644)
	l = mustOpen(t, dir, o)
	defer l.Close()
	for _, f := range []string{orphan, tmp} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s not removed", f)
		}
	}
}
