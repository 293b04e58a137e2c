package storage

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
)

// spec describes a test batch.
type spec struct {
	records int
	value   int   // bytes per record value
	ts      int64 // first record's timestamp
	tsStep  int64 // timestamp delta between records
	pid     int64 // -1 = not idempotent
	epoch   int16
	seq     int32
}

func plain(records, value int, ts int64) spec {
	return spec{records: records, value: value, ts: ts, pid: -1, seq: -1}
}

// makeBatch encodes an uncompressed v2 batch with base offset 0.
func makeBatch(s spec) []byte {
	if s.records < 1 {
		s.records = 1
	}
	var recs []byte
	maxTs := s.ts
	for i := 0; i < s.records; i++ {
		var r []byte
		r = append(r, 0) // attributes
		r = binary.AppendVarint(r, int64(i)*s.tsStep)
		r = binary.AppendVarint(r, int64(i))
		r = binary.AppendVarint(r, -1) // null key
		r = binary.AppendVarint(r, int64(s.value))
		r = append(r, bytes.Repeat([]byte{byte('a' + i%26)}, s.value)...)
		r = binary.AppendVarint(r, 0) // headers
		recs = binary.AppendVarint(recs, int64(len(r)))
		recs = append(recs, r...)
		if t := s.ts + int64(i)*s.tsStep; t > maxTs {
			maxTs = t
		}
	}
	b := make([]byte, batch.HeaderSize, batch.HeaderSize+len(recs))
	be := binary.BigEndian
	be.PutUint32(b[8:], uint32(batch.HeaderSize-batch.LengthPrefix+len(recs)))
	b[16] = 2
	be.PutUint32(b[23:], uint32(s.records-1))
	be.PutUint64(b[27:], uint64(s.ts))
	be.PutUint64(b[35:], uint64(maxTs))
	be.PutUint64(b[43:], uint64(s.pid))
	be.PutUint16(b[51:], uint16(s.epoch))
	be.PutUint32(b[53:], uint32(s.seq))
	be.PutUint32(b[57:], uint32(s.records))
	b = append(b, recs...)
	be.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// splitBatches parses concatenated batches, failing the test on garbage.
func splitBatches(t testing.TB, b []byte) []batch.Header {
	t.Helper()
	var hs []batch.Header
	for len(b) > 0 {
		h, err := batch.ParseHeader(b)
		if err != nil {
			t.Fatalf("parse returned batches: %v", err)
		}
		if err := batch.CheckCRC(b, &h); err != nil {
			t.Fatalf("returned batch at %d: %v", h.BaseOffset, err)
		}
		hs = append(hs, h)
		b = b[h.Size():]
	}
	return hs
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Ms() int64 { return c.Now().UnixMilli() }

// faultFS wraps OSFS to inject errors and simulate crashes.
type faultFS struct {
	OSFS
	mu        sync.Mutex
	writeErr  error // returned by WriteAt on .log files
	shortBy   int   // with writeErr: bytes actually written = len-shortBy
	syncErr   error // returned by Sync on .log files
	open      map[*faultFile]bool
	syncCalls int
}

func newFaultFS() *faultFS { return &faultFS{open: map[*faultFile]bool{}} }

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	file, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	ff := &faultFile{File: file, fs: f, isLog: strings.HasSuffix(name, logSuffix)}
	f.mu.Lock()
	f.open[ff] = true
	f.mu.Unlock()
	return ff, nil
}

func (f *faultFS) set(writeErr, syncErr error) {
	f.mu.Lock()
	f.writeErr, f.syncErr = writeErr, syncErr
	f.mu.Unlock()
}

// crash closes every file the log has open, without any flush: the log
// object is abandoned as a killed process would leave it.
func (f *faultFS) crash() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ff := range f.open {
		ff.File.Close()
	}
	f.open = map[*faultFile]bool{}
}

type faultFile struct {
	*os.File
	fs    *faultFS
	isLog bool
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	err, short := f.fs.writeErr, f.fs.shortBy
	f.fs.mu.Unlock()
	if err != nil && f.isLog {
		n, _ := f.File.WriteAt(p[:max(len(p)-short, 0)], off)
		return n, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	err := f.fs.syncErr
	f.fs.syncCalls++
	f.fs.mu.Unlock()
	if err != nil && f.isLog {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Close() error {
	f.fs.mu.Lock()
	delete(f.fs.open, f)
	f.fs.mu.Unlock()
	return f.File.Close()
}

func (f *faultFile) Stat() (fs.FileInfo, error) { return f.File.Stat() }

// testOptions returns options with small segments, a fake clock, a
// captured logger and the given FS (nil = OSFS).
func testOptions(clock *fakeClock, logs *syncBuffer, fsys FS) Options {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1024
	cfg.IndexIntervalBytes = 256
	cfg.RetentionMs = -1
	cfg.SegmentMs = 0
	o := Options{Config: cfg, Now: clock.Now, FS: fsys}
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func mustOpen(t testing.TB, dir string, o Options) *Log {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte, o AppendOptions) AppendResult {
	t.Helper()
	r, err := l.Append(b, o)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return r
}

// readAll reads the whole log with Read, checking each returned batch,
// and returns the batches' bytes keyed by base offset.
func readAll(t testing.TB, l *Log) map[int64][]byte {
	t.Helper()
	out := map[int64][]byte{}
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		b, err := l.Read(off, 3000, l.LogEndOffset())
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(b) == 0 {
			t.Fatalf("Read(%d) returned nothing before the log end %d", off, l.LogEndOffset())
		}
		for _, h := range splitBatches(t, b) {
			if h.BaseOffset != off {
				t.Fatalf("batch base %d, expected %d", h.BaseOffset, off)
			}
			out[h.BaseOffset] = b[:h.Size()]
			b = b[h.Size():]
			off = h.LastOffset() + 1
		}
	}
	return out
}

func segmentFiles(t testing.TB, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const time2h = 2 * time.Hour

func removeFile(path string) error { return os.Remove(path) }

func hdr(pid int64, epoch int16, seq, lastDelta int32, base int64) *batch.Header {
	return &batch.Header{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, LastOffsetDelta: lastDelta, BaseOffset: base}
}
