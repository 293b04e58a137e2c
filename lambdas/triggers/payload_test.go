package triggers

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kafki/kafki/lambdas/kafkaevent"
)

// The sample event of AWS's Lambda developer guide ("Using Lambda with
// self-managed Apache Kafka", Example event), written out in testdata.
func TestPayloadMatchesAWSSample(t *testing.T) {
	raw, err := os.ReadFile("testdata/aws-self-managed-kafka-event.json")
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{Topic: "mytopic", Partition: 0, Offset: 15, Timestamp: time.UnixMilli(1545084650987),
		Key: []byte("recordKey"), Value: []byte(`{"key":"value"}`), Headers: []Header{{"headerKey", []byte("headerValue")}}}
	ours := BuildPayload("b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092,b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092", []*Record{r})
	// Field by field, as generic JSON: same keys, same values, same types.
	var want, got any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ours, &got); err != nil {
		t.Fatalf("our payload is not JSON: %v\n%s", err, ours)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("payload differs from AWS's sample\nwant %v\ngot  %v", want, got)
	}
	// And aws-lambda-go's own type decodes both to the same value.
	var evWant, evGot events.KafkaEvent
	if err := json.Unmarshal(raw, &evWant); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ours, &evGot); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(evWant, evGot) {
		t.Fatalf("events.KafkaEvent differs\nwant %+v\ngot  %+v", evWant, evGot)
	}
}

func TestPayloadRoundTripsThroughKafkaevent(t *testing.T) {
	ts := time.UnixMilli(1700000000123)
	recs := []*Record{
		{Topic: "t", Partition: 3, Offset: 7, Timestamp: ts, Key: []byte{0, 0xff, 'k'}, Value: []byte("v1"),
			Headers: []Header{{"bin", []byte{0x80, 0xff, 0x00, 0x7f}}, {"h", []byte("x")}}},
		{Topic: "t", Partition: 3, Offset: 8, Timestamp: ts, LogAppendTime: true, Value: nil, Key: nil},
		{Topic: "u", Partition: 0, Offset: 1, Timestamp: ts, Value: []byte{}},
	}
	raw := BuildPayload("127.0.0.1:9092", recs)
	var ev events.KafkaEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("decode: %v\n%s", err, raw)
	}
	if ev.EventSource != "SelfManagedKafka" || ev.BootstrapServers != "127.0.0.1:9092" || len(ev.Records) != 2 || len(ev.Records["t-3"]) != 2 {
		t.Fatalf("event %+v", ev)
	}
	b, err := kafkaevent.Decode(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 3 {
		t.Fatalf("%d records", len(b.Records))
	}
	r0 := b.Records[0]
	if string(r0.Key) != "\x00\xffk" || string(r0.Value) != "v1" || r0.Offset != 7 || !r0.Timestamp.Equal(ts) || r0.TimestampType != "CREATE_TIME" {
		t.Fatalf("record 0 %+v", r0)
	}
	if v, ok := r0.Header("bin"); !ok || !reflect.DeepEqual(v, []byte{0x80, 0xff, 0x00, 0x7f}) {
		t.Fatalf("binary header %v", v)
	}
	if r1 := b.Records[1]; r1.Key != nil || r1.Value != nil || r1.TimestampType != "LOG_APPEND_TIME" {
		t.Fatalf("record 1 %+v", r1)
	}
	if parts := b.Partitions(); len(parts) != 2 || parts[0][0].Topic != "t" || parts[1][0].Topic != "u" {
		t.Fatalf("partitions %v", parts)
	}
}

func TestEncodedSizeAddsUp(t *testing.T) {
	recs := []*Record{{Topic: "t", Partition: 1, Offset: 1, Value: []byte("abc")}, {Topic: "t", Partition: 1, Offset: 2, Key: []byte("k")}}
	want := payloadOverhead("b:1", "t", 1)
	for _, r := range recs {
		want += EncodedSize(r)
	}
	want-- // no comma after the last record
	if got := len(BuildPayload("b:1", recs)); got != want {
		t.Fatalf("payload %d bytes, sizes add up to %d", got, want)
	}
}

func TestCutBatch(t *testing.T) {
	for _, tc := range []struct {
		name             string
		sizes            []int
		batch, max, over int
		n                int
		tooLarge         bool
	}{
		{"batch size bounds", []int{10, 10, 10, 10}, 3, 1000, 10, 3, false},
		{"fewer than batch", []int{10, 10}, 5, 1000, 10, 2, false},
		{"payload bounds", []int{40, 40, 40}, 10, 100, 10, 2, false},
		{"exactly at the cap", []int{45, 45}, 10, 100, 10, 2, false},
		{"single too large", []int{200, 10}, 10, 100, 10, 1, true},
		{"too large after others", []int{10, 200}, 10, 100, 10, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, tl := cutBatch(tc.sizes, tc.batch, tc.max, tc.over)
			if n != tc.n || tl != tc.tooLarge {
				t.Fatalf("cutBatch = %d, %v; want %d, %v", n, tl, tc.n, tc.tooLarge)
			}
		})
	}
}

func TestBackoffGrowsWithJitterWithinBounds(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for n, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for i := 0; i < 50; i++ {
			if d := b.Delay(n); d < want/2 || d > want {
				t.Fatalf("Delay(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
