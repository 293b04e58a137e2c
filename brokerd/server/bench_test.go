package server

import (
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/batch"
)

func benchRecords(n, size int) []batch.Record {
	out := make([]batch.Record, n)
	v := make([]byte, size)
	for i := range v {
		v[i] = byte(i)
	}
	for i := range out {
		out[i] = batch.Record{Value: v}
	}
	return out
}

// benchConn is a connection whose writes go to a goroutine that discards
// them, so the benchmark measures the broker's side only.
func benchConn(b *testing.B, s *Server) *conn {
	client, srv := net.Pipe()
	go io.Copy(io.Discard, client)
	b.Cleanup(func() { client.Close(); srv.Close() })
	return newConn(s, srv, &Listener{Name: "PLAINTEXT", Protocol: auth.Plaintext})
}

// BenchmarkFetch measures the fetch path end to end below the socket:
// decode, read from the segment, encode, write. B/op does not show copies
// of record bytes (read buffers and response frames are pooled), so the
// benchmark measures them per record byte returned (the topic's fetched
// bytes metric):
//
//   - pread-B/rec-B: bytes the process read from files (/proc/self/io
//     rchar; Linux only), the kernel-to-user copy into the read buffer,
//     including the index slack read around the wanted batches;
//   - frame-B/rec-B: bytes of response frames written to the connection,
//     into which kmsg's encoder copied the record bytes;
//   - copies/rec-B: their sum, the user-space touches of each returned
//     record byte.
func BenchmarkFetch(b *testing.B) {
	s := newTestServer(b)
	if _, err := s.topics.CreateTopic(b.Context(), "bench", 1, nil, false); err != nil {
		b.Fatal(err)
	}
	p := s.topics.Partition("bench", 0)
	const batches = 256
	for i := 0; i < batches; i++ { // 256 batches of 16 KiB: 4 MiB
		if _, err := p.Append(batch.Build(benchRecords(160, 100), batch.BuildOptions{}), false); err != nil {
			b.Fatal(err)
		}
	}
	end := p.HighWatermark()
	var frameBytes atomic.Int64
	client, srv := net.Pipe()
	go io.Copy(countingDiscard{&frameBytes}, client)
	b.Cleanup(func() { client.Close(); srv.Close() })
	c := newConn(s, srv, &Listener{Name: "PLAINTEXT", Protocol: auth.Plaintext})
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "bench"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	fetched0 := fetchedBytes(b, s, "bench")
	read0, haveIO := processReadBytes()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := (int64(i) * 160 * 60) % end // move through the log
		req.Topics[0].Partitions[0].FetchOffset = off - off%160
		f := frame{buf: encodeRequest(req, int32(i)), arrived: time.Now()}
		if err := s.dispatch(c, f); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	read1, _ := processReadBytes()
	// net.Pipe's Write returns once the reader has taken every byte, so
	// the count is complete when dispatch has returned.
	fetched := fetchedBytes(b, s, "bench") - fetched0
	if fetched <= 0 {
		b.Fatal("no record bytes fetched")
	}
	b.SetBytes(int64(fetched / float64(b.N)))
	frameRatio := float64(frameBytes.Load()) / fetched
	b.ReportMetric(frameRatio, "frame-B/rec-B")
	if haveIO {
		readRatio := float64(read1-read0) / fetched
		b.ReportMetric(readRatio, "pread-B/rec-B")
		b.ReportMetric(readRatio+frameRatio, "copies/rec-B")
	}
}

// countingDiscard counts and drops what is written to it.
type countingDiscard struct{ n *atomic.Int64 }

func (w countingDiscard) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// fetchedBytes is the kafki_topic_fetched_bytes_total counter of topic.
func fetchedBytes(b *testing.B, s *Server, topic string) float64 {
	b.Helper()
	mfs, err := s.metrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kafki_topic_fetched_bytes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "topic" && l.GetValue() == topic {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// processReadBytes is the bytes this process has read through read(2) and
// pread(2) so far (/proc/self/io rchar); false where that file is missing.
func processReadBytes() (int64, bool) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// BenchmarkProduce measures the produce path below the socket: decode,
// validate, append (no fsync), encode the answer.
func BenchmarkProduce(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(map[int]string{100: "100B", 1024: "1KiB"}[size], func(b *testing.B) {
			s := newTestServer(b)
			if _, err := s.topics.CreateTopic(b.Context(), "bench", 1, map[string]string{"segment.bytes": "67108864", "retention.bytes": "134217728"}, false); err != nil {
				b.Fatal(err)
			}
			c := benchConn(b, s)
			n := 16384 / size
			recs := batch.Build(benchRecords(n, size), batch.BuildOptions{})
			req := kmsg.NewPtrProduceRequest()
			req.SetVersion(9)
			req.Acks = 1
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "bench"
			rp := kmsg.NewProduceRequestTopicPartition()
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			b.SetBytes(int64(len(recs)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req.Topics[0].Partitions[0].Records = recs
				f := frame{buf: encodeRequest(req, int32(i)), arrived: time.Now()}
				if err := s.dispatch(c, f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
