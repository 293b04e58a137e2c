package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/brokerd/topics"
)

// deleteRecordsRaw sends one DeleteRecords for one partition at version v.
func deleteRecordsRaw(t *testing.T, c *rawConn, v int16, topic string, partition int32, offset int64) kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.SetVersion(v)
	req.TimeoutMillis = 5000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req, 7).(*kmsg.DeleteRecordsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("DeleteRecords response: %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

// The whole path: kadm DeleteRecords inside a batch and a segment; the
// earliest offset, a consumer from the start, a raw fetch below the start
// and a restart all agree on the new start.
func TestDeleteRecords(t *testing.T) {
	dataDir := t.TempDir()
	b := testbroker.StartBroker(t, testbroker.WithDataDir(dataDir))
	mustCreate(t, b, "dr", map[string]string{"segment.bytes": "4096"})
	c := dialRaw(t, b.Addr())
	// 20 batches of 10 records of 100 bytes: several segments.
	for i := range 20 {
		if code, _ := produceCode(t, c, produceReq("dr", 0, 1, batch.Build(records(10, 100), batch.BuildOptions{})), int32(i)); code != 0 {
			t.Fatalf("produce: %d", code)
		}
	}
	l := b.Topics().Partition("dr", 0).Log()
	if l.NumSegments() < 3 {
		t.Fatalf("%d segments; the test needs several", l.NumSegments())
	}
	segs := l.NumSegments()

	ctx := ctxT(t)
	cl := newClient(t, b.Addr())
	adm := kadm.NewClient(cl)
	const cut = 73 // inside batch [70, 80), past the first segment
	res, err := adm.DeleteRecords(ctx, kadm.Offsets{"dr": {0: {Topic: "dr", Partition: 0, At: cut}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := res.Lookup("dr", 0); !ok || r.Err != nil || r.LowWatermark != cut {
		t.Fatalf("DeleteRecords: %+v", r)
	}
	if l.NumSegments() >= segs {
		t.Fatalf("still %d segments: none entirely below %d was deleted", l.NumSegments(), cut)
	}
	checkStart := func(b interface{ Addr() string }, want int64) {
		t.Helper()
		cl := newClient(t, b.Addr())
		starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, "dr")
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := starts.Lookup("dr", 0); o.Err != nil || o.Offset != want {
			t.Fatalf("earliest offset %+v, want %d", o, want)
		}
		// A consumer from the start begins exactly there.
		cons := newClient(t, b.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"dr": {0: kgo.NewOffset().AtStart()}}))
		fs := cons.PollRecords(ctx, 1)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		if recs := fs.Records(); len(recs) == 0 || recs[0].Offset != want {
			t.Fatalf("consumer from the start got %d records, first %+v; want offset %d", len(recs), recs, want)
		}
		// A raw fetch below the start is out of range, and says where the
		// log starts.
		rc := dialRaw(t, b.Addr())
		p := rc.roundTrip(fetchReq("dr", []int32{0}, want-1, 1<<20, 1<<20, 0, 0), 1).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if p.ErrorCode != kerr.OffsetOutOfRange.Code || p.LogStartOffset != want {
			t.Fatalf("fetch at %d: error %d, log start %d; want OFFSET_OUT_OF_RANGE, %d", want-1, p.ErrorCode, p.LogStartOffset, want)
		}
	}
	checkStart(b, cut)

	// Lower than the start: nothing changes, the answer is the start.
	if p := deleteRecordsRaw(t, c, 0, "dr", 0, 10); p.ErrorCode != 0 || p.LowWatermark != cut {
		t.Fatalf("delete before 10 (v0): %+v", p)
	}
	// Errors.
	for _, tc := range []struct {
		what   string
		topic  string
		part   int32
		offset int64
		want   int16
	}{
		{"beyond the high watermark", "dr", 0, 201, kerr.OffsetOutOfRange.Code},
		{"below -1", "dr", 0, -2, kerr.OffsetOutOfRange.Code},
		{"unknown topic", "nope", 0, 1, kerr.UnknownTopicOrPartition.Code},
		{"unknown partition", "dr", 5, 1, kerr.UnknownTopicOrPartition.Code},
		{"internal topic", topics.OffsetsTopic, 0, 0, kerr.InvalidTopicException.Code},
	} {
		if p := deleteRecordsRaw(t, c, 1, tc.topic, tc.part, tc.offset); p.ErrorCode != tc.want || p.LowWatermark != -1 {
			t.Errorf("%s: error %d, low watermark %d; want %d, -1", tc.what, p.ErrorCode, p.LowWatermark, tc.want)
		}
	}
	if got := l.LogStartOffset(); got != cut {
		t.Fatalf("refused requests moved the start to %d", got)
	}

	// -1: the high watermark; everything goes, appends continue there.
	if p := deleteRecordsRaw(t, c, 2, "dr", 0, -1); p.ErrorCode != 0 || p.LowWatermark != 200 {
		t.Fatalf("delete before the high watermark (v2): %+v", p)
	}
	if code, off := produceCode(t, c, produceReq("dr", 0, 1, batch.Build(records(10, 100), batch.BuildOptions{})), 50); code != 0 || off != 200 {
		t.Fatalf("produce after deleting everything: code %d, offset %d", code, off)
	}
	checkStart(b, 200)

	// The start survives a restart.
	shutdown(t, b)
	b = testbroker.StartBroker(t, testbroker.WithDataDir(dataDir))
	checkStart(b, 200)
}

// A broker that does not lead the partition refuses.
func TestDeleteRecordsNotLeader(t *testing.T) {
	b := testbroker.StartBroker(t)
	mustCreate(t, b, "drf", nil)
	c := dialRaw(t, b.Addr())
	if code, _ := produceCode(t, c, produceReq("drf", 0, 1, batch.Build(records(5, 10), batch.BuildOptions{})), 1); code != 0 {
		t.Fatalf("produce: %d", code)
	}
	p := b.Topics().Partition("drf", 0)
	p.BecomeFollower(2, 1)
	if r := deleteRecordsRaw(t, c, 2, "drf", 0, 3); r.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("on a follower: %+v, want NOT_LEADER_OR_FOLLOWER", r)
	}
	if got := p.Log().LogStartOffset(); got != 0 {
		t.Fatalf("a follower's refusal moved its start to %d", got)
	}
}

// Tiered topics refuse with POLICY_VIOLATION (not supported yet).
func TestDeleteRecordsTieredRefused(t *testing.T) {
	b := startTiered(t, t.TempDir())
	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)
	res, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"remote.storage.enable": kadm.StringPtr("true")}, "drt")
	if err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "drt", Value: []byte("v")}, &kgo.Record{Topic: "drt", Value: []byte("w")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	del, err := adm.DeleteRecords(ctx, kadm.Offsets{"drt": {0: {Topic: "drt", Partition: 0, At: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := del.Lookup("drt", 0); !errors.Is(r.Err, kerr.PolicyViolation) {
		t.Fatalf("tiered DeleteRecords: %+v, want POLICY_VIOLATION", r)
	}
	if got := b.Topics().Partition("drt", 0).Log().LogStartOffset(); got != 0 {
		t.Fatalf("refused request moved the start to %d", got)
	}
}

func shutdown(t *testing.T, b interface {
	Shutdown(context.Context) error
}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
