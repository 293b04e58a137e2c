package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/tiering/internal/segtest"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// memStore is an in-memory objstore.Store for fuzzing (no fsyncs).
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func (m *memStore) Put(_ context.Context, key string, r io.Reader, size int64) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = b
	return nil
}

func (m *memStore) Get(_ context.Context, key string, off, n int64) (io.ReadCloser, error) {
	m.mu.Lock()
	b, ok := m.objs[key]
	m.mu.Unlock()
	if !ok {
		return nil, objstore.ErrNotFound
	}
	if off > int64(len(b)) {
		return nil, objstore.ErrInvalidRange
	}
	b = b[off:]
	if n >= 0 && n < int64(len(b)) {
		b = b[:n]
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memStore) Stat(context.Context, string) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, errors.New("unused")
}
func (m *memStore) Delete(context.Context, string) error { return errors.New("unused") }
func (m *memStore) List(context.Context, string) ([]objstore.ObjectInfo, error) {
	return nil, errors.New("unused")
}

// fixedMeta lists a fixed set of segments (no files, so fuzzing is fast).
type fixedMeta struct {
	remote.Store // nil: other methods are not called
	segs         []remote.Segment
}

func (m fixedMeta) List(context.Context, remote.TopicPartition) ([]remote.Segment, error) {
	return m.segs, nil
}

// FuzzRead feeds arbitrary log and index objects to Read and
// OffsetForTimestamp. Invariant: no panic, and whatever Read returns is
// whole batches that pass their CRC, the first holding the offset.
func FuzzRead(f *testing.F) {
	seg, err := segtest.Write(f.TempDir(), segtest.Spec{Base: 0, Batches: 4, RecordsPerBatch: 2, ValueSize: 10, IndexInterval: 50})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seg.Log, []byte{0, 0, 0, 2, 0, 0, 0, 80}, int64(3), int64(0))
	f.Add(seg.Log[:100], []byte{}, int64(0), int64(5))
	f.Add(seg.Log, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, int64(7), int64(1<<40))
	f.Fuzz(func(t *testing.T, log, index []byte, offset, ts int64) {
		if len(log) == 0 {
			return
		}
		ctx := context.Background()
		tp := remote.TopicPartition{Topic: "f", Partition: 0}
		store := &memStore{objs: map[string][]byte{"l": log, "i": index, "t": index}}
		rec := remote.Segment{TopicPartition: tp, ID: "s", BaseOffset: 0, LastOffset: 7, MaxTimestamp: 1 << 50, Size: int64(len(log)),
			State: remote.CopyFinished,
			Objects: []remote.Object{
				{Kind: remote.KindLog, Key: "l", Size: int64(len(log))},
				{Kind: remote.KindIndex, Key: "i", Size: int64(len(index))},
				{Kind: remote.KindTimeIndex, Key: "t", Size: int64(len(index))},
			}}
		meta := fixedMeta{segs: []remote.Segment{rec}}
		r := NewReader(store, meta, Options{ChunkSize: 64, ReadAhead: -1})
		defer r.Close()
		offset = ((offset % 8) + 8) % 8
		res, err := r.Read(ctx, tp, offset, 100)
		if err == nil {
			first := true
			it := batch.NewIter(res.Records)
			for it.Next() {
				b := it.Batch()
				h, herr := batch.ParseHeader(b)
				if herr != nil || batch.CheckCRC(b, &h) != nil {
					t.Fatalf("served a bad batch: %v", herr)
				}
				if first && (h.BaseOffset > offset || h.LastOffset() < offset) {
					t.Fatalf("first batch [%d,%d] does not hold %d", h.BaseOffset, h.LastOffset(), offset)
				}
				first = false
			}
			if it.Err() != nil || first {
				t.Fatalf("records do not split into batches: %v", it.Err())
			}
		} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("unexpected error: %v", err)
		}
		_, _, _ = r.OffsetForTimestamp(ctx, tp, ts)
	})
}
