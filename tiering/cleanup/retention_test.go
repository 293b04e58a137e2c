package cleanup

import (
	"context"
	"testing"
	"time"

	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

var tp = remote.TopicPartition{Topic: "t", Partition: 0}

// finishedSegments records segments with the given sizes and max
// timestamps directly in the metadata store (no objects needed:
// deleting a missing object succeeds).
func finishedSegments(t *testing.T, meta remote.Store, sizes, maxTs []int64) {
	t.Helper()
	ctx := context.Background()
	base := int64(0)
	for i := range sizes {
		id, err := remote.NewID(base)
		if err != nil {
			t.Fatal(err)
		}
		seg := remote.Segment{
			TopicPartition: tp, ID: id, BaseOffset: base, LastOffset: base + 9, MaxTimestamp: maxTs[i], Size: sizes[i],
			Objects: []remote.Object{{Kind: remote.KindLog, Key: remote.ObjectKey(tp, id, remote.KindLog), Size: sizes[i]}},
		}
		if err := meta.Create(ctx, seg); err != nil {
			t.Fatal(err)
		}
		if err := meta.Transition(ctx, tp, id, 0, remote.CopyStarted, remote.CopyFinished); err != nil {
			t.Fatal(err)
		}
		base += 10
	}
}

func TestRetentionRules(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	for _, tc := range []struct {
		name          string
		sizes, maxTs  []int64
		policy        Policy
		local         int64
		deleted       int
		wantStart     int64
		wantHasRemote bool
	}{
		{"unlimited", []int64{10, 10}, []int64{1, 2}, Policy{-1, -1}, 0, 0, 0, true},
		{"time", []int64{10, 10, 10}, []int64{100, 200, 999_000}, Policy{RetentionMs: 1000, RetentionBytes: -1}, 0, 2, 20, true},
		// Only a prefix: a young segment stops deletion of older-stamped ones behind it.
		{"time prefix only", []int64{10, 10}, []int64{999_500, 100}, Policy{RetentionMs: 1000, RetentionBytes: -1}, 0, 0, 0, true},
		{"bytes keeps at least the limit", []int64{10, 10, 10}, []int64{1, 2, 3}, Policy{RetentionMs: -1, RetentionBytes: 15}, 0, 1, 10, true},
		{"bytes counts local", []int64{10, 10, 10}, []int64{1, 2, 3}, Policy{RetentionMs: -1, RetentionBytes: 15}, 10, 2, 20, true},
		{"everything", []int64{10, 10}, []int64{1, 2}, Policy{RetentionMs: 0, RetentionBytes: -1}, 0, 2, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := objstore.OpenLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			meta, err := remote.OpenFileStore(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			finishedSegments(t, meta, tc.sizes, tc.maxTs)
			r := NewRetention(store, meta, func() time.Time { return now })
			res, err := r.Apply(context.Background(), tp, 0, tc.policy, tc.local)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Deleted) != tc.deleted || res.HasRemote != tc.wantHasRemote || (res.HasRemote && res.LogStartOffset != tc.wantStart) {
				t.Fatalf("deleted %d start %d has %v; want %d %d %v", len(res.Deleted), res.LogStartOffset, res.HasRemote, tc.deleted, tc.wantStart, tc.wantHasRemote)
			}
			left, _ := meta.List(context.Background(), tp)
			if len(left) != len(tc.sizes)-tc.deleted {
				t.Fatalf("%d records left", len(left))
			}
		})
	}
}
