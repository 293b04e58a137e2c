package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
)

func TestEpochCacheEndOffsets(t *testing.T) {
	var c epochCache
	c.assign(0, 0)
	c.assign(0, 10) // same epoch: ignored
	c.assign(2, 20)
	c.assign(1, 30) // older epoch: never rewrites history
	c.assign(5, 40)
	for _, tc := range []struct {
		ask       int32
		wantEpoch int32
		wantEnd   int64
	}{
		{0, 0, 20}, {1, 0, 20}, {2, 2, 40}, {4, 2, 40}, {5, 5, 55}, {9, 5, 55}, {-1, -1, -1},
	} {
		e, end := c.endOffsetFor(tc.ask, 55)
		if e != tc.wantEpoch || end != tc.wantEnd {
			t.Errorf("epoch %d: got (%d, %d), want (%d, %d)", tc.ask, e, end, tc.wantEpoch, tc.wantEnd)
		}
	}
	c.truncateFromEnd(40)
	if c.latest() != 2 {
		t.Fatalf("latest %d after truncation at 40", c.latest())
	}
	back, err := decodeEpochs(c.encode())
	if err != nil || len(back.entries) != 2 || back.entries[1] != (epochEntry{2, 20}) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	for _, bad := range []string{"", "1\n0\n", "0\n2\n0 0\n", "0\n2\n3 5\n1 9\n", "0\n1\n0 0\nextra\n", "0\n1\nx y\n"} {
		if _, err := decodeEpochs([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Batches are stamped with the leader epoch, the history survives a
// reopen, and a missing or damaged checkpoint is rebuilt from the stamps.
func TestLeaderEpochHistoryStampedAndRecovered(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(newClock(), nil, nil)
	l := mustOpen(t, dir, o)
	// One record per batch: epoch 0 wrote 0-1, epoch 3 wrote 2-3, epoch 7 wrote 4.
	for _, epoch := range []int32{0, 0, 3, 3, 7} {
		mustAppend(t, l, makeBatch(plain(1, 10, 2)), AppendOptions{LeaderEpoch: epoch})
	}
	if e, end := l.EndOffsetForEpoch(3); e != 3 || end != 4 {
		t.Fatalf("epoch 3 ends at (%d, %d), want (3, 4)", e, end)
	}
	raw, err := l.Read(0, 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := batch.Split(raw)
	if h, _ := batch.ParseHeader(bs[2]); h.PartitionLeaderEpoch != 3 {
		t.Fatalf("third batch stamped with epoch %d", h.PartitionLeaderEpoch)
	}
	if _, err := batch.Validate(bs[2], batch.ValidateOptions{}); err != nil {
		t.Fatalf("stamped batch no longer valid: %v", err)
	}
	l.Close()

	for name, damage := range map[string]func(){
		"kept":    func() {},
		"missing": func() { os.Remove(filepath.Join(dir, leaderEpochFile)) },
		"damaged": func() { os.WriteFile(filepath.Join(dir, leaderEpochFile), []byte("0\n9\n"), 0o644) },
	} {
		damage()
		l := mustOpen(t, dir, o)
		if e, end := l.EndOffsetForEpoch(5); e != 3 || end != 4 {
			t.Errorf("%s: epoch 5 -> (%d, %d), want (3, 4)", name, e, end)
		}
		if e, end := l.EndOffsetForEpoch(7); e != 7 || end != 5 || l.LatestEpoch() != 7 {
			t.Errorf("%s: epoch 7 -> (%d, %d), latest %d", name, e, end, l.LatestEpoch())
		}
		l.Close()
	}
}

// The history a tiered segment carries stops at the segment's end.
func TestLeaderEpochsUpTo(t *testing.T) {
	l := &Log{}
	l.epochs.assign(0, 0)
	l.epochs.assign(3, 100)
	l.epochs.assign(7, 250)
	for _, tc := range []struct {
		end  int64
		want []epochEntry
	}{
		{0, nil}, {1, []epochEntry{{0, 0}}}, {100, []epochEntry{{0, 0}}},
		{101, []epochEntry{{0, 0}, {3, 100}}}, {1000, []epochEntry{{0, 0}, {3, 100}, {7, 250}}},
	} {
		got, err := decodeEpochs(l.LeaderEpochsUpTo(tc.end))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.entries) != len(tc.want) {
			t.Fatalf("up to %d: %v, want %v", tc.end, got.entries, tc.want)
		}
		for i := range tc.want {
			if got.entries[i] != tc.want[i] {
				t.Fatalf("up to %d: %v, want %v", tc.end, got.entries, tc.want)
			}
		}
	}
}
