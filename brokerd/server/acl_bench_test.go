package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/metrics"
	"github.com/kafki/kafki/brokerd/topics"
)

// aclBenchServer is a server with the ACL authorizer over 10,000
// bindings (a literal WRITE and READ and a prefixed READ for each of
// 3,334 principals' topics), ANONYMOUS allowed to write and read "bench".
func aclBenchServer(b *testing.B) *Server {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	store, err := meta.OpenEmbedded(cfg.DataDir + "/__meta")
	if err != nil {
		b.Fatal(err)
	}
	var bs []acl.Binding
	for i := 0; len(bs) < 9_998; i++ {
		p := fmt.Sprintf("User:app%d", i)
		bs = append(bs,
			acl.Binding{Resource: auth.Topic(fmt.Sprintf("orders-%d", i)), Principal: p, Host: "*", Op: auth.OpWrite, Permission: acl.PermAllow},
			acl.Binding{Resource: auth.Topic(fmt.Sprintf("events-%d", i)), Principal: p, Host: "*", Op: auth.OpRead, Permission: acl.PermAllow},
			acl.Binding{Resource: auth.Resource{Type: auth.ResourceTopic, Name: fmt.Sprintf("tenant%d.", i), Pattern: auth.PatternPrefixed}, Principal: p, Host: "*", Op: auth.OpRead, Permission: acl.PermAllow})
	}
	bs = append(bs[:9_998],
		acl.Binding{Resource: auth.Topic("bench"), Principal: auth.Anonymous.String(), Host: "*", Op: auth.OpWrite, Permission: acl.PermAllow},
		acl.Binding{Resource: auth.Topic("bench"), Principal: auth.Anonymous.String(), Host: "*", Op: auth.OpRead, Permission: acl.PermAllow})
	if err := store.PutACLs(context.Background(), bs); err != nil {
		b.Fatal(err)
	}
	a := acl.New(acl.Options{Store: store})
	if err := a.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	// The benchmarks measure allowed requests: check the ACLs allow them.
	sess := auth.NewSession("PLAINTEXT", auth.Plaintext, nil)
	res := a.AppendAuthorize(nil, &auth.Request{Session: sess}, []auth.Action{{Op: auth.OpWrite, Resource: auth.Topic("bench")}, {Op: auth.OpRead, Resource: auth.Topic("bench")}})
	if res[0] != auth.Allowed || res[1] != auth.Allowed {
		b.Fatalf("ANONYMOUS may not write and read bench: %v", res)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tm, err := topics.Open(b.Context(), topics.OptionsFrom(&cfg, log), store)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tm.Close() })
	s, err := New(Options{
		NodeID: cfg.NodeID, ClusterID: cfg.ClusterID, AdvertisedAddr: "127.0.0.1:9092", MaxRequestBytes: cfg.MaxRequestBytes, DataDir: cfg.DataDir,
		TopicConfigs: func(o map[string]string) []topics.ConfigEntry { return topics.EffectiveConfigs(&cfg, o) },
		Topics:       tm, Metrics: metrics.New(), Log: log, Authorizer: a,
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkProduceAuthorized is BenchmarkProduce's 1 KiB case with and
// without the ACL authorizer (10,000 bindings): allocs/op must be the
// same, the authorizer adding none to a produce.
func BenchmarkProduceAuthorized(b *testing.B) {
	for _, mode := range []string{"allow-all", "acl-10k"} {
		b.Run(mode, func(b *testing.B) {
			s := newTestServer(b)
			if mode == "acl-10k" {
				s = aclBenchServer(b)
			}
			if _, err := s.topics.CreateTopic(b.Context(), "bench", 1, map[string]string{"segment.bytes": "67108864", "retention.bytes": "134217728"}, false); err != nil {
				b.Fatal(err)
			}
			c := benchConn(b, s)
			recs := batch.Build(benchRecords(16, 1024), batch.BuildOptions{})
			req := kmsg.NewPtrProduceRequest()
			req.SetVersion(9)
			req.Acks = 1
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "bench"
			rt.Partitions = append(rt.Partitions, kmsg.NewProduceRequestTopicPartition())
			req.Topics = append(req.Topics, rt)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				req.Topics[0].Partitions[0].Records = recs
				if err := s.dispatch(c, frame{buf: encodeRequest(req, int32(i)), arrived: time.Now()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFetchAuthorized fetches one small batch per request with and
// without the ACL authorizer; allocs/op must be the same.
func BenchmarkFetchAuthorized(b *testing.B) {
	for _, mode := range []string{"allow-all", "acl-10k"} {
		b.Run(mode, func(b *testing.B) {
			s := newTestServer(b)
			if mode == "acl-10k" {
				s = aclBenchServer(b)
			}
			if _, err := s.topics.CreateTopic(b.Context(), "bench", 1, nil, false); err != nil {
				b.Fatal(err)
			}
			if _, err := s.topics.Partition("bench", 0).Append(batch.Build(benchRecords(16, 100), batch.BuildOptions{}), false); err != nil {
				b.Fatal(err)
			}
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
			for i := 0; b.Loop(); i++ {
				if err := s.dispatch(c, frame{buf: encodeRequest(req, int32(i)), arrived: time.Now()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
