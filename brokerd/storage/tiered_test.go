package storage

import (
	"os"
	"sync"
	"testing"
	"time"
)

// fillSegments appends until the log has at least n sealed segments.
func fillSegments(t *testing.T, l *Log, clock *fakeClock, n int) {
	t.Helper()
	for l.NumSegments() <= n {
		mustAppend(t, l, makeBatch(plain(1, 100, clock.Ms())), AppendOptions{})
	}
}

func TestLocalRetentionWaitsForUpload(t *testing.T) {
	clock := newClock()
	o := testOptions(clock, nil, nil)
	o.Config.RemoteStorage = true
	o.Config.RetentionBytes = -1 // total: unlimited
	o.Config.LocalRetentionBytes = 0
	var mu sync.Mutex
	var offered []SealedSegment
	o.OnSealed = func(s SealedSegment) {
		mu.Lock()
		offered = append(offered, s)
		mu.Unlock()
	}
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	fillSegments(t, l, clock, 4)
	segs := l.NumSegments()

	// Past local.retention.bytes but not uploaded: nothing goes.
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != segs || l.LogStartOffset() != 0 {
		t.Fatalf("deleted before upload: %d segments (had %d), start %d", l.NumSegments(), segs, l.LogStartOffset())
	}
	sealed := l.SealedSegments()
	mu.Lock()
	nOffered := len(offered)
	mu.Unlock()
	if len(sealed) != segs-1 || nOffered != segs-1 {
		t.Fatalf("%d sealed, %d offered, want %d", len(sealed), nOffered, segs-1)
	}
	for i, s := range sealed {
		if _, err := os.Stat(s.LogPath); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(s.IndexPath); err != nil {
			t.Fatal(err)
		}
		if i > 0 && s.BaseOffset != sealed[i-1].NextOffset {
			t.Fatalf("gap between sealed segments: %+v", sealed)
		}
	}

	// Uploaded up to the end of the second segment: exactly two go.
	l.MarkUploaded(sealed[1].NextOffset)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != sealed[1].NextOffset || l.NumSegments() != segs-2 {
		t.Fatalf("start %d segments %d, want %d and %d", l.LogStartOffset(), l.NumSegments(), sealed[1].NextOffset, segs-2)
	}
	if _, err := os.Stat(sealed[0].LogPath); !os.IsNotExist(err) {
		t.Fatalf("uploaded segment file still there: %v", err)
	}
	// A mark in the middle of a segment does not let it go.
	l.MarkUploaded(sealed[2].NextOffset - 1)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != sealed[1].NextOffset {
		t.Fatalf("partly uploaded segment deleted: start %d", l.LogStartOffset())
	}
	// The mark never moves back.
	l.MarkUploaded(1)
	if l.RemoteEnd() != sealed[2].NextOffset-1 {
		t.Fatalf("remote end %d", l.RemoteEnd())
	}
}

func TestLocalRetentionMsSameAsRetention(t *testing.T) {
	clock := newClock()
	o := testOptions(clock, nil, nil)
	o.Config.RemoteStorage = true
	o.Config.RetentionMs = time.Hour // local.retention.ms -2 (default): an hour too
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	fillSegments(t, l, clock, 2)
	clock.Advance(2 * time.Hour)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 0 {
		t.Fatal("retention.ms deleted a segment that is not uploaded")
	}
	l.MarkUploaded(l.LogEndOffset())
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() == 0 {
		t.Fatal("uploaded segments past retention.ms not deleted")
	}
}

func TestWithoutRemoteStorageMarkIsIgnored(t *testing.T) {
	clock := newClock()
	o := testOptions(clock, nil, nil)
	o.Config.RetentionBytes = 0
	o.Config.LocalRetentionBytes = -1 // ignored without RemoteStorage
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	fillSegments(t, l, clock, 3)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != 1 {
		t.Fatalf("retention.bytes=0 kept %d segments", l.NumSegments())
	}
}
