package server_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createTopic(t *testing.T, cl *kgo.Client, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := kadm.NewClient(cl).CreateTopic(ctxT(t), partitions, 1, configs, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
}

// consumeAll reads partitions of topic from the start until n records came.
func consumeAll(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxT(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestRoundTripEveryCodec(t *testing.T) {
	addr := testbroker.Start(t)
	codecs := map[string]kgo.CompressionCodec{
		"none":   kgo.NoCompression(),
		"gzip":   kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(),
		"lz4":    kgo.Lz4Compression(),
		"zstd":   kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "codec-" + name
			cl := newClient(t, addr, kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
			const n = 500
			var want []*kgo.Record
			for i := 0; i < n; i++ {
				r := &kgo.Record{
					Key:     []byte("k" + strconv.Itoa(i%7)),
					Value:   bytes.Repeat([]byte(strconv.Itoa(i)), 1+i%50),
					Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(name)}},
				}
				want = append(want, r)
			}
			if err := cl.ProduceSync(ctxT(t), want...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			got := consumeAll(t, addr, topic, n)
			if len(got) != n {
				t.Fatalf("got %d records, want %d", len(got), n)
			}
			for i, r := range got {
				if r.Offset != int64(i) || !bytes.Equal(r.Key, want[i].Key) || !bytes.Equal(r.Value, want[i].Value) ||
					len(r.Headers) != 1 || string(r.Headers[0].Value) != name {
					t.Fatalf("record %d: got offset %d key %q value %q headers %v", i, r.Offset, r.Key, r.Value, r.Headers)
				}
			}
		})
	}
}

func TestAutoCreateOffRefusesUnknownTopic(t *testing.T) {
	addr := testbroker.Start(t, testbroker.WithConfig(func(c *configT) { c.AutoCreateTopics = false }))
	cl := newClient(t, addr, kgo.DefaultProduceTopic("nope"), kgo.RecordDeliveryTimeout(2*time.Second))
	err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("produce to unknown topic: got %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	topics, err := kadm.NewClient(cl).ListTopics(ctxT(t))
	if err != nil || len(topics) != 0 {
		t.Fatalf("topics after refused produce: %v %v", topics.Names(), err)
	}
}

func TestListOffsetsByTimestamp(t *testing.T) {
	addr := testbroker.Start(t)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("ts"), kgo.AllowAutoTopicCreation())
	base := time.UnixMilli(1_700_000_000_000)
	// Ten batches of ten records, each record 1s apart.
	for b := 0; b < 10; b++ {
		var recs []*kgo.Record
		for i := 0; i < 10; i++ {
			n := b*10 + i
			recs = append(recs, &kgo.Record{Value: []byte(strconv.Itoa(n)), Timestamp: base.Add(time.Duration(n) * time.Second)})
		}
		if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	for _, tc := range []struct {
		at   time.Time
		want int64
	}{
		{base.Add(-time.Hour), 0},
		{base, 0},
		{base.Add(37 * time.Second), 37},
		{base.Add(37*time.Second + time.Millisecond), 38},
		{base.Add(99 * time.Second), 99},
		{base.Add(100 * time.Second), -1},
	} {
		res, err := adm.ListOffsetsAfterMilli(ctxT(t), tc.at.UnixMilli(), "ts")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := res.Lookup("ts", 0)
		if o.Err != nil || o.Offset != tc.want {
			// Past the last record Kafka answers offset -1; kadm may
			// report it as the end offset.
			if !(tc.want == -1 && (o.Offset == -1 || o.Offset == 100)) {
				t.Errorf("offset after %v: got %d (%v), want %d", tc.at.Sub(base), o.Offset, o.Err, tc.want)
			}
		}
	}
	starts, err := adm.ListStartOffsets(ctxT(t), "ts")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctxT(t), "ts")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := starts.Lookup("ts", 0)
	e, _ := ends.Lookup("ts", 0)
	if s.Offset != 0 || e.Offset != 100 {
		t.Fatalf("start %d end %d, want 0 and 100", s.Offset, e.Offset)
	}
}

func TestLongPollReturnsWhenDataArrives(t *testing.T) {
	addr := testbroker.Start(t)
	prod := newClient(t, addr, kgo.DefaultProduceTopic("lp"), kgo.AllowAutoTopicCreation())
	createTopic(t, prod, "lp", 1, nil)
	cons := newClient(t, addr, kgo.ConsumeTopics("lp"), kgo.FetchMaxWait(20*time.Second))
	// Let the consumer issue its (empty) long poll first: the first
	// PollFetches with a short deadline comes back empty.
	short, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	cons.PollFetches(short)
	cancel()

	got := make(chan time.Time, 1)
	go func() {
		fs := cons.PollFetches(ctxT(t))
		if len(fs.Records()) > 0 {
			got <- time.Now()
		}
		close(got)
	}()
	sent := time.Now()
	if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("wake up")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	at, ok := <-got
	if !ok {
		t.Fatal("poll ended without the record")
	}
	// The fetch waits up to 20s; it must have been answered by the append,
	// not by its MaxWait.
	if d := at.Sub(sent); d > 10*time.Second {
		t.Fatalf("long poll answered %v after the produce: it waited for MaxWait instead of the data", d)
	}
}

func TestTopicAdminLifecycle(t *testing.T) {
	addr := testbroker.Start(t)
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)
	ret := "3600000"
	createTopic(t, cl, "life", 2, map[string]*string{"retention.ms": &ret})

	// Duplicate, bad name, bad replication factor, bad config.
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "life"); !errors.Is(r.Err, kerr.TopicAlreadyExists) {
		t.Errorf("duplicate create: %v", r.Err)
	}
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "bad/name"); !errors.Is(r.Err, kerr.InvalidTopicException) {
		t.Errorf("invalid name: %v", r.Err)
	}
	if r, _ := adm.CreateTopic(ctx, 1, 3, nil, "rf3"); !errors.Is(r.Err, kerr.InvalidReplicationFactor) {
		t.Errorf("rf 3 on one node: %v", r.Err)
	}
	bogus := "yes"
	if r, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": &bogus}, "badcfg"); !errors.Is(r.Err, kerr.InvalidConfig) {
		t.Errorf("bad config: %v", r.Err)
	}

	// Describe configs shows the override and defaults.
	rcs, err := adm.DescribeTopicConfigs(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("life", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, c := range rc.Configs {
		found[c.Key] = c.MaybeValue()
	}
	if found["retention.ms"] != "3600000" || found["cleanup.policy"] != "delete" || found["segment.bytes"] == "" {
		t.Fatalf("describe configs: %v", found)
	}

	// Alter: set segment.bytes, delete retention.ms.
	seg := "1048576"
	alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.bytes", Value: &seg},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, "life")
	if err != nil || alt[0].Err != nil {
		t.Fatalf("alter: %v %v", err, alt)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "life")
	rc, _ = rcs.On("life", nil)
	for _, c := range rc.Configs {
		if c.Key == "segment.bytes" && c.MaybeValue() != seg {
			t.Errorf("segment.bytes after alter: %s", c.MaybeValue())
		}
		if c.Key == "retention.ms" && c.Source != 5 { // DEFAULT_CONFIG
			t.Errorf("retention.ms still overridden after delete: %v", c)
		}
	}
	bad := "-5"
	alt, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: &bad}}, "life")
	if !errors.Is(alt[0].Err, kerr.InvalidConfig) {
		t.Errorf("invalid alter: %v", alt[0].Err)
	}

	// Grow partitions; shrinking is refused.
	cp, err := adm.CreatePartitions(ctx, 3, "life")
	if err != nil || cp["life"].Err != nil {
		t.Fatalf("create partitions: %v %v", err, cp)
	}
	td, err := adm.ListTopics(ctx, "life")
	if err != nil || len(td["life"].Partitions) != 5 {
		t.Fatalf("partitions after growth: %v %v", err, td["life"].Partitions)
	}
	cp, _ = adm.UpdatePartitions(ctx, 2, "life")
	if !errors.Is(cp["life"].Err, kerr.InvalidPartitions) {
		t.Errorf("shrink: %v", cp["life"].Err)
	}

	// DescribeCluster names this broker.
	dc := kmsg.NewPtrDescribeClusterRequest()
	raw, err := cl.Request(ctx, dc)
	if err != nil {
		t.Fatal(err)
	}
	cd := raw.(*kmsg.DescribeClusterResponse)
	if cd.ErrorCode != 0 || len(cd.Brokers) != 1 || cd.ClusterID != "kafki-local" || cd.ControllerID != cd.Brokers[0].NodeID {
		t.Fatalf("describe cluster: %+v", cd)
	}

	// Delete.
	dr, err := adm.DeleteTopics(ctx, "life")
	if err != nil || dr["life"].Err != nil {
		t.Fatalf("delete: %v %v", err, dr)
	}
	td, _ = adm.ListTopics(ctx)
	if td.Has("life") {
		t.Fatal("topic still listed after delete")
	}
	dr, _ = adm.DeleteTopics(ctx, "life")
	if !errors.Is(dr["life"].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("second delete: %v", dr["life"].Err)
	}
}
