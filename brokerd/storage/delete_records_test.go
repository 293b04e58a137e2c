package storage

import (
	"errors"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
)

func appendN(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		b := batch.Build([]batch.Record{{Value: []byte("v")}}, batch.BuildOptions{BaseTimestamp: 1})
		if _, err := l.Append(b, AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// Rolling then deleting before the roll point drops every older segment,
// and the new start survives a reopen because it is the first segment.
func TestDeleteRecordsBeforeRollPoint(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 5)
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 3)
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	cut := l.LogEndOffset() // 8
	appendN(t, l, 2)
	if err := l.DeleteRecordsBefore(cut); err != nil {
		t.Fatal(err)
	}
	if got := l.LogStartOffset(); got != cut {
		t.Fatalf("log start %d, want %d", got, cut)
	}
	if got := l.NumSegments(); got != 1 {
		t.Fatalf("%d segments, want 1", got)
	}
	if _, err := l.Read(cut-1, 1<<20, 1<<62); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v, want ErrOffsetOutOfRange", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LogStartOffset() != cut || l.LogEndOffset() != cut+2 {
		t.Fatalf("after reopen [%d, %d), want [%d, %d)", l.LogStartOffset(), l.LogEndOffset(), cut, cut+2)
	}
}

// A point inside a segment keeps that segment; the active one is kept.
func TestDeleteRecordsBeforeKeepsContainingSegment(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendN(t, l, 4)
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 4)
	if err := l.DeleteRecordsBefore(6); err != nil {
		t.Fatal(err)
	}
	if got := l.LogStartOffset(); got != 4 {
		t.Fatalf("log start %d, want 4 (base of the segment holding 6)", got)
	}
	if err := l.DeleteRecordsBefore(100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond end: %v", err)
	}
}
