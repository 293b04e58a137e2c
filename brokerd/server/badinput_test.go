package server_test

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

func records(n, size int) []batch.Record {
	out := make([]batch.Record, n)
	for i := range out {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte('a' + (i+j)%26)
		}
		out[i] = batch.Record{Value: v}
	}
	return out
}

func produceReq(topic string, partition int32, acks int16, recs []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, recs
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func produceCode(t *testing.T, c *rawConn, req *kmsg.ProduceRequest, id int32) (int16, int64) {
	t.Helper()
	resp := c.roundTrip(req, id).(*kmsg.ProduceResponse)
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

func mustCreate(t *testing.T, b *broker.Broker, topic string, configs map[string]string) {
	t.Helper()
	if _, err := b.Topics().CreateTopic(t.Context(), topic, 1, configs, false); err != nil {
		t.Fatal(err)
	}
}

func logEnd(b *broker.Broker, topic string) int64 {
	return b.Topics().Partition(topic, 0).Log().LogEndOffset()
}

func TestCorruptBatchRefusedAndLogUnchanged(t *testing.T) {
	b := testbroker.StartBroker(t)
	mustCreate(t, b, "crc", nil)
	c := dialRaw(t, b.Addr())
	good := batch.Build(records(3, 20), batch.BuildOptions{})
	if code, off := produceCode(t, c, produceReq("crc", 0, -1, good), 1); code != 0 || off != 0 {
		t.Fatalf("good batch: code %d offset %d", code, off)
	}
	for i := batch.HeaderSize - 40; i < len(good); i += 7 {
		bad := batch.Build(records(3, 20), batch.BuildOptions{})
		bad[i] ^= 0x5a
		code, _ := produceCode(t, c, produceReq("crc", 0, -1, bad), int32(100+i))
		if code == 0 {
			t.Fatalf("flipped byte %d accepted", i)
		}
		if i >= 21 && code != kerr.CorruptMessage.Code {
			t.Fatalf("flipped byte %d: code %d, want CORRUPT_MESSAGE", i, code)
		}
	}
	// Truncated batch and trailing garbage after a valid one.
	for i, bad := range [][]byte{good[:len(good)-5], append(append([]byte{}, good...), 1, 2, 3)} {
		if code, _ := produceCode(t, c, produceReq("crc", 0, -1, bad), int32(900+i)); code != kerr.CorruptMessage.Code {
			t.Fatalf("malformed record set %d: code %d, want CORRUPT_MESSAGE", i, code)
		}
	}
	// Two whole batches for one partition: Kafka's INVALID_RECORD.
	two := append(batch.Build(records(1, 5), batch.BuildOptions{}), batch.Build(records(1, 5), batch.BuildOptions{})...)
	if code, _ := produceCode(t, c, produceReq("crc", 0, -1, two), 950); code != kerr.InvalidRecord.Code {
		t.Fatalf("two batches in one partition: code %d, want INVALID_RECORD", code)
	}
	if end := logEnd(b, "crc"); end != 3 {
		t.Fatalf("log end %d after refused batches, want 3", end)
	}
}

func TestMessageTooLarge(t *testing.T) {
	b := testbroker.StartBroker(t)
	mustCreate(t, b, "big", map[string]string{"max.message.bytes": "1000"})
	c := dialRaw(t, b.Addr())
	if code, _ := produceCode(t, c, produceReq("big", 0, 1, batch.Build(records(1, 2000), batch.BuildOptions{})), 1); code != kerr.MessageTooLarge.Code {
		t.Fatalf("code %d, want MESSAGE_TOO_LARGE", code)
	}
	if code, _ := produceCode(t, c, produceReq("big", 0, 1, batch.Build(records(1, 100), batch.BuildOptions{})), 2); code != 0 {
		t.Fatalf("small batch: code %d", code)
	}
	if end := logEnd(b, "big"); end != 1 {
		t.Fatalf("log end %d, want 1", end)
	}
}

func TestProduceErrors(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *configT) { c.AutoCreateTopics = false }))
	mustCreate(t, b, "t", nil)
	if _, err := b.Topics().EnsureInternalTopic(t.Context(), "__consumer_offsets", 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, b.Addr())
	good := batch.Build(records(1, 10), batch.BuildOptions{})
	cases := []struct {
		name string
		req  *kmsg.ProduceRequest
		want int16
	}{
		{"unknown topic", produceReq("missing", 0, 1, good), kerr.UnknownTopicOrPartition.Code},
		{"unknown partition", produceReq("t", 7, 1, good), kerr.UnknownTopicOrPartition.Code},
		{"invalid acks", produceReq("t", 0, 2, good), kerr.InvalidRequiredAcks.Code},
		{"internal topic", produceReq("__consumer_offsets", 0, 1, good), kerr.InvalidTopicException.Code},
		{"transactional batch", produceReq("t", 0, 1, batch.Build(records(1, 10), batch.BuildOptions{ProducerID: 5, BaseSequence: 0, Transactional: true})), kerr.InvalidRecord.Code},
	}
	for i, tc := range cases {
		if code, _ := produceCode(t, c, tc.req, int32(i)); code != tc.want {
			t.Errorf("%s: code %d, want %d", tc.name, code, tc.want)
		}
	}
	if end := logEnd(b, "t"); end != 0 {
		t.Fatalf("log end %d after refused produces, want 0", end)
	}
	// Metadata for an unknown topic with auto-creation off, and for an
	// illegal name.
	for name, want := range map[string]int16{"missing": kerr.UnknownTopicOrPartition.Code, "bad name!": kerr.InvalidTopicException.Code} {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(12)
		rt := kmsg.NewMetadataRequestTopic()
		n := name
		rt.Topic = &n
		req.Topics = append(req.Topics, rt)
		req.AllowAutoTopicCreation = true
		resp := c.roundTrip(req, 50).(*kmsg.MetadataResponse)
		if got := resp.Topics[0].ErrorCode; got != want {
			t.Errorf("metadata %q: code %d, want %d", name, got, want)
		}
	}
}

func TestIdempotentDuplicatesAndSequences(t *testing.T) {
	b := testbroker.StartBroker(t)
	mustCreate(t, b, "idem", nil)
	c := dialRaw(t, b.Addr())
	ipr := kmsg.NewPtrInitProducerIDRequest()
	ipr.SetVersion(4)
	pid := c.roundTrip(ipr, 1).(*kmsg.InitProducerIDResponse)
	if pid.ErrorCode != 0 || pid.ProducerID < 0 {
		t.Fatalf("init producer id: %+v", pid)
	}
	build := func(seq int32, epoch int16, n int) []byte {
		return batch.Build(records(n, 10), batch.BuildOptions{ProducerID: pid.ProducerID, ProducerEpoch: epoch, BaseSequence: seq})
	}
	steps := []struct {
		name     string
		recs     []byte
		wantCode int16
		wantOff  int64
		wantEnd  int64
	}{
		{"first", build(0, 0, 5), 0, 0, 5},
		{"retry of first", build(0, 0, 5), 0, 0, 5},
		{"second", build(5, 0, 5), 0, 5, 10},
		{"retry of first again", build(0, 0, 5), 0, 0, 10},
		{"gap", build(20, 0, 1), kerr.OutOfOrderSequenceNumber.Code, -1, 10},
		{"new epoch must start at 0", build(3, 1, 1), kerr.OutOfOrderSequenceNumber.Code, -1, 10},
		{"new epoch", build(0, 1, 2), 0, 10, 12},
		{"stale epoch", build(10, 0, 1), kerr.InvalidProducerEpoch.Code, -1, 12},
	}
	for i, st := range steps {
		code, off := produceCode(t, c, produceReq("idem", 0, -1, st.recs), int32(10+i))
		if code != st.wantCode || (code == 0 && off != st.wantOff) {
			t.Fatalf("%s: code %d offset %d, want code %d offset %d", st.name, code, off, st.wantCode, st.wantOff)
		}
		if end := logEnd(b, "idem"); end != st.wantEnd {
			t.Fatalf("%s: log end %d, want %d", st.name, end, st.wantEnd)
		}
	}
}

func TestMalformedFramesCloseOnlyThatConnection(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *configT) { c.MaxRequestBytes = 2 << 20 }))
	mustCreate(t, b, "ok", nil)
	bystander := dialRaw(t, b.Addr())
	api := kmsg.NewPtrApiVersionsRequest()
	api.SetVersion(3)
	bystander.roundTrip(api, 1)

	cases := map[string][]byte{
		"oversized frame":  binary.BigEndian.AppendUint32(nil, 1<<30),
		"negative size":    binary.BigEndian.AppendUint32(nil, 0xffffffff),
		"tiny frame":       {0, 0, 0, 2, 0, 1},
		"bad client id":    {0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0x7f, 0},
		"undecodable body": append([]byte{0, 0, 0, 13, 0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 0}, 0xff, 0xff),
		// A tagged-field count of 2^32-1 in a 7-byte ApiVersions v3 body:
		// kmsg before v1.15.1 kept counting down after the body ran out,
		// a minute and more of CPU per request, unauthenticated.
		"tag count beyond the body": append([]byte{0, 0, 0, 18, 0, 18, 0, 3, 0, 0, 0, 1, 0, 0, 0}, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, b.Addr())
			c.write(raw)
			c.expectClosed()
		})
	}
	// The bystander connection and new ones still work.
	bystander.roundTrip(api, 2)
	resp := dialRaw(t, b.Addr()).roundTrip(api, 3).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("api versions after bad frames: %+v", resp)
	}
}

func TestUnsupportedVersionsKeepConnection(t *testing.T) {
	b := testbroker.StartBroker(t)
	c := dialRaw(t, b.Addr())

	// ApiVersions from the future: a v0 answer with UNSUPPORTED_VERSION and
	// only ApiVersions' own range (KIP-511), which the client retries with.
	future := []byte{0, 0, 0, 10, 0, 18, 0, 99, 0, 0, 0, 7, 0xff, 0xff}
	c.write(future)
	raw, err := c.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	v0 := kmsg.NewPtrApiVersionsResponse()
	if err := v0.ReadFrom(raw[4:]); err != nil {
		t.Fatal(err)
	}
	if v0.ErrorCode != kerr.UnsupportedVersion.Code || len(v0.ApiKeys) != 1 || v0.ApiKeys[0].ApiKey != 18 || v0.ApiKeys[0].MaxVersion < 3 {
		t.Fatalf("future ApiVersions: code %d, keys %+v; want UNSUPPORTED_VERSION and ApiVersions' range alone", v0.ErrorCode, v0.ApiKeys)
	}
	// The retry at that version lists everything.
	retry := kmsg.NewPtrApiVersionsRequest()
	retry.Version = v0.ApiKeys[0].MaxVersion
	retry.ClientSoftwareName, retry.ClientSoftwareVersion = "raw", "1"
	all, err := retry.RequestWith(t.Context(), newClient(t, b.Addr()))
	if err != nil || all.ErrorCode != 0 || len(all.ApiKeys) < 10 {
		t.Fatalf("ApiVersions v%d: %v, %+v", retry.Version, err, all)
	}
	var produceMin int16 = -1
	for _, k := range all.ApiKeys {
		if k.ApiKey == 0 {
			produceMin = k.MinVersion
		}
	}
	if produceMin != 0 {
		t.Fatalf("Produce advertised from v%d; librdkafka needs 0", produceMin)
	}

	// An API Kafki does not serve (key 4, LeaderAndIsr) and an unknown key:
	// UNSUPPORTED_VERSION, connection kept.
	for i, key := range []uint16{4, 999} {
		f := []byte{0, 0, 0, 10}
		f = binary.BigEndian.AppendUint16(f, key)
		f = append(f, 0, 0, 0, 0, 0, byte(20+i), 0xff, 0xff)
		c.write(f)
		raw, err := c.readFrame()
		if err != nil {
			t.Fatalf("key %d: %v", key, err)
		}
		if int32(binary.BigEndian.Uint32(raw)) != int32(20+i) || binary.BigEndian.Uint16(raw[4:]) != uint16(kerr.UnsupportedVersion.Code) {
			t.Fatalf("key %d: response %x", key, raw)
		}
	}
	api := kmsg.NewPtrApiVersionsRequest()
	api.SetVersion(3)
	if resp := c.roundTrip(api, 30).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("connection unusable after unsupported requests: %d", resp.ErrorCode)
	}
}
