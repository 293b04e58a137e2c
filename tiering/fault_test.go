package tiering

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafki/kafki/tiering/fetch"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// TestS3FaultsDuringUploadAndRead: throttling, 5xx and slow responses
// are retried; the data read back is intact.
func TestS3FaultsDuringUploadAndRead(t *testing.T) {
	fc := &faultClient{status: http.StatusServiceUnavailable}
	e := newEnv(t, newStore(t, "s3", fc), nil, smallReader)
	segs := e.writeSegments(3, 10, 3, 100)
	// Two faults in a row at every stage (within MaxAttempts 5).
	for i, s := range segs {
		status := []int{http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusServiceUnavailable}[i]
		fc.set(func(f *faultClient) { f.failNext, f.status, f.delay = 2, status, 5*time.Millisecond })
		if _, err := e.tier.OnSegmentSealed(context.Background(), sealed(s, 1)); err != nil {
			t.Fatalf("upload %d with faults: %v", i, err)
		}
	}
	fc.set(func(f *faultClient) {
		f.failNext = 1 << 30
		// Every other GET fails once: reads see throttling throughout.
		var n atomic.Int64
		f.match = func(r *http.Request) bool { return r.Method == http.MethodGet && n.Add(1)%2 == 0 }
	})
	_, all := allBatches(segs)
	if got := consumeAll(t, e.tier, segs[2].Next, 700); !bytes.Equal(got, all) {
		t.Fatal("read back with faults differs")
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.faults < 10 {
		t.Fatalf("only %d faults injected", fc.faults)
	}
}

// TestS3Down: a store that keeps failing gives clear errors, commits
// nothing and serves nothing wrong; once it is back, everything works.
func TestS3Down(t *testing.T) {
	ctx := context.Background()
	fc := &faultClient{status: http.StatusServiceUnavailable}
	e := newEnv(t, newStore(t, "s3", fc), nil, smallReader)
	segs := e.writeSegments(2, 10, 3, 100)
	e.uploadAll(segs[:1], 1)

	fc.set(func(f *faultClient) { f.always = true })
	_, err := e.tier.OnSegmentSealed(ctx, sealed(segs[1], 1))
	if err == nil || !strings.Contains(err.Error(), "SlowDown") {
		t.Fatalf("upload against a down store: %v", err)
	}
	if fin := e.finished(); len(fin) != 1 {
		t.Fatalf("%d finished segments after a failed upload", len(fin))
	}
	_, err = e.tier.ReadRemote(ctx, tp, 0, 1000)
	if err == nil || errors.Is(err, fetch.ErrCorrupt) || errors.Is(err, fetch.ErrOffsetOutOfRange) {
		t.Fatalf("read against a down store: %v", err)
	}

	fc.set(func(f *faultClient) { f.always = false })
	e.uploadAll(segs[1:], 1)
	_, all := allBatches(segs)
	if got := consumeAll(t, e.tier, segs[1].Next, 1<<20); !bytes.Equal(got, all) {
		t.Fatal("read back after recovery differs")
	}
}

// gatedStore counts concurrent Gets and can hold them until released.
type gatedStore struct {
	objstore.Store
	gate      chan struct{} // nil: no gating
	inflight  atomic.Int64
	maxFlight atomic.Int64
}

func (g *gatedStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	cur := g.inflight.Add(1)
	defer g.inflight.Add(-1)
	for {
		m := g.maxFlight.Load()
		if cur <= m || g.maxFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Store.Get(ctx, key, off, n)
}

// TestConcurrentReads: many readers at random offsets get the right
// batches, and object-store concurrency stays within MaxConcurrent.
func TestConcurrentReads(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			store := &gatedStore{Store: newStore(t, kind, nil)}
			e := newEnv(t, store, nil, smallReader)
			segs := e.writeSegments(4, 20, 3, 100)
			e.uploadAll(segs, 1)
			refs, _ := allBatches(segs)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(seed uint64) {
					defer wg.Done()
					r := rand.New(rand.NewPCG(seed, 1))
					for i := 0; i < 40; i++ {
						ref := refs[r.IntN(len(refs))]
						off := ref.h.BaseOffset + int64(r.IntN(int(ref.h.LastOffsetDelta)+1))
						res, err := e.tier.ReadRemote(context.Background(), tp, off, 1)
						if err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(res.Records, ref.bytes) {
							errs <- errors.New("wrong batch")
							return
						}
					}
				}(uint64(g))
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if m := store.maxFlight.Load(); m > int64(smallReader.MaxConcurrent) {
				t.Fatalf("%d concurrent GETs, limit %d", m, smallReader.MaxConcurrent)
			}
		})
	}
}

// TestSlowStoreDoesNotBlockOthers: while every slot waits on a stuck
// store, a reader with a deadline gets its deadline error (not a hang),
// and a read served from the cache completes at once.
func TestSlowStoreDoesNotBlockOthers(t *testing.T) {
	ctx := context.Background()
	store := &gatedStore{Store: newStore(t, "local", nil)}
	e := newEnv(t, store, nil, fetch.Options{ChunkSize: 1 << 20, MaxConcurrent: 2, ReadAhead: -1})
	segs := e.writeSegments(3, 10, 3, 100)
	e.uploadAll(segs, 1)
	if _, err := e.tier.ReadRemote(ctx, tp, 0, 1<<20); err != nil { // warms segment 0
		t.Fatal(err)
	}
	store.gate = make(chan struct{})
	var wg sync.WaitGroup
	stuckCtx, cancelStuck := context.WithCancel(ctx)
	for _, s := range segs[1:] { // two readers occupy both slots
		wg.Add(1)
		go func(off int64) {
			defer wg.Done()
			e.tier.ReadRemote(stuckCtx, tp, off, 1000)
		}(s.Headers[0].BaseOffset)
	}
	for store.inflight.Load() < 2 {
		time.Sleep(time.Millisecond) // wait for the two GETs to be stuck
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := e.tier.ReadRemote(dctx, tp, segs[2].Next-1, 1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with all slots busy: %v", err)
	}
	if res, err := e.tier.ReadRemote(ctx, tp, 0, 1<<20); err != nil || !bytes.Equal(res.Records, segs[0].Log) {
		t.Fatalf("cached read while the store is stuck: %v", err)
	}
	cancelStuck()
	close(store.gate)
	wg.Wait()
}

// TestCorruptRemoteData: damaged objects give ErrCorrupt, never a panic
// or bytes that do not parse.
func TestCorruptRemoteData(t *testing.T) {
	ctx := context.Background()
	store := newStore(t, "local", nil)
	e := newEnv(t, store, nil, smallReader)
	segs := e.writeSegments(1, 10, 3, 100)
	e.uploadAll(segs, 1)
	seg := e.finished()[0]
	logObj, _ := seg.Object(remote.KindLog)
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 50; i++ {
		bad := append([]byte(nil), segs[0].Log...)
		for j := 0; j < 4; j++ {
			bad[r.IntN(len(bad))] = byte(r.Uint32())
		}
		if err := store.Put(ctx, logObj.Key, bytes.NewReader(bad), int64(len(bad))); err != nil {
			t.Fatal(err)
		}
		fresh := New(Config{Store: store, Meta: e.meta, Reader: smallReader})
		for off := int64(0); off < segs[0].Next; off += 7 {
			res, err := fresh.ReadRemote(ctx, tp, off, 1<<20)
			if err != nil {
				if !errors.Is(err, fetch.ErrCorrupt) {
					t.Fatalf("damaged read at %d: %v", off, err)
				}
				continue
			}
			// Served bytes must be exactly the original batches.
			if !bytes.Contains(segs[0].Log, res.Records) || res.NextOffset <= off {
				t.Fatalf("damaged read at %d served damaged bytes", off)
			}
		}
		fresh.Close()
	}
}
