package storage

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecover: whatever bytes a segment file holds, Open never panics;
// the recovered log reads back whole, valid batches with contiguous
// offsets up to its end, takes the next append at that end, and reopens
// to the same batches.
func FuzzRecover(f *testing.F) {
	good := append(makeBatch(plain(2, 5, 1)), makeBatch(plain(1, 3, 2))...)
	f.Add(good)
	f.Add(good[:len(good)-4])
	f.Add(make([]byte, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentPath(dir, 0, logSuffix), data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(segmentPath(dir, 0, indexSuffix), data[:len(data)/2], 0o644)
		os.WriteFile(filepath.Join(dir, recoveryPointFile), data[:min(len(data), 16)], 0o644)
		l, err := Open(dir, testOptions(newClock(), nil, nil))
		if err != nil {
			return
		}
		before := readAll(t, l)
		l.OffsetForTimestamp(0)
		l.MaxTimestamp()

		// The recovered log stays writable: the next batch lands at its
		// end, and opening it again (recovery of what recovery left)
		// gives back exactly the same batches plus that one.
		end := l.LogEndOffset()
		if r := mustAppend(t, l, makeBatch(plain(2, 9, 5)), AppendOptions{}); r.BaseOffset != end {
			t.Fatalf("append after recovery landed at %d, log end was %d", r.BaseOffset, end)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		l = mustOpen(t, dir, testOptions(newClock(), nil, nil))
		defer l.Close()
		after := readAll(t, l)
		if _, ok := after[end]; !ok {
			t.Fatalf("batch appended at %d missing after a reopen", end)
		}
		delete(after, end)
		if !maps.EqualFunc(before, after, bytes.Equal) {
			t.Fatalf("reopened log holds %d other batches, want the %d recovered before, unchanged", len(after), len(before))
		}
	})
}

// FuzzSnapshot: decoding arbitrary bytes never panics, and what decodes
// survives an encode/decode round trip unchanged.
func FuzzSnapshot(f *testing.F) {
	p := producers{}
	p.update(hdr(1, 0, 0, 2, 0), 0)
	f.Add(encodeSnapshot(p))
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := decodeSnapshot(data)
		if err != nil {
			return
		}
		enc := encodeSnapshot(q)
		r, err := decodeSnapshot(enc)
		if err != nil || string(encodeSnapshot(r)) != string(enc) {
			t.Fatalf("snapshot does not round trip: %v", err)
		}
	})
}
