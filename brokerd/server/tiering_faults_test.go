package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/tiering/audit"
	"github.com/kafki/kafki/tiering/mototest"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// faultProxy is a reverse proxy in front of an S3 endpoint that, when
// enabled, fails a fraction of the requests the way S3 does under load
// (503 SlowDown, 500 InternalError, with S3's XML error body) or delays
// them. It is safe for concurrent use.
type faultProxy struct {
	URL string // http://127.0.0.1:port, for AWS_ENDPOINT_URL

	srv   *http.Server
	proxy *httputil.ReverseProxy

	mu    sync.Mutex
	rate  float64       // fraction of requests faulted, 0 off
	kinds []faultKind   // chosen uniformly for a faulted request
	delay time.Duration // for faultDelay

	proxied  atomic.Int64 // requests forwarded (delayed ones included)
	injected atomic.Int64 // requests answered with an error
	puts     atomic.Int64 // of which PUT (uploads)
}

type faultKind int

const (
	faultSlowDown faultKind = iota // 503 SlowDown
	faultInternal                  // 500 InternalError
	faultDelay                     // forwarded after faultProxy.delay
)

// startFaultProxy proxies to target (moto's endpoint) on a loopback port,
// stopped at test cleanup.
func startFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fp := &faultProxy{URL: "http://" + ln.Addr().String(), proxy: httputil.NewSingleHostReverseProxy(u)}
	// The Host header stays the proxy's: the SDK signed it (moto does
	// not check signatures, but the request is forwarded as signed).
	fp.srv = &http.Server{Handler: fp}
	go fp.srv.Serve(ln)
	t.Cleanup(func() { fp.srv.Close() })
	return fp
}

// set turns faults on (rate > 0) or off (rate 0).
func (fp *faultProxy) set(rate float64, delay time.Duration, kinds ...faultKind) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.rate, fp.delay, fp.kinds = rate, delay, kinds
}

func (fp *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fp.mu.Lock()
	rate, delay, kinds := fp.rate, fp.delay, fp.kinds
	fp.mu.Unlock()
	if rate > 0 && len(kinds) > 0 && rand.Float64() < rate {
		switch kinds[rand.IntN(len(kinds))] {
		case faultSlowDown:
			fp.fail(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
			return
		case faultInternal:
			fp.fail(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
			return
		case faultDelay:
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
	}
	fp.proxied.Add(1)
	fp.proxy.ServeHTTP(w, r)
}

func (fp *faultProxy) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	fp.injected.Add(1)
	if r.Method == http.MethodPut {
		fp.puts.Add(1)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>%s</Code><Message>%s</Message><RequestId>fault-%d</RequestId><HostId>faultproxy</HostId></Error>`,
		code, msg, fp.injected.Load())
}

// faultValue is the value of the record at offset i (one producer, so the
// offset is the sequence number): distinct per offset, so a record served
// at the wrong offset or from the wrong segment is caught.
func faultValue(i int64) []byte {
	v := fmt.Appendf(nil, "%010d|", i)
	fill := make([]byte, 90)
	rand.NewChaCha8([32]byte{byte(i), byte(i >> 8), byte(i >> 16), 'f'}).Read(fill)
	return append(v, fill...)
}

// checkBatches checks every record at or above from in a fetch
// response's record batches against faultValue and returns how many it
// saw; any difference is an error.
func checkBatches(raw []byte, from int64) (int, error) {
	n := 0
	it := batch.NewIter(raw)
	for it.Next() {
		b := it.Batch()
		h, err := batch.ParseHeader(b)
		if err != nil {
			return n, fmt.Errorf("batch header: %w", err)
		}
		err = batch.ForEachRecord(b, &h, batch.DecodeOptions{}, func(r *batch.Record) error {
			off := h.BaseOffset + int64(r.OffsetDelta)
			if off < from {
				return nil
			}
			if !bytes.Equal(r.Value, faultValue(off)) {
				return fmt.Errorf("offset %d holds %.16q, want %.16q", off, r.Value, faultValue(off))
			}
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	// A partial batch at the end of a size-limited fetch is normal.
	if err := it.Err(); err != nil && !errors.Is(err, batch.ErrTruncated) {
		return n, fmt.Errorf("record batches: %w", err)
	}
	return n, nil
}

// fetchOutcomes counts what fetches of the remote range got.
type fetchOutcomes struct{ data, empty, storageErr int }

func (o fetchOutcomes) String() string {
	return fmt.Sprintf("%d with data, %d empty, %d KAFKA_STORAGE_ERROR", o.data, o.empty, o.storageErr)
}

const (
	faultTopic     = "faulty"
	faultSegBytes  = 4096
	faultLocalKeep = 8192
	// faultLocalBound is what the local log may hold once uploads keep
	// up: local.retention.bytes, the active segment, one just rolled.
	faultLocalBound = faultLocalKeep + 2*faultSegBytes
)

// TestTieredS3FaultsThroughBroker puts a fault-injecting proxy between
// the broker and its S3 tier (moto) and checks, through the Kafka API:
//
//   - with a fraction of S3 requests failing or slow, producing goes on,
//     the hot tail is served, fetches of the remote range get the right
//     records, no records, or KAFKA_STORAGE_ERROR, never wrong ones, and
//     the local log never starts above what the tier committed;
//   - with S3 failing every request, producing goes on and the local log
//     keeps everything not uploaded, beyond local.retention.bytes;
//   - once faults stop, uploads complete, the local log shrinks back
//     within its bound, every record reads back byte for byte from offset
//     0, and the tier's audit finds no damaged committed object.
func TestTieredS3FaultsThroughBroker(t *testing.T) {
	moto := mototest.StartT(t)
	fp := startFaultProxy(t, moto.Endpoint)
	bucket := fmt.Sprintf("faults-%d", time.Now().UnixNano())
	s3, err := objstore.NewS3(moto.Config, objstore.S3Options{Bucket: bucket, UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL", fp.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", mototest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", mototest.SecretAccessKey)
	t.Setenv("AWS_REGION", mototest.Region)
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *config.Config) {
		c.TierS3Bucket, c.TierS3PathStyle = bucket, true
		c.RetentionCheckInterval = 20 * time.Millisecond
		c.TierSweepInterval = 100 * time.Millisecond
		c.TierFetchMaxWait = 300 * time.Millisecond
		// A small read cache, so that fetches of the remote range keep
		// going to S3 instead of being served from memory.
		c.TierCacheBytes = 8192
	}))
	if _, err := b.Topics().CreateTopic(t.Context(), faultTopic, 1, map[string]string{
		"segment.bytes":         fmt.Sprint(faultSegBytes),
		"remote.storage.enable": "true",
		"local.retention.bytes": fmt.Sprint(faultLocalKeep),
	}, false); err != nil {
		t.Fatal(err)
	}
	p := b.Topics().Partition(faultTopic, 0)
	cl := newClient(t, b.Addr(), kgo.ProducerLinger(0), kgo.DefaultProduceTopic(faultTopic),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordDeliveryTimeout(30*time.Second))
	var next int64 // the next offset to produce
	produce := func(n int64) error {
		for end := next + n; next < end; {
			var rs []*kgo.Record
			for i := next; i < min(next+10, end); i++ {
				rs = append(rs, &kgo.Record{Value: faultValue(i)})
			}
			res := cl.ProduceSync(context.Background(), rs...)
			if err := res.FirstErr(); err != nil {
				return fmt.Errorf("produce at %d: %w", next, err)
			}
			if got := res[0].Record.Offset; got != next {
				return fmt.Errorf("produced %d at offset %d", next, got)
			}
			next += int64(len(rs))
		}
		return nil
	}

	// Healthy: some segments reach S3 and leave the local disk.
	if err := produce(400); err != nil {
		t.Fatal(err)
	}
	waitCond(t, 20*time.Second, func() error {
		if p.Log().LogStartOffset() < 300 {
			return fmt.Errorf("local log start %d, want >= 300 (remote end %d)", p.Log().LogStartOffset(), p.Log().RemoteEnd())
		}
		return nil
	})
	if fp.proxied.Load() == 0 {
		t.Fatal("no S3 request went through the proxy: the test would inject nothing")
	}
	coldEnd := p.Log().LogStartOffset() // [0, coldEnd) is only in S3
	t.Logf("healthy: %d records, local log start %d", next, coldEnd)

	c := dialRaw(t, b.Addr())
	corr := int32(0)
	fetch := func(off int64, maxBytes int32) kmsg.FetchResponseTopicPartition {
		corr++
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(11)
		req.MaxBytes = maxBytes
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = faultTopic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = off, maxBytes, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.roundTrip(req, corr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	}
	// checkCold fetches a random offset of the remote-only range.
	checkCold := func(o *fetchOutcomes) {
		t.Helper()
		off := rand.Int64N(coldEnd)
		r := fetch(off, 4096)
		switch {
		case r.ErrorCode == kerr.KafkaStorageError.Code:
			o.storageErr++
		case r.ErrorCode != 0:
			t.Fatalf("fetch of remote offset %d: %v", off, kerr.ErrorForCode(r.ErrorCode))
		case len(r.RecordBatches) == 0:
			o.empty++
		default:
			if n, err := checkBatches(r.RecordBatches, off); err != nil {
				t.Fatalf("fetch of remote offset %d: wrong data: %v", off, err)
			} else if n == 0 {
				t.Fatalf("fetch of remote offset %d: batches without that offset", off)
			}
			o.data++
		}
	}
	// checkHot fetches the last records: always served, from local disk.
	// A fetch reads one segment of a partition, as Kafka's does, and
	// segments here roll every few batches: it takes as many fetches as
	// a consumer would, each of which must bring records.
	checkHot := func(end int64) {
		t.Helper()
		for off := max(end-5, 0); off < end; {
			r := fetch(off, 1<<20)
			if r.ErrorCode != 0 {
				t.Fatalf("hot-tail fetch at %d: %v", off, kerr.ErrorForCode(r.ErrorCode))
			}
			n, err := checkBatches(r.RecordBatches, off)
			if err != nil || n == 0 {
				t.Fatalf("hot-tail fetch at %d (end %d): %d records, %v", off, end, n, err)
			}
			off += int64(n)
		}
	}
	// checkNoLoss: the local log never starts above what the tier holds.
	checkNoLoss := func() {
		t.Helper()
		local := p.Log().LogStartOffset()
		end, ok, err := p.RemoteEnd(t.Context())
		if err != nil {
			t.Fatalf("remote end: %v", err)
		}
		if local > 0 && (!ok || local > end) {
			t.Fatalf("local log starts at %d but the tier holds up to %d (ok %v): records in between are lost", local, end, ok)
		}
	}
	// underLoad produces, paced, in the background while fetching cold
	// and hot offsets, until done reports nil (or timeout: a failure).
	underLoad := func(phase string, timeout time.Duration, done func() error) fetchOutcomes {
		t.Helper()
		var acked atomic.Int64
		acked.Store(next)
		stop := make(chan struct{})
		produced := make(chan error, 1)
		go func() {
			defer close(produced)
			// Pacing bounds the data per phase (about 500 records/s,
			// 17 segment rolls/s); it is load shape, not a wait.
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				if err := produce(10); err != nil {
					produced <- err
					return
				}
				acked.Store(next)
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		var o fetchOutcomes
		deadline := time.Now().Add(timeout)
		var err error
		for {
			checkCold(&o)
			checkHot(acked.Load())
			checkNoLoss()
			if err = done(); err == nil {
				break
			}
			if time.Now().After(deadline) {
				break
			}
		}
		close(stop)
		if perr := <-produced; perr != nil {
			t.Fatalf("%s: producing stopped: %v", phase, perr)
		}
		t.Logf("%s: produced up to %d; remote fetches: %v; local log %d bytes from %d, remote end %d; faults injected so far %d (%d on PUT), proxied %d",
			phase, next, o, p.Log().Size(), p.Log().LogStartOffset(), p.Log().RemoteEnd(), fp.injected.Load(), fp.puts.Load(), fp.proxied.Load())
		if err != nil {
			t.Fatalf("%s: after %v: %v", phase, timeout, err)
		}
		return o
	}

	// Flaky S3: errors and slow answers on 60% of the requests. Uploads
	// go on (the SDK retries): the phase lasts until many faults were
	// injected and the tier still gained several segments.
	fp.set(0.6, 300*time.Millisecond, faultSlowDown, faultInternal, faultDelay)
	faults0, end0 := fp.injected.Load(), p.Log().RemoteEnd()
	underLoad("flaky S3", 45*time.Second, func() error {
		if n := fp.injected.Load() - faults0; n < 30 {
			return fmt.Errorf("%d faults injected", n)
		}
		if gained := p.Log().RemoteEnd() - end0; gained < 5*30 {
			return fmt.Errorf("remote end gained %d offsets under faults", gained)
		}
		return nil
	})

	// S3 down: every request fails. Uploads cannot complete, so the local
	// log must keep what they would have removed, beyond its retention.
	fp.set(1, 0, faultSlowDown, faultInternal)
	puts0 := fp.puts.Load()
	underLoad("S3 down", 45*time.Second, func() error {
		if n := fp.puts.Load() - puts0; n < 5 {
			return fmt.Errorf("%d uploads (PUT) failed", n)
		}
		if size := p.Log().Size(); size <= faultLocalBound+2*faultSegBytes {
			return fmt.Errorf("local log %d bytes", size)
		}
		return nil
	})
	checkNoLoss()

	// Faults off: everything converges.
	fp.set(0, 0)
	waitCond(t, 60*time.Second, func() error {
		if size := p.Log().Size(); size > faultLocalBound {
			return fmt.Errorf("local log %d bytes, bound %d (local start %d, remote end %d)", size, faultLocalBound, p.Log().LogStartOffset(), p.Log().RemoteEnd())
		}
		return nil
	})
	checkNoLoss()
	checkHot(next)

	readAllFaulty(t, b, next)

	// The audit reads every committed object whole (with checksums).
	tp := remote.TopicPartition{Topic: faultTopic, Partition: 0}
	rep, err := b.Topics().Tier().Verify(t.Context(), tp, true)
	if err != nil {
		t.Fatalf("verify with checksums: %v", err)
	}
	for _, pr := range rep.Problems {
		if pr.Kind != audit.Orphan { // leftovers of failed uploads are the sweeper's
			t.Errorf("tier problem after recovery: %s %s: %s", pr.Kind, pr.Key, pr.Detail)
		}
	}
}

// readAllFaulty consumes the topic from offset 0 to end with a kgo client
// and compares every record with faultValue.
func readAllFaulty(t *testing.T, b *broker.Broker, end int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cons := newClient(t, b.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{faultTopic: {0: kgo.NewOffset().At(0)}}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()), kgo.FetchMaxPartitionBytes(8192))
	var got int64
	for got < end {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records from 0: %v", got, end, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != got || !bytes.Equal(r.Value, faultValue(got)) {
				t.Fatalf("record #%d: offset %d value %.16q", got, r.Offset, r.Value)
			}
			got++
		})
	}
	if st := b.Topics().Tier().ReaderStats(); st.Fetches == 0 {
		t.Fatal("no remote fetches: the head did not come from the tier")
	}
}

// waitCond polls cond every 10ms until it returns nil, failing the test
// with its last error after timeout.
func waitCond(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	poll.Must(t, timeout, "tiering", cond)
}

// BenchmarkHotTailUnderBackfill measures the hot tail (the newest
// records, from local disk) with and without another consumer reading the
// topic from offset 0 through the remote tier (S3 on moto): the latency of
// a hot-tail fetch, and of an acks=all produce of one record, each as p50
// and p99 in microseconds. The backfill must not stall either: remote
// reads run in their own bounded pool (see topics.Partition.ReadRemote).
func BenchmarkHotTailUnderBackfill(b *testing.B) {
	moto := mototest.StartT(b)
	bucket := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	s3, err := objstore.NewS3(moto.Config, objstore.S3Options{Bucket: bucket, UsePathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := s3.CreateBucket(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Setenv("AWS_ENDPOINT_URL", moto.Endpoint)
	b.Setenv("AWS_ACCESS_KEY_ID", mototest.AccessKeyID)
	b.Setenv("AWS_SECRET_ACCESS_KEY", mototest.SecretAccessKey)
	b.Setenv("AWS_REGION", mototest.Region)
	br := testbroker.StartBroker(b, testbroker.WithConfig(func(c *config.Config) {
		c.TierS3Bucket, c.TierS3PathStyle = bucket, true
		c.RetentionCheckInterval = 20 * time.Millisecond
	}))
	if _, err := br.Topics().CreateTopic(b.Context(), faultTopic, 1, map[string]string{
		"segment.bytes":         "65536",
		"remote.storage.enable": "true",
		"local.retention.bytes": "131072",
	}, false); err != nil {
		b.Fatal(err)
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.ProducerLinger(0), kgo.DefaultProduceTopic(faultTopic),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer pcl.Close()
	const records = 20000 // ~2 MB: about 30 segments, most only in S3
	for i := int64(0); i < records; i += 100 {
		var rs []*kgo.Record
		for j := i; j < i+100; j++ {
			rs = append(rs, &kgo.Record{Value: faultValue(j)})
		}
		if err := pcl.ProduceSync(b.Context(), rs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	p := br.Topics().Partition(faultTopic, 0)
	waitCond(b, 60*time.Second, func() error {
		if p.Log().LogStartOffset() < records/2 {
			return fmt.Errorf("local log start %d: uploads lag", p.Log().LogStartOffset())
		}
		return nil
	})
	hot := newHotFetcher(b, br.Addr())
	ops := map[string]func(i int) error{
		"fetch": func(int) error { return hot.fetch(records - 10) },
		"produce": func(i int) error {
			return pcl.ProduceSync(b.Context(), &kgo.Record{Value: faultValue(records + int64(i))}).FirstErr()
		},
	}
	for _, op := range []string{"fetch", "produce"} {
		for _, backfill := range []bool{false, true} {
			name := op + "/idle"
			if backfill {
				name = op + "/backfill"
			}
			b.Run(name, func(b *testing.B) {
				var stop func() float64
				if backfill {
					stop = startBackfill(b, br.Addr(), records/2)
				}
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					start := time.Now()
					if err := ops[op](i); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				b.StopTimer()
				if stop != nil {
					b.ReportMetric(stop(), "backfill-records/s")
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			})
		}
	}
	if br.Topics().Tier().ReaderStats().Fetches == 0 {
		b.Fatal("the backfill never read the remote tier")
	}
}

// startBackfill runs a consumer that reads the topic from offset 0 over
// and over (up to remoteEnd, the remote range) until the returned stop is
// called; stop returns the records per second it read. It returns once
// the consumer has read something.
func startBackfill(b *testing.B, addr string, remoteEnd int64) (stop func() float64) {
	ctx, cancel := context.WithCancel(b.Context())
	var backfilled atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	started := time.Now()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			cons, err := kgo.NewClient(kgo.SeedBrokers(addr),
				kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{faultTopic: {0: kgo.NewOffset().At(0)}}))
			if err != nil {
				return
			}
			for ctx.Err() == nil {
				recs := cons.PollFetches(ctx).Records()
				backfilled.Add(int64(len(recs)))
				if len(recs) > 0 && recs[len(recs)-1].Offset >= remoteEnd {
					break // past the remote range: start over
				}
			}
			cons.Close()
		}
	}()
	waitCond(b, 30*time.Second, func() error {
		if backfilled.Load() == 0 {
			return errors.New("the backfill consumer has read nothing")
		}
		return nil
	})
	return func() float64 {
		cancel()
		wg.Wait()
		return float64(backfilled.Load()) / time.Since(started).Seconds()
	}
}

// hotFetcher sends raw fetches on one connection (the benchmark's own
// goroutine only).
type hotFetcher struct {
	c    *rawConnTB
	corr int32
}

func newHotFetcher(tb testing.TB, addr string) *hotFetcher {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	return &hotFetcher{c: &rawConnTB{nc: nc}}
}

func (h *hotFetcher) fetch(off int64) error {
	h.corr++
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = faultTopic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = off, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := h.c.roundTrip(req, h.corr)
	if err != nil {
		return err
	}
	r := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if r.ErrorCode != 0 {
		return kerr.ErrorForCode(r.ErrorCode)
	}
	if n, err := checkBatches(r.RecordBatches, off); err != nil || n == 0 {
		return fmt.Errorf("hot fetch at %d: %d records, %v", off, n, err)
	}
	return nil
}

// rawConnTB is rawConn returning errors instead of failing a *testing.T,
// for benchmarks.
type rawConnTB struct{ nc net.Conn }

func (c *rawConnTB) roundTrip(req kmsg.Request, corr int32) (kmsg.Response, error) {
	rc := &rawConn{nc: c.nc}
	rc.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.nc.Write(frame(req, corr)); err != nil {
		return nil, err
	}
	b, err := rc.readFrame()
	if err != nil {
		return nil, err
	}
	if len(b) < 4 || int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])) != corr {
		return nil, errors.New("bad correlation id")
	}
	b = b[4:]
	if req.IsFlexible() {
		b = b[1:]
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	return resp, resp.ReadFrom(b)
}
