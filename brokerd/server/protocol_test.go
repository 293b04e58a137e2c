package server_test

// Protocol-level checks of behaviour clients rely on: fetch long polls and
// byte limits, LogAppendTime, configs altered on a running log, ListOffsets
// max timestamp, and the answers to versions Kafki does not serve.

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// fetchReq asks for each partition of topic from offset at with the given
// partition limit.
func fetchReq(topic string, parts []int32, at int64, maxBytes, partMax, minBytes, waitMs int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.ReplicaID = -1
	req.MaxBytes, req.MinBytes, req.MaxWaitMillis = maxBytes, minBytes, waitMs
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, at, partMax
		rp.LogStartOffset = -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchedBatches validates and returns the batches of one fetched partition.
func fetchedBatches(t *testing.T, p kmsg.FetchResponseTopicPartition) []batch.Header {
	t.Helper()
	if p.ErrorCode != 0 {
		t.Fatalf("partition %d: fetch error %d", p.Partition, p.ErrorCode)
	}
	if len(p.RecordBatches) == 0 {
		return nil
	}
	raw, err := batch.Split(p.RecordBatches)
	if err != nil {
		t.Fatalf("partition %d: fetched bytes: %v", p.Partition, err)
	}
	var out []batch.Header
	for _, b := range raw {
		h, err := batch.Validate(b, batch.ValidateOptions{})
		if err != nil {
			t.Fatalf("partition %d: fetched batch: %v", p.Partition, err)
		}
		out = append(out, h)
	}
	return out
}

// listOffsetsReq asks for partition 0 of topic at timestamp ts (-1
// latest, -2 earliest, -3 max timestamp).
func listOffsetsReq(topic string, version int16, ts int64) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(version)
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp, rp.CurrentLeaderEpoch = ts, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func createTopicRaw(t *testing.T, c *rawConn, name string, partitions int32, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(7)
	req.TimeoutMillis = 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	for k, v := range configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req, 9000).(*kmsg.CreateTopicsResponse)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create %s: code %d", name, code)
	}
}

// Fetch waits for MinBytes up to MaxWaitMillis, answers with what there is
// when the wait ends, and answers early once a produce supplies MinBytes.
func TestFetchMinBytesLongPoll(t *testing.T) {
	b := testbroker.StartBroker(t)
	c := dialRaw(t, b.Addr())
	createTopicRaw(t, c, "minbytes", 1, nil)
	small := batch.Build(records(1, 50), batch.BuildOptions{})
	if code, _ := produceCode(t, c, produceReq("minbytes", 0, 1, small), 1); code != 0 {
		t.Fatalf("produce: code %d", code)
	}

	// MinBytes above what exists: the answer waits about MaxWait, then
	// carries the small batch anyway.
	const wait = 1500 * time.Millisecond
	start := time.Now()
	resp := c.roundTrip(fetchReq("minbytes", []int32{0}, 0, 1<<20, 1<<20, 100_000, int32(wait/time.Millisecond)), 2).(*kmsg.FetchResponse)
	if took := time.Since(start); took < wait*2/3 || took > wait+5*time.Second {
		t.Fatalf("fetch with MinBytes unmet answered after %v, want about %v", took, wait)
	}
	if hs := fetchedBatches(t, resp.Topics[0].Partitions[0]); len(hs) != 1 || hs[0].BaseOffset != 0 {
		t.Fatalf("after the wait: batches %+v, want the one at offset 0", hs)
	}

	// A long wait that a produce of enough bytes cuts short.
	poller := dialRaw(t, b.Addr())
	done := make(chan *kmsg.FetchResponse, 1)
	const longWait = 20 * time.Second
	start = time.Now()
	poller.write(frame(fetchReq("minbytes", []int32{0}, 1, 1<<20, 1<<20, 5000, int32(longWait/time.Millisecond)), 3))
	go func() {
		raw, err := poller.readFrame()
		if err != nil {
			done <- nil
			return
		}
		r := kmsg.NewPtrFetchResponse()
		r.SetVersion(12)
		if err := r.ReadFrom(raw[5:]); err != nil { // correlation id, header tags
			done <- nil
			return
		}
		done <- r
	}()
	select {
	case <-done:
		t.Fatal("fetch answered before MinBytes were available")
	case <-time.After(300 * time.Millisecond):
	}
	big := batch.Build(records(10, 1000), batch.BuildOptions{})
	if code, off := produceCode(t, c, produceReq("minbytes", 0, 1, big), 4); code != 0 || off != 1 {
		t.Fatalf("produce: code %d offset %d", code, off)
	}
	var got *kmsg.FetchResponse
	select {
	case got = <-done:
	case <-time.After(longWait - 5*time.Second):
		t.Fatal("fetch still waiting after a produce of more than MinBytes")
	}
	if got == nil {
		t.Fatal("long poll: no response")
	}
	if took := time.Since(start); took >= longWait {
		t.Fatalf("long poll answered after %v, not before MaxWait %v", took, longWait)
	}
	hs := fetchedBatches(t, got.Topics[0].Partitions[0])
	if len(hs) != 1 || hs[0].BaseOffset != 1 || hs[0].RecordCount != 10 {
		t.Fatalf("long poll: batches %+v, want the new one at offset 1", hs)
	}
}

// MaxBytes and PartitionMaxBytes: the first batch of a response comes whole
// even when larger than the limit (KIP-74); beyond it, batches fit the
// limits; the response budget is shared by the partitions in order.
func TestFetchByteLimits(t *testing.T) {
	b := testbroker.StartBroker(t)
	c := dialRaw(t, b.Addr())
	createTopicRaw(t, c, "limits", 2, nil)
	var size int // every batch is the same size
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 4; i++ {
			bb := batch.Build(records(5, 200), batch.BuildOptions{})
			size = len(bb)
			if code, _ := produceCode(t, c, produceReq("limits", p, 1, bb), int32(10*p)+int32(i)); code != 0 {
				t.Fatalf("produce: code %d", code)
			}
		}
	}
	count := func(resp *kmsg.FetchResponse) []int {
		var out []int
		for _, p := range resp.Topics[0].Partitions {
			hs := fetchedBatches(t, p)
			for i, h := range hs {
				if h.BaseOffset != int64(5*i) {
					t.Fatalf("partition %d batch %d at offset %d", p.Partition, i, h.BaseOffset)
				}
			}
			out = append(out, len(hs))
		}
		return out
	}
	cases := []struct {
		name              string
		parts             []int32
		maxBytes, partMax int32
		want              []int
	}{
		{"partition limit below one batch", []int32{0}, 1 << 20, 10, []int{1}},
		{"partition limit of 2.5 batches", []int32{0}, 1 << 20, int32(size * 5 / 2), []int{2}},
		{"response limit below one batch", []int32{0}, 10, 1 << 20, []int{1}},
		{"response limit of 2.5 batches", []int32{0}, int32(size * 5 / 2), 1 << 20, []int{2}},
		{"response limit shared: 5.5 batches", []int32{0, 1}, int32(size * 11 / 2), 1 << 20, []int{4, 1}},
		{"partition limits apply to each", []int32{0, 1}, 1 << 20, int32(size * 3 / 2), []int{1, 1}},
	}
	// KIP-74 exempts only the first batch of the response (Kafka's
	// ReplicaManager reads later partitions with minOneMessage=false): a
	// later partition whose first batch exceeds its partition limit or
	// what is left of MaxBytes gets nothing.
	kip74 := []struct {
		name              string
		parts             []int32
		maxBytes, partMax int32
		want              []int
	}{
		{"response limit shared: 2.5 batches", []int32{0, 1}, int32(size * 5 / 2), 1 << 20, []int{2, 0}},
		{"second partition's oversize batch", []int32{0, 1}, 1 << 20, int32(size / 2), []int{1, 0}},
		{"response budget left below a batch", []int32{0, 1}, int32(size * 3 / 2), 1 << 20, []int{1, 0}},
	}
	cases = append(cases, kip74...)
	for i, tc := range cases {
		resp := c.roundTrip(fetchReq("limits", tc.parts, 0, tc.maxBytes, tc.partMax, 0, 0), int32(100+i)).(*kmsg.FetchResponse)
		if got := count(resp); !equalInts(got, tc.want) {
			t.Errorf("%s: batches per partition %v, want %v (batch %d bytes)", tc.name, got, tc.want, size)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A LogAppendTime topic stamps the broker's clock on the batch: the
// timestamp type bit is set, the max timestamp is the append time, and the
// Produce answer reports it.
func TestLogAppendTimeOnTheWire(t *testing.T) {
	b := testbroker.StartBroker(t)
	c := dialRaw(t, b.Addr())
	createTopicRaw(t, c, "lat", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	old := int64(1_000_000) // 1970: far from now
	recs := records(3, 20)
	for i := range recs {
		recs[i].TimestampDelta = int64(i)
	}
	before := time.Now().UnixMilli()
	resp := c.roundTrip(produceReq("lat", 0, 1, batch.Build(recs, batch.BuildOptions{BaseTimestamp: old})), 1).(*kmsg.ProduceResponse)
	after := time.Now().UnixMilli()
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("produce: code %d", p.ErrorCode)
	}
	if p.LogAppendTime < before || p.LogAppendTime > after {
		t.Fatalf("produce answer LogAppendTime %d, want within [%d, %d]", p.LogAppendTime, before, after)
	}
	fr := c.roundTrip(fetchReq("lat", []int32{0}, 0, 1<<20, 1<<20, 0, 0), 2).(*kmsg.FetchResponse)
	hs := fetchedBatches(t, fr.Topics[0].Partitions[0])
	if len(hs) != 1 {
		t.Fatalf("fetched %d batches, want 1", len(hs))
	}
	if hs[0].Attributes&batch.AttrLogAppendTime == 0 {
		t.Fatalf("fetched batch attributes %#x: LogAppendTime bit not set", hs[0].Attributes)
	}
	if hs[0].MaxTimestamp != p.LogAppendTime {
		t.Fatalf("fetched max timestamp %d, want the append time %d", hs[0].MaxTimestamp, p.LogAppendTime)
	}
	// A CreateTime topic keeps the producer's timestamps and answers -1.
	createTopicRaw(t, c, "ct", 1, nil)
	resp = c.roundTrip(produceReq("ct", 0, 1, batch.Build(recs, batch.BuildOptions{BaseTimestamp: old})), 3).(*kmsg.ProduceResponse)
	if lat := resp.Topics[0].Partitions[0].LogAppendTime; lat != -1 {
		t.Fatalf("CreateTime topic: LogAppendTime %d, want -1", lat)
	}
}

// IncrementalAlterConfigs changes a running log: a smaller segment.bytes
// makes later appends roll, a smaller retention.bytes makes maintenance
// delete old segments (the log start advances), and DescribeConfigs shows
// the new values.
func TestAlterConfigsTakesEffectOnRunningLog(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *configT) { c.RetentionCheckInterval = 50 * time.Millisecond }))
	c := dialRaw(t, b.Addr())
	createTopicRaw(t, c, "alter", 1, nil)
	part := b.Topics().Partition("alter", 0)
	produce := func(n int, id int32) {
		for i := 0; i < n; i++ {
			if code, _ := produceCode(t, c, produceReq("alter", 0, 1, batch.Build(records(4, 500), batch.BuildOptions{})), id+int32(i)); code != 0 {
				t.Fatalf("produce: code %d", code)
			}
		}
	}
	produce(5, 0)
	if n := part.Log().NumSegments(); n != 1 {
		t.Fatalf("%d segments before the change, want 1", n)
	}
	alter := func(key, value string, id int32) {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.SetVersion(1)
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "alter"
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Op, cfg.Value = key, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(value)
		res.Configs = append(res.Configs, cfg)
		req.Resources = append(req.Resources, res)
		resp := c.roundTrip(req, id).(*kmsg.IncrementalAlterConfigsResponse)
		if code := resp.Resources[0].ErrorCode; code != 0 {
			t.Fatalf("alter %s=%s: code %d", key, value, code)
		}
	}
	alter("segment.bytes", "4096", 100)
	produce(10, 200)
	if n := part.Log().NumSegments(); n < 3 {
		t.Fatalf("%d segments after lowering segment.bytes to 4096 and writing ~20 KB, want several", n)
	}
	if start := part.Log().LogStartOffset(); start != 0 {
		t.Fatalf("log start %d before retention changed", start)
	}
	alter("retention.bytes", "5000", 300)
	deadline := time.Now().Add(10 * time.Second)
	var earliest int64
	for earliest == 0 && time.Now().Before(deadline) {
		resp := c.roundTrip(listOffsetsReq("alter", 7, -2), 400).(*kmsg.ListOffsetsResponse)
		earliest = resp.Topics[0].Partitions[0].Offset
		if earliest == 0 {
			select {
			case <-part.Log().Changed():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if earliest <= 0 {
		t.Fatalf("log start still %d 10s after retention.bytes=5000", earliest)
	}
	if size := part.Log().Size(); size > 5000+4096+3000 {
		t.Fatalf("log holds %d bytes after retention.bytes=5000", size)
	}

	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dreq.SetVersion(4)
	dres := kmsg.NewDescribeConfigsRequestResource()
	dres.ResourceType, dres.ResourceName = kmsg.ConfigResourceTypeTopic, "alter"
	dres.ConfigNames = []string{"segment.bytes", "retention.bytes"}
	dreq.Resources = append(dreq.Resources, dres)
	dresp := c.roundTrip(dreq, 500).(*kmsg.DescribeConfigsResponse)
	got := map[string]string{}
	for _, cfg := range dresp.Resources[0].Configs {
		if cfg.Value != nil {
			got[cfg.Name] = *cfg.Value
		}
	}
	if got["segment.bytes"] != "4096" || got["retention.bytes"] != "5000" {
		t.Fatalf("DescribeConfigs after the change: %v", got)
	}
}

// ListOffsets timestamp -3 (v7+) finds the record with the largest
// timestamp, wherever it is, with that timestamp.
func TestListOffsetsMaxTimestamp(t *testing.T) {
	b := testbroker.StartBroker(t)
	c := dialRaw(t, b.Addr())
	createTopicRaw(t, c, "maxts", 1, nil)
	ts := func(base int64, deltas ...int64) []byte {
		recs := records(len(deltas), 10)
		for i, d := range deltas {
			recs[i].TimestampDelta = d
		}
		return batch.Build(recs, batch.BuildOptions{BaseTimestamp: base})
	}
	for i, bb := range [][]byte{
		ts(1000, 0, 1),       // offsets 0-1
		ts(2000, 0, 3000, 5), // offsets 2-4: 5000 at offset 3
		ts(3000, 0, 1),       // offsets 5-6, later but older
	} {
		if code, _ := produceCode(t, c, produceReq("maxts", 0, 1, bb), int32(i)); code != 0 {
			t.Fatalf("produce: code %d", code)
		}
	}
	list := func(version int16, id int32) kmsg.ListOffsetsResponseTopicPartition {
		return c.roundTrip(listOffsetsReq("maxts", version, -3), id).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	}
	p := list(7, 1)
	if p.ErrorCode != 0 || p.Offset != 3 || p.Timestamp != 5000 {
		t.Fatalf("max timestamp: code %d offset %d timestamp %d, want offset 3 timestamp 5000", p.ErrorCode, p.Offset, p.Timestamp)
	}
}

// rawHeaderOnly frames a request header with no body: enough for a
// request the broker refuses by its key and version alone.
func rawHeaderOnly(key, version int16, correlationID int32) []byte {
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	b = append(b, 0xff, 0xff) // null client id
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// Versions outside a served API's range get UNSUPPORTED_VERSION and the
// connection stays usable; Produce v0-v2 (advertised for librdkafka's
// sake, as Kafka 4.x does) refuse a v2 batch per partition and write
// nothing.
func TestUnservedVersions(t *testing.T) {
	b := testbroker.StartBroker(t)
	mustCreate(t, b, "old", nil)
	c := dialRaw(t, b.Addr())
	api := kmsg.NewPtrApiVersionsRequest()
	api.SetVersion(3)
	for i, kv := range []struct{ key, version int16 }{{1, 3}, {0, 14}, {3, 99}, {2, 0}} {
		id := int32(10 + i)
		c.write(rawHeaderOnly(kv.key, kv.version, id))
		raw, err := c.readFrame()
		if err != nil {
			t.Fatalf("key %d v%d: %v", kv.key, kv.version, err)
		}
		if len(raw) != 6 || int32(binary.BigEndian.Uint32(raw)) != id || int16(binary.BigEndian.Uint16(raw[4:])) != kerr.UnsupportedVersion.Code {
			t.Fatalf("key %d v%d: response %x, want correlation %d and UNSUPPORTED_VERSION", kv.key, kv.version, raw, id)
		}
		if resp := c.roundTrip(api, id+100).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
			t.Fatalf("ApiVersions after key %d v%d: code %d", kv.key, kv.version, resp.ErrorCode)
		}
	}
	good := batch.Build(records(2, 10), batch.BuildOptions{})
	for v := int16(0); v <= 2; v++ {
		req := produceReq("old", 0, 1, good)
		req.SetVersion(v)
		resp := c.roundTrip(req, int32(200+v)).(*kmsg.ProduceResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnsupportedForMessageFormat.Code {
			t.Fatalf("Produce v%d: code %d, want UNSUPPORTED_FOR_MESSAGE_FORMAT", v, code)
		}
	}
	if end := logEnd(b, "old"); end != 0 {
		t.Fatalf("log end %d after Produce v0-v2, want 0", end)
	}
	if code, off := produceCode(t, c, produceReq("old", 0, 1, good), 300); code != 0 || off != 0 {
		t.Fatalf("Produce v9 afterwards: code %d offset %d", code, off)
	}
}
