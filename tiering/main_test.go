package tiering

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/tiering/fetch"
	"github.com/kafki/kafki/tiering/internal/segtest"
	"github.com/kafki/kafki/tiering/mototest"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
	"github.com/kafki/kafki/tiering/upload"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, &moto)) }

var tp = remote.TopicPartition{Topic: "events", Partition: 1}

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

var bucketSeq atomic.Int64

// newStore returns a fresh store of kind "local" or "s3"; httpClient
// (S3 only) may inject faults.
func newStore(t testing.TB, kind string, httpClient *faultClient) objstore.Store {
	t.Helper()
	if kind == "local" {
		s, err := objstore.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	opts := objstore.S3Options{
		Bucket: fmt.Sprintf("tiering-%d", bucketSeq.Add(1)), Prefix: "tier/", UsePathStyle: true,
		PartSize: objstore.MinPartSize, BaseBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxAttempts: 5,
	}
	if httpClient != nil {
		opts.HTTPClient = httpClient
	}
	s, err := objstore.NewS3(moto.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// env is a tier over one store with a file metadata store and a clock.
type env struct {
	t     testing.TB
	store objstore.Store
	meta  remote.Store
	clock *clock
	tier  *Tier
	dir   string // local segment files
}

func newEnv(t testing.TB, store objstore.Store, meta remote.Store, ro fetch.Options) *env {
	t.Helper()
	c := newClock()
	if meta == nil {
		fs, err := remote.OpenFileStore(t.TempDir(), c.now)
		if err != nil {
			t.Fatal(err)
		}
		meta = fs
	}
	e := &env{t: t, store: store, meta: meta, clock: c, dir: t.TempDir()}
	e.tier = New(Config{Store: store, Meta: meta, Reader: ro, SweepGrace: time.Hour, Now: c.now})
	t.Cleanup(func() { e.tier.Close() })
	return e
}

// writeSegments writes n contiguous segments from offset 0, alternating
// codecs, with timestamps increasing across segments.
func (e *env) writeSegments(n, batches, records, valueSize int) []*segtest.Segment {
	return e.write(n, batches, records, valueSize, batch.CompressionNone, batch.CompressionZstd, batch.CompressionLZ4)
}

// writeSegmentsPlain is writeSegments without compression.
func (e *env) writeSegmentsPlain(n, batches, records, valueSize int) []*segtest.Segment {
	return e.write(n, batches, records, valueSize, batch.CompressionNone)
}

func (e *env) write(n, batches, records, valueSize int, codecs ...batch.Compression) []*segtest.Segment {
	e.t.Helper()
	var segs []*segtest.Segment
	base := int64(0)
	for i := 0; i < n; i++ {
		s, err := segtest.Write(e.dir, segtest.Spec{
			Base: base, Batches: batches, RecordsPerBatch: records, ValueSize: valueSize,
			BaseTimestamp: 1_000_000 + int64(i)*10_000, IndexInterval: 700, Compression: codecs[i%len(codecs)],
		})
		if err != nil {
			e.t.Fatal(err)
		}
		segs = append(segs, s)
		base = s.Next
	}
	return segs
}

func sealed(s *segtest.Segment, epoch int32) upload.Sealed {
	return upload.Sealed{
		TP: tp, LeaderEpoch: epoch,
		LogPath: s.LogPath, IndexPath: s.IndexPath, TimeIndexPath: s.TimeIndexPath, SnapshotPath: s.SnapshotPath,
		LeaderEpochs: []byte(fmt.Sprintf("0\n1\n%d 0\n", epoch)),
	}
}

func (e *env) uploadAll(segs []*segtest.Segment, epoch int32) {
	e.t.Helper()
	for _, s := range segs {
		if _, err := e.tier.OnSegmentSealed(context.Background(), sealed(s, epoch)); err != nil {
			e.t.Fatalf("upload %s: %v", s.LogPath, err)
		}
	}
}

func (e *env) finished() []remote.Segment {
	e.t.Helper()
	segs, err := e.meta.List(context.Background(), tp)
	if err != nil {
		e.t.Fatal(err)
	}
	return remote.Finished(segs)
}

func (e *env) objects() []objstore.ObjectInfo {
	e.t.Helper()
	objs, err := e.store.List(context.Background(), remote.PartitionPrefix(tp))
	if err != nil {
		e.t.Fatal(err)
	}
	return objs
}

// faultClient fails or delays S3 requests matching a predicate.
type faultClient struct {
	mu       sync.Mutex
	failNext int                      // fail this many more matching requests
	always   bool                     // fail every matching request
	status   int                      // 500 or 503 (SlowDown)
	delay    time.Duration            // added to every request
	match    func(*http.Request) bool // nil: all
	faults   int
}

func (f *faultClient) set(fn func(*faultClient)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faultClient) Do(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := (f.always || f.failNext > 0) && (f.match == nil || f.match(req))
	if fail {
		f.failNext--
		f.faults++
	}
	status, delay := f.status, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	if !fail {
		return http.DefaultClient.Do(req)
	}
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	code := "InternalError"
	if status == http.StatusServiceUnavailable {
		code = "SlowDown"
	}
	body := "<Error><Code>" + code + "</Code><Message>injected</Message></Error>"
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Request: req,
		Header: http.Header{"Content-Type": {"application/xml"}}, ContentLength: int64(len(body)),
		Body: io.NopCloser(strings.NewReader(body)),
	}, nil
}
