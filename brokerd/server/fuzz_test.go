package server

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/metrics"
	"github.com/kafki/kafki/brokerd/topics"
)

// newTestServer builds a Server over a real topic manager in a temporary
// directory, without a listener; adjust changes the configuration first.
func newTestServer(t testing.TB, adjust ...func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	for _, fn := range adjust {
		fn(&cfg)
	}
	store, err := meta.OpenEmbedded(cfg.DataDir + "/__meta")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tm, err := topics.Open(t.Context(), topics.OptionsFrom(&cfg, log), store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tm.Close() })
	s, err := New(Options{
		NodeID: cfg.NodeID, ClusterID: cfg.ClusterID, AdvertisedAddr: "127.0.0.1:9092",
		AutoCreateTopics: cfg.AutoCreateTopics, MaxRequestBytes: cfg.MaxRequestBytes, DataDir: cfg.DataDir,
		TopicConfigs:  func(o map[string]string) []topics.ConfigEntry { return topics.EffectiveConfigs(&cfg, o) },
		BrokerConfigs: cfg.KafkaConfigs(),
		Topics:        tm, Metrics: metrics.New(), Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
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

// checkLogs reads every partition's log from its start to its end and
// fails unless it is a gapless run of batches that validate in full: what
// a fuzzed request managed to append must still be a well-formed log.
func checkLogs(t *testing.T, s *Server) {
	t.Helper()
	for _, tp := range s.topics.Topics() {
		for i, p := range tp.Partitions {
			l := p.Log()
			off, end := l.LogStartOffset(), l.LogEndOffset()
			for off < end {
				data, err := l.Read(off, 1<<20, end)
				if err != nil || len(data) == 0 {
					t.Fatalf("%s/%d: read at %d of [%d, %d): %d bytes, %v", tp.Name, i, off, l.LogStartOffset(), end, len(data), err)
				}
				it := batch.NewIter(data)
				for it.Next() {
					h, err := batch.Validate(it.Batch(), batch.ValidateOptions{AllowControl: true})
					if err != nil {
						t.Fatalf("%s/%d: batch at %d: %v", tp.Name, i, off, err)
					}
					if h.BaseOffset != off {
						t.Fatalf("%s/%d: batch base %d, want %d (gap or overlap)", tp.Name, i, h.BaseOffset, off)
					}
					off = h.LastOffset() + 1
				}
				if err := it.Err(); err != nil {
					t.Fatalf("%s/%d: batches read at %d: %v", tp.Name, i, off, err)
				}
			}
			if off != end {
				t.Fatalf("%s/%d: batches end at %d, log end %d", tp.Name, i, off, end)
			}
		}
	}
}

// FuzzRequest feeds arbitrary frames through header parsing, kmsg decoding
// and the handlers. Invariants: no panic, whatever the bytes; a frame is
// either answered or refused with an error (closing that connection only);
// and after every frame each partition's log still reads back from start
// to end as valid, contiguous batches (checkLogs).
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
	// A valid batch, so that fuzzing starts from appends that succeed.
	seeds = append(seeds, func() kmsg.Request {
		r := kmsg.NewPtrProduceRequest()
		r.SetVersion(9)
		r.Acks = 1
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch.Build([]batch.Record{{Key: []byte("k"), Value: []byte("v")}}, batch.BuildOptions{})
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return r
	}())
	for i, r := range seeds {
		f.Add(encodeRequest(r, int32(i)))
	}
	f.Add([]byte{0, 99, 0, 0, 0, 0, 0, 1, 255, 255})
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0, 0})
	// ApiVersions v3 whose tagged-field count (2^32-1) runs past the body
	// (kmsg v1.15.0 looped on it for over a minute).
	f.Add([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})

	s := newTestServer(f, func(c *config.Config) {
		c.MaxRequestBytes = 1 << 20
		c.MaxPartitions = 8 // keep fuzzed CreateTopics cheap
	})
	// Every served API at its lowest and highest version with default
	// fields, so that fuzzing starts inside each decoder and handler.
	for i, a := range s.apis() {
		for _, v := range []int16{a.min, a.max} {
			r := kmsg.RequestForKey(a.key)
			r.SetVersion(v)
			f.Add(encodeRequest(r, int32(1000+2*i)+int32(v)))
		}
	}
	s.cancelDrain() // long polls return at once
	f.Fuzz(func(t *testing.T, frameBytes []byte) {
		client, srv := net.Pipe()
		defer client.Close()
		go io.Copy(io.Discard, client)
		c := newConn(s, srv, &Listener{Name: "PLAINTEXT", Protocol: auth.Plaintext})
		_ = s.dispatch(c, frame{buf: frameBytes, arrived: time.Now()})
		srv.Close()
		checkLogs(t, s)
	})
}
