package upload

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/tiering/internal/segtest"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

var tp = remote.TopicPartition{Topic: "t", Partition: 0}

func setup(t *testing.T) (*Uploader, *objstore.Local, *remote.FileStore, *segtest.Segment) {
	t.Helper()
	store, err := objstore.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	meta, err := remote.OpenFileStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := segtest.Write(t.TempDir(), segtest.Spec{Base: 100, Batches: 5, RecordsPerBatch: 3, ValueSize: 20, BaseTimestamp: 5000, IndexInterval: 100})
	if err != nil {
		t.Fatal(err)
	}
	return New(store, meta, nil), store, meta, seg
}

func TestUploadRecordsWhatItStored(t *testing.T) {
	u, store, _, seg := setup(t)
	got, err := u.Upload(context.Background(), Sealed{TP: tp, LeaderEpoch: 3, LogPath: seg.LogPath, IndexPath: seg.IndexPath, LeaderEpochs: []byte("epochs")})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != remote.CopyFinished || got.BaseOffset != 100 || got.LastOffset != seg.Next-1 || got.MaxTimestamp != seg.MaxTimestamp || got.LeaderEpoch != 3 {
		t.Fatalf("metadata %+v", got)
	}
	if len(got.Objects) != 3 {
		t.Fatalf("objects %+v, want log, index, epochs", got.Objects)
	}
	for _, o := range got.Objects {
		rc, err := store.Get(context.Background(), o.Key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(b)) != o.Size || crcOf(b) != o.CRC32C {
			t.Fatalf("object %s: %d bytes crc %08x, recorded %d %08x", o.Key, len(b), crcOf(b), o.Size, o.CRC32C)
		}
	}
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func TestUploadRejectsBadSegments(t *testing.T) {
	u, store, meta, seg := setup(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	second := seg.Positions[1]
	// Two batches with a gap between their offsets.
	gap := append([]byte(nil), seg.Log[:second]...)
	b := append([]byte(nil), seg.Log[seg.Positions[2]:seg.Positions[3]]...)
	batch.SetBaseOffset(b, seg.Headers[2].BaseOffset)
	gap = append(gap, b...)
	for name, data := range map[string][]byte{
		"empty":   nil,
		"torn":    seg.Log[:len(seg.Log)-3],
		"garbage": append(append([]byte(nil), seg.Log[:second]...), make([]byte, 100)...),
		"gap":     gap,
	} {
		_, err := u.Upload(context.Background(), Sealed{TP: tp, LogPath: write(name, data)})
		if !errors.Is(err, ErrBadSegment) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if objs, _ := store.List(context.Background(), ""); len(objs) != 0 {
		t.Fatalf("bad segments left objects: %+v", objs)
	}
	if segs, _ := meta.List(context.Background(), tp); len(segs) != 0 {
		t.Fatalf("bad segments left records: %+v", segs)
	}
}

// failingPuts fails the Put of one object kind.
type failingPuts struct {
	objstore.Store
	kind remote.Kind
}

var errPut = errors.New("injected put failure")

func (f *failingPuts) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if len(key) > len(f.kind) && key[len(key)-len(f.kind):] == string(f.kind) {
		return errPut
	}
	return f.Store.Put(ctx, key, r, size)
}

// TestFailedUploadCleansUp: a failing object Put leaves no record and no
// objects when the metadata store still works.
func TestFailedUploadCleansUp(t *testing.T) {
	_, store, meta, seg := setup(t)
	u := New(&failingPuts{Store: store, kind: remote.KindSnapshot}, meta, nil)
	_, err := u.Upload(context.Background(), Sealed{TP: tp, LogPath: seg.LogPath, IndexPath: seg.IndexPath, SnapshotPath: seg.SnapshotPath})
	if !errors.Is(err, errPut) {
		t.Fatalf("upload: %v", err)
	}
	if objs, _ := store.List(context.Background(), ""); len(objs) != 0 {
		t.Fatalf("objects left: %+v", objs)
	}
	if segs, _ := meta.List(context.Background(), tp); len(segs) != 0 {
		t.Fatalf("records left: %+v", segs)
	}
}

// changingStore rewrites the log file while its Put runs.
type changingStore struct {
	objstore.Store
	path string
}

func (c *changingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if len(key) > 4 && key[len(key)-4:] == ".log" {
		b, _ := os.ReadFile(c.path)
		b[len(b)-1] ^= 0xff
		os.WriteFile(c.path, b, 0o644)
	}
	return c.Store.Put(ctx, key, r, size)
}

func TestFileChangedDuringUpload(t *testing.T) {
	_, store, meta, seg := setup(t)
	u := New(&changingStore{Store: store, path: seg.LogPath}, meta, nil)
	if _, err := u.Upload(context.Background(), Sealed{TP: tp, LogPath: seg.LogPath}); !errors.Is(err, ErrVerify) {
		t.Fatalf("upload of a changing file: %v", err)
	}
	if segs, _ := meta.List(context.Background(), tp); len(remote.Finished(segs)) != 0 {
		t.Fatal("changed file committed")
	}
}
