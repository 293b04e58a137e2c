package fetch

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/kafki/kafki/tiering/internal/segtest"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
	"github.com/kafki/kafki/tiering/upload"
)

var tp = remote.TopicPartition{Topic: "t", Partition: 0}

func uploaded(t *testing.T, n int) (objstore.Store, remote.Store, []*segtest.Segment) {
	t.Helper()
	store, err := objstore.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	meta, err := remote.OpenFileStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := upload.New(store, meta, nil)
	var segs []*segtest.Segment
	base := int64(0)
	for i := 0; i < n; i++ {
		s, err := segtest.Write(t.TempDir(), segtest.Spec{Base: base, Batches: 20, RecordsPerBatch: 2, ValueSize: 200, IndexInterval: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Upload(context.Background(), upload.Sealed{TP: tp, LogPath: s.LogPath, IndexPath: s.IndexPath}); err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
		base = s.Next
	}
	return store, meta, segs
}

// TestReadAhead: a sequential reader gets the following chunks, and at
// a segment's end the next segment's first chunks, fetched before it
// asks; a random reader gets none.
func TestReadAhead(t *testing.T) {
	store, meta, segs := uploaded(t, 2)
	r := NewReader(store, meta, Options{ChunkSize: 1000, ReadAhead: 2})
	defer r.Close()
	fin, _ := meta.List(context.Background(), tp)
	log0, _ := fin[0].Object(remote.KindLog)
	log1, _ := fin[1].Object(remote.KindLog)
	cached := func(o remote.Object, c int64) bool { _, ok := r.cache.get(cacheKey{o.Key, c}); return ok }

	res, err := r.Read(context.Background(), tp, 0, 1) // first read: not yet sequential
	if err != nil {
		t.Fatal(err)
	}
	r.prefetch.Wait()
	if cached(log0, 1) {
		t.Fatal("read-ahead on a first read")
	}
	res, err = r.Read(context.Background(), tp, res.NextOffset, 1) // continues: sequential
	if err != nil {
		t.Fatal(err)
	}
	r.prefetch.Wait()
	if !cached(log0, 1) || !cached(log0, 2) || cached(log0, 3) {
		t.Fatal("sequential read did not prefetch exactly the next 2 chunks")
	}
	// Read to the end of segment 0: segment 1's start gets prefetched.
	for off := res.NextOffset; off < segs[0].Next; {
		res, err = r.Read(context.Background(), tp, off, 1500)
		if err != nil {
			t.Fatal(err)
		}
		off = res.NextOffset
		r.prefetch.Wait() // each read finds a free slot for its read-ahead
	}
	if !cached(log1, 0) || !cached(log1, 1) {
		t.Fatal("next segment not prefetched at the end of the previous one")
	}
	st := r.Stats()
	res, err = r.Read(context.Background(), tp, segs[0].Next, 500)
	if err != nil || !bytes.HasPrefix(segs[1].Log, res.Records) {
		t.Fatalf("read of next segment: %v", err)
	}
	if after := r.Stats(); after.Misses != st.Misses {
		t.Fatalf("read after read-ahead missed the cache %d times", after.Misses-st.Misses)
	}
}

func TestReadAfterClose(t *testing.T) {
	store, meta, _ := uploaded(t, 1)
	r := NewReader(store, meta, Options{})
	r.Close()
	if _, err := r.Read(context.Background(), tp, 0, 100); err != ErrClosed {
		t.Fatalf("read after close: %v", err)
	}
}

// staleMeta answers List with a snapshot taken before a deletion, as a
// read racing with retention sees it.
type staleMeta struct {
	remote.Store
	snapshot []remote.Segment
	once     bool
}

func (m *staleMeta) List(ctx context.Context, tp remote.TopicPartition) ([]remote.Segment, error) {
	if !m.once {
		m.once = true
		return m.snapshot, nil
	}
	return m.Store.List(ctx, tp)
}

// TestReadRacingWithDeletion: a segment deleted between the metadata
// lookup and the GET is out of range, not a storage error.
func TestReadRacingWithDeletion(t *testing.T) {
	ctx := context.Background()
	store, meta, _ := uploaded(t, 2)
	snap, _ := meta.List(ctx, tp)
	seg := snap[0]
	if err := meta.Transition(ctx, tp, seg.ID, 0, remote.CopyFinished, remote.DeleteStarted); err != nil {
		t.Fatal(err)
	}
	for _, o := range seg.Objects {
		if err := store.Delete(ctx, o.Key); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(store, &staleMeta{Store: meta, snapshot: snap}, Options{})
	defer r.Close()
	if _, err := r.Read(ctx, tp, 0, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read of a segment deleted meanwhile: %v", err)
	}
}
