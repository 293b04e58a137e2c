package remote

import (
	"context"
	"errors"
	"testing"
)

var tp = TopicPartition{Topic: "orders", Partition: 3}

func seg(id string, base, last int64, epoch int32) Segment {
	return Segment{
		TopicPartition: tp, ID: id, BaseOffset: base, LastOffset: last, LeaderEpoch: epoch,
		Objects: []Object{{Kind: KindLog, Key: ObjectKey(tp, id, KindLog), Size: 10}},
	}
}

func TestFileStoreLifecycleAndFencing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenFileStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Create(ctx, seg("a", 0, 99, 5)))
	if err := s.Create(ctx, seg("a", 0, 99, 5)); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	must(s.Transition(ctx, tp, "a", 5, CopyStarted, CopyFinished))
	if err := s.Transition(ctx, tp, "a", 5, CopyStarted, CopyFinished); !errors.Is(err, ErrStateConflict) {
		t.Fatalf("second commit: %v", err)
	}

	// A segment that adds no offsets cannot be committed.
	must(s.Create(ctx, seg("dup", 50, 99, 5)))
	if err := s.Transition(ctx, tp, "dup", 5, CopyStarted, CopyFinished); !errors.Is(err, ErrNoProgress) {
		t.Fatalf("commit of covered range: %v", err)
	}

	// A new leader fences; the old one can no longer commit or delete.
	must(s.Create(ctx, seg("b", 100, 199, 5)))
	must(s.Fence(ctx, tp, 6))
	if err := s.Transition(ctx, tp, "b", 5, CopyStarted, CopyFinished); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("stale commit: %v", err)
	}
	if err := s.Transition(ctx, tp, "a", 5, CopyFinished, DeleteStarted); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("stale delete mark: %v", err)
	}
	if err := s.Create(ctx, seg("c", 200, 299, 4)); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("stale create: %v", err)
	}
	if err := s.Transition(ctx, tp, "a", 6, CopyFinished, CopyStarted); !errors.Is(err, ErrStateConflict) {
		t.Fatalf("backwards transition: %v", err)
	}
	if err := s.Remove(ctx, tp, "a", 6); !errors.Is(err, ErrStateConflict) {
		t.Fatalf("remove of a finished segment: %v", err)
	}
	must(s.Transition(ctx, tp, "b", 6, CopyStarted, CopyFinished))

	// Everything survives a reopen, including the fence.
	s2, err := OpenFileStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := s2.List(ctx, tp)
	must(err)
	fin := Finished(segs)
	if len(segs) != 3 || len(fin) != 2 || fin[0].ID != "a" || fin[1].ID != "b" {
		t.Fatalf("after reopen: %+v", segs)
	}
	if err := s2.Fence(ctx, tp, 5); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("fence lost on reopen: %v", err)
	}
	must(s2.Transition(ctx, tp, "a", 6, CopyFinished, DeleteStarted))
	must(s2.Remove(ctx, tp, "a", 6))
	if err := s2.Remove(ctx, tp, "a", 6); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	parts, err := s2.Partitions(ctx)
	if err != nil || len(parts) != 1 || parts[0] != tp {
		t.Fatalf("partitions: %v %v", parts, err)
	}
}

func TestFind(t *testing.T) {
	fin := []Segment{
		{ID: "a", BaseOffset: 0, LastOffset: 99, State: CopyFinished},
		{ID: "b", BaseOffset: 50, LastOffset: 150, State: CopyFinished}, // overlaps a (new leader's roll)
		{ID: "c", BaseOffset: 200, LastOffset: 299, State: CopyFinished},
	}
	for _, tc := range []struct {
		off  int64
		want string
	}{{0, "a"}, {49, "a"}, {50, "b"}, {150, "b"}, {151, ""}, {199, ""}, {200, "c"}, {299, "c"}, {300, ""}, {-1, ""}} {
		got, ok := Find(fin, tc.off)
		if (tc.want == "") == ok || (ok && got.ID != tc.want) {
			t.Errorf("Find(%d) = %q %v, want %q", tc.off, got.ID, ok, tc.want)
		}
	}
	if start, end, ok := Bounds(fin); !ok || start != 0 || end != 300 {
		t.Errorf("Bounds = %d %d %v", start, end, ok)
	}
}

func TestSegmentIDOfKey(t *testing.T) {
	id, ok := SegmentIDOfKey(tp, ObjectKey(tp, "00000000000000000042-ab", KindIndex))
	if !ok || id != "00000000000000000042-ab" {
		t.Fatalf("got %q %v", id, ok)
	}
	for _, k := range []string{"orders/30/x.log", "orders/3/x", "orders/3/d/x.log", "other/3/x.log"} {
		if _, ok := SegmentIDOfKey(tp, k); ok {
			t.Errorf("%s parsed as a segment object", k)
		}
	}
}
