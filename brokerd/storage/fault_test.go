package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
)

func TestWriteErrorTakesLogOffline(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	o := testOptions(newClock(), nil, fsys)
	l := mustOpen(t, dir, o)
	want := map[int64][]byte{}
	appendRandom(t, l, rand.New(rand.NewPCG(2, 2)), 20, 1, want)
	end, size := l.LogEndOffset(), l.Size()

	fsys.mu.Lock()
	fsys.writeErr, fsys.shortBy = syscall.ENOSPC, 10 // a partial write
	fsys.mu.Unlock()
	_, err := l.Append(makeBatch(plain(2, 50, 1)), AppendOptions{})
	if !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on full disk: %v", err)
	}
	if !errors.Is(l.Offline(), syscall.ENOSPC) {
		t.Fatalf("Offline() = %v", l.Offline())
	}
	fsys.set(nil, nil) // space is back, but the log stays offline
	if _, err := l.Append(makeBatch(plain(1, 1, 1)), AppendOptions{}); !errors.Is(err, ErrStorage) {
		t.Fatalf("append on offline log: %v", err)
	}
	if l.LogEndOffset() != end || l.Size() != size {
		t.Fatalf("failed append changed the log: end %d size %d", l.LogEndOffset(), l.Size())
	}
	l.mu.RLock()
	act := l.active().size
	l.mu.RUnlock()
	if fi, _ := os.Stat(lastLogFile(t, dir)); fi.Size() != act {
		t.Fatalf("partial write left behind: file %d bytes, segment %d", fi.Size(), act)
	}
	checkLog(t, l, want) // reads still work
	if err := l.Maintain(); !errors.Is(err, ErrStorage) {
		t.Fatalf("Maintain on offline log: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, testOptions(newClock(), nil, nil))
	defer l.Close()
	checkLog(t, l, want)
	if r := mustAppend(t, l, makeBatch(plain(1, 1, 1)), AppendOptions{}); r.BaseOffset != end {
		t.Fatalf("reopened log appends at %d, want %d", r.BaseOffset, end)
	}
}

func TestFsyncErrorTakesLogOffline(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	l := mustOpen(t, dir, testOptions(newClock(), nil, fsys))
	want := map[int64][]byte{}
	appendRandom(t, l, rand.New(rand.NewPCG(3, 3)), 20, 1, want)
	fsys.set(nil, syscall.EIO)
	b := makeBatch(plain(1, 10, 1))
	r, err := l.Append(b, AppendOptions{Sync: true})
	if !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("append with failing fsync: %v", err)
	}
	want[r.BaseOffset] = bytes.Clone(b) // written, just not known durable
	if l.Offline() == nil {
		t.Fatalf("log not offline after fsync error")
	}
	if err := l.Sync(); !errors.Is(err, ErrStorage) {
		t.Fatalf("Sync on offline log: %v", err)
	}
	if _, err := l.Append(makeBatch(plain(1, 1, 1)), AppendOptions{}); !errors.Is(err, ErrStorage) {
		t.Fatalf("append on offline log: %v", err)
	}
	checkLog(t, l, want)
	fsys.set(nil, nil)
	l.Close()
	l = mustOpen(t, dir, testOptions(newClock(), nil, nil))
	defer l.Close()
	checkLog(t, l, want)
}

func TestSyncErrorWhileSealing(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	l := mustOpen(t, dir, testOptions(newClock(), nil, fsys))
	defer l.Close()
	appendRandom(t, l, rand.New(rand.NewPCG(4, 4)), 30, 1, nil) // rolls
	fsys.set(nil, syscall.EIO)
	if err := l.Maintain(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Maintain sealing with failing fsync: %v", err)
	}
	if l.Offline() == nil {
		t.Fatalf("not offline")
	}
}
