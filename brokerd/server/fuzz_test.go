package server

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/metrics"
	"github.com/kafki/kafki/brokerd/topics"
)

// newTestServer builds a Server over a real topic manager in a temporary
// directory, without a listener.
func newTestServer(t testing.TB) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	store, err := meta.OpenEmbedded(cfg.DataDir + "/__meta")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tm, err := topics.Open(t.Context(), &cfg, store, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tm.Close() })
	s := New(&cfg, tm, metrics.New(), log)
	s.host, s.port = "127.0.0.1", 9092
	return s
}

// encodeRequest frames req the way a client would, without the size prefix.
func encodeRequest(req kmsg.Request, correlationID int32) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "fuzz"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}

// FuzzRequest feeds arbitrary frames through header parsing, kmsg decoding
// and the handlers. Invariant: no panic, whatever the bytes; a frame is
// either answered or refused with an error (closing that connection only).
func FuzzRequest(f *testing.F) {
	topic := "fuzz"
	seeds := []kmsg.Request{
		func() kmsg.Request { r := kmsg.NewPtrApiVersionsRequest(); r.SetVersion(3); return r }(),
		func() kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			r.SetVersion(12)
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = &topic
			r.Topics = append(r.Topics, rt)
			r.AllowAutoTopicCreation = true
			return r
		}(),
		func() kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.SetVersion(9)
			r.Acks = -1
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 61, 0, 0, 0, 0, 2}
			rt.Partitions = append(rt.Partitions, rp)
			r.Topics = append(r.Topics, rt)
			return r
		}(),
		func() kmsg.Request {
			r := kmsg.NewPtrFetchRequest()
			r.SetVersion(12)
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes = 1 << 20
			rt.Partitions = append(rt.Partitions, rp)
			r.Topics = append(r.Topics, rt)
			return r
		}(),
		func() kmsg.Request {
			r := kmsg.NewPtrCreateTopicsRequest()
			r.SetVersion(7)
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "t2", 2, 1
			r.Topics = append(r.Topics, rt)
			return r
		}(),
		func() kmsg.Request { r := kmsg.NewPtrListOffsetsRequest(); r.SetVersion(7); return r }(),
		func() kmsg.Request { r := kmsg.NewPtrDescribeConfigsRequest(); r.SetVersion(4); return r }(),
	}
	for i, r := range seeds {
		f.Add(encodeRequest(r, int32(i)))
	}
	f.Add([]byte{0, 99, 0, 0, 0, 0, 0, 1, 255, 255})
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0, 0})

	s := newTestServer(f)
	s.cfg.MaxRequestBytes = 1 << 20
	s.cfg.MaxPartitions = 8 // keep fuzzed CreateTopics cheap
	s.cancelDrain()         // long polls return at once
	f.Fuzz(func(t *testing.T, frameBytes []byte) {
		client, srv := net.Pipe()
		defer client.Close()
		go io.Copy(io.Discard, client)
		c := newConn(s, srv)
		_ = s.dispatch(c, frame{buf: frameBytes, arrived: time.Now()})
		srv.Close()
	})
}
