package audit

import (
	"bytes"
	"context"
	"testing"

	"github.com/kafki/kafki/tiering/internal/segtest"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
	"github.com/kafki/kafki/tiering/upload"
)

var tp = remote.TopicPartition{Topic: "t", Partition: 2}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	store, err := objstore.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	meta, err := remote.OpenFileStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := upload.New(store, meta, nil)
	var segs []remote.Segment
	base := int64(0)
	for i := 0; i < 3; i++ {
		s, err := segtest.Write(t.TempDir(), segtest.Spec{Base: base, Batches: 5, RecordsPerBatch: 2, ValueSize: 50, IndexInterval: 100})
		if err != nil {
			t.Fatal(err)
		}
		seg, err := u.Upload(ctx, upload.Sealed{TP: tp, LogPath: s.LogPath, IndexPath: s.IndexPath, TimeIndexPath: s.TimeIndexPath})
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, seg)
		base = s.Next
	}
	rep, err := Verify(ctx, store, meta, tp, true)
	if err != nil || !rep.OK() || len(rep.Segments) != 3 || rep.RemoteBytes != segs[0].Size+segs[1].Size+segs[2].Size {
		t.Fatalf("clean tier: %+v %v", rep, err)
	}

	// Damage: same-size corruption, truncation, a deletion, a stray.
	log0, _ := segs[0].Object(remote.KindLog)
	flipped := make([]byte, log0.Size)
	must(t, store.Put(ctx, log0.Key, bytes.NewReader(flipped), log0.Size))
	idx1, _ := segs[1].Object(remote.KindIndex)
	must(t, store.Put(ctx, idx1.Key, bytes.NewReader([]byte{1}), 1))
	log2, _ := segs[2].Object(remote.KindLog)
	must(t, store.Delete(ctx, log2.Key))
	stray := remote.ObjectKey(tp, "00000000000000000777-abcd", remote.KindLog)
	must(t, store.Put(ctx, stray, bytes.NewReader([]byte("x")), 1))

	rep, err = Verify(ctx, store, meta, tp, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[ProblemKind]string{ChecksumMismatch: log0.Key, SizeMismatch: idx1.Key, Missing: log2.Key, Orphan: stray}
	if len(rep.Problems) != len(want) {
		t.Fatalf("problems %+v", rep.Problems)
	}
	for _, p := range rep.Problems {
		if want[p.Kind] != p.Key {
			t.Errorf("unexpected %+v", p)
		}
	}
	// Without checksums the same-size corruption goes unseen.
	if rep, _ := Verify(ctx, store, meta, tp, false); len(rep.Problems) != 3 {
		t.Fatalf("size-only audit: %+v", rep.Problems)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
