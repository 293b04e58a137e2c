package groups

import (
	"context"
	"io"
	"log/slog"
	"math"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/storage"
)

// storageLog runs the coordinator on the real segmented log.
type storageLog struct{ l *storage.Log }

func (s storageLog) Append(b []byte) (func(context.Context) error, error) {
	bs, err := batch.Split(b)
	if err != nil {
		return nil, err
	}
	for _, one := range bs {
		if _, err := s.l.Append(one, storage.AppendOptions{Coordinator: true}); err != nil {
			return nil, err
		}
	}
	return func(context.Context) error { return nil }, nil
}
func (s storageLog) AppendMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32) (func(context.Context) error, error) {
	t := batch.ControlAbort
	if commit {
		t = batch.ControlCommit
	}
	if _, err := s.l.Append(batch.BuildMarker(pid, epoch, t, coordinatorEpoch, 0), storage.AppendOptions{}); err != nil {
		return nil, err
	}
	return func(context.Context) error { return nil }, nil
}
func (s storageLog) Read(off int64, n int) ([]byte, error) { return s.l.Read(off, n, math.MaxInt64) }
func (s storageLog) Start() int64                          { return s.l.LogStartOffset() }
func (s storageLog) End() int64                            { return s.l.LogEndOffset() }
func (s storageLog) Roll() error                           { return s.l.Roll() }
func (s storageLog) DeleteBefore(off int64) error          { return s.l.DeleteRecordsBefore(off) }

// Snapshots on the real log drop old segments, and a reopened log
// reloads the same state reading only the snapshot and what follows.
func TestSnapshotsOnSegmentedLog(t *testing.T) {
	dir := t.TempDir()
	open := func() *storage.Log {
		l, err := storage.Open(dir, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	e := newEnv(t, testConfig())
	e.logs = []Log{storageLog{l}}
	e.restart()
	for i := 0; i < 5000; i++ {
		if code := e.commit("g", -1, "", "t", int32(i%3), int64(i%900)); code != 0 {
			t.Fatalf("commit %d: %d", i, code)
		}
	}
	if l.LogStartOffset() == 0 || l.NumSegments() > 2 {
		t.Fatalf("after 5000 commits: log start %d, %d segments; snapshots did not trim", l.LogStartOffset(), l.NumSegments())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open()
	defer l.Close()
	e.logs = []Log{storageLog{l}}
	e.c = New(e.cfg, e.opener(), e.topics, e.clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	st, err := e.c.Load()
	if err != nil {
		t.Fatal(err)
	}
	if st.RecordsRead > 2*3+e.cfg.SnapshotMinRecords+1 {
		t.Fatalf("reload read %d records", st.RecordsRead)
	}
	for p, want := range map[int32]int64{0: 4998 % 900, 1: 4999 % 900, 2: 4997 % 900} {
		if got := e.fetched("g", "t", p); got != want {
			t.Fatalf("partition %d: %d, want %d", p, got, want)
		}
	}
}
