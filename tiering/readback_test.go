package tiering

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/tiering/fetch"
	"github.com/kafki/kafki/tiering/internal/segtest"
	"github.com/kafki/kafki/tiering/remote"
)

var storeKinds = []string{"local", "s3"}

// smallReader forces chunk boundaries inside batches and cache evictions.
var smallReader = fetch.Options{ChunkSize: 1000, CacheBytes: 8000, MaxConcurrent: 3, ReadAhead: 2}

// batchRef is one batch of the written segments.
type batchRef struct {
	h     batch.Header
	bytes []byte
}

func allBatches(segs []*segtest.Segment) ([]batchRef, []byte) {
	var refs []batchRef
	var all []byte
	for _, s := range segs {
		for i, h := range s.Headers {
			refs = append(refs, batchRef{h, s.Log[s.Positions[i] : s.Positions[i]+int64(h.Size())]})
		}
		all = append(all, s.Log...)
	}
	return refs, all
}

// consumeAll reads from offset 0 to end the way a consumer fetches.
func consumeAll(t *testing.T, tier *Tier, end int64, maxBytes int) []byte {
	t.Helper()
	var got []byte
	for off := int64(0); off < end; {
		res, err := tier.ReadRemote(context.Background(), tp, off, maxBytes)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		h, err := batch.ParseHeader(res.Records)
		if err != nil || h.BaseOffset > off || h.LastOffset() < off {
			t.Fatalf("read at %d: first batch [%d,%d], err %v", off, h.BaseOffset, h.LastOffset(), err)
		}
		if res.NextOffset <= off {
			t.Fatalf("read at %d made no progress", off)
		}
		got = append(got, res.Records...)
		off = res.NextOffset
	}
	return got
}

func TestUploadAndReadBack(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, newStore(t, kind, nil), nil, smallReader)
			segs := e.writeSegments(6, 30, 5, 100)
			e.uploadAll(segs, 1)
			refs, all := allBatches(segs)
			end := segs[len(segs)-1].Next

			if start, gotEnd, ok, err := e.tier.RemoteBounds(ctx, tp); err != nil || !ok || start != 0 || gotEnd != end {
				t.Fatalf("bounds: %d %d %v %v, want 0 %d", start, gotEnd, ok, err, end)
			}
			fin := e.finished()
			if len(fin) != len(segs) {
				t.Fatalf("%d finished segments, want %d", len(fin), len(segs))
			}
			for i, f := range fin {
				if f.BaseOffset != segs[i].Headers[0].BaseOffset || f.LastOffset != segs[i].Next-1 ||
					f.Size != int64(len(segs[i].Log)) || f.MaxTimestamp != segs[i].MaxTimestamp || len(f.Objects) != 5 {
					t.Fatalf("segment %d metadata %+v", i, f)
				}
			}

			// A consumer's sequential read, small and large fetch sizes:
			// byte for byte, across every segment boundary.
			for _, maxBytes := range []int{1, 1500, 1 << 20} {
				if got := consumeAll(t, e.tier, end, maxBytes); !bytes.Equal(got, all) {
					t.Fatalf("maxBytes %d: read back %d bytes, differ from the %d written", maxBytes, len(got), len(all))
				}
			}

			// Every offset of the batches at segment boundaries, and of a
			// sample elsewhere, returns exactly the batch holding it.
			for i, ref := range refs {
				if i%7 != 0 && i%30 > 1 && i%30 < 28 {
					continue
				}
				for off := ref.h.BaseOffset; off <= ref.h.LastOffset(); off++ {
					res, err := e.tier.ReadRemote(ctx, tp, off, 1)
					if err != nil {
						t.Fatalf("read %d: %v", off, err)
					}
					if !bytes.Equal(res.Records, ref.bytes) || res.NextOffset != ref.h.LastOffset()+1 {
						t.Fatalf("read %d: got %d bytes next %d, want batch [%d,%d]", off, len(res.Records), res.NextOffset, ref.h.BaseOffset, ref.h.LastOffset())
					}
				}
			}
			if _, err := e.tier.ReadRemote(ctx, tp, end, 1000); !errors.Is(err, fetch.ErrOffsetOutOfRange) {
				t.Fatalf("read at end: %v", err)
			}
			if _, err := e.tier.ReadRemote(ctx, remote.TopicPartition{Topic: "other"}, 0, 1000); !errors.Is(err, fetch.ErrOffsetOutOfRange) {
				t.Fatalf("read of unknown partition: %v", err)
			}
			if st := e.tier.ReaderStats(); st.CachedBytes > smallReader.CacheBytes {
				t.Fatalf("cache holds %d bytes, budget %d", st.CachedBytes, smallReader.CacheBytes)
			}
		})
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, newStore(t, kind, nil), nil, smallReader)
			segs := e.writeSegments(3, 20, 4, 50)
			e.uploadAll(segs, 1)
			refs, _ := allBatches(segs)
			// Reference: earliest offset with timestamp >= ts, by brute force.
			want := func(ts int64) (int64, bool) {
				for _, r := range refs {
					for j := int64(0); j <= int64(r.h.LastOffsetDelta); j++ {
						if r.h.BaseTimestamp+j >= ts {
							return r.h.BaseOffset + j, true
						}
					}
				}
				return 0, false
			}
			var probes []int64
			for _, r := range refs {
				probes = append(probes, r.h.BaseTimestamp-1, r.h.BaseTimestamp, r.h.BaseTimestamp+2, r.h.MaxTimestamp, r.h.MaxTimestamp+1)
			}
			probes = append(probes, 0, 1<<40)
			for _, ts := range probes {
				got, ok, err := e.tier.OffsetForTimestamp(context.Background(), tp, ts)
				w, wok := want(ts)
				if err != nil || ok != wok || got != w {
					t.Fatalf("ts %d: got %d %v %v, want %d %v", ts, got, ok, err, w, wok)
				}
			}
		})
	}
}

// TestLargeSegmentMultipart uploads a segment above the S3 part size,
// so it goes up in parts, and reads it back whole.
func TestLargeSegmentMultipart(t *testing.T) {
	e := newEnv(t, newStore(t, "s3", nil), nil, fetch.Options{ChunkSize: 256 << 10})
	segs := e.writeSegments(1, 70, 10, 10_000) // ~7 MB, two parts
	if len(segs[0].Log) <= 5<<20 {
		t.Fatalf("segment of %d bytes is not multipart", len(segs[0].Log))
	}
	e.uploadAll(segs, 1)
	_, all := allBatches(segs)
	if got := consumeAll(t, e.tier, segs[0].Next, 1<<20); !bytes.Equal(got, all) {
		t.Fatal("multipart segment read back differs")
	}
}
