package server

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

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
	return newConn(s, srv)
}

// BenchmarkFetch measures the fetch path end to end below the socket:
// decode, read from the segment, encode, write. B/op divided by the bytes
// fetched per op shows how many times record bytes are copied in user space
// (about 2: the pread into a buffer and kmsg's encoding into the frame).
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
	c := benchConn(b, s)
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "bench"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

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
	b.SetBytes(1 << 20)
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
