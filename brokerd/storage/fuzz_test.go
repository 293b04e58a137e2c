package storage

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecover: whatever bytes a segment file holds, Open never panics,
// and the recovered log reads back whole, valid batches with contiguous
// offsets up to its end.
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
		defer l.Close()
		readAll(t, l)
		l.OffsetForTimestamp(0)
		l.MaxTimestamp()
	})
}

// FuzzSnapshot: decoding arbitrary bytes never panics, and what decodes
// survives an encode/decode round trip unchanged.
func FuzzSnapshot(f *testing.F) {
	p := producers{}
	p.update(hdr(1, 0, 0, 2, 0))
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
