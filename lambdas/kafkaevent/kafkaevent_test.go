package kafkaevent

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func event(t *testing.T, raw string) events.KafkaEvent {
	t.Helper()
	var ev events.KafkaEvent
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// AWS's documented sample event decodes to its record, key, value and
// header as plain bytes.
func TestDecodeAWSSample(t *testing.T) {
	raw, err := os.ReadFile("../triggers/testdata/aws-self-managed-kafka-event.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(event(t, string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if b.EventSource != "SelfManagedKafka" || len(b.Records) != 1 {
		t.Fatalf("batch %+v", b)
	}
	r := b.Records[0]
	if r.Topic != "mytopic" || r.Partition != 0 || r.Offset != 15 || r.TimestampType != "CREATE_TIME" || r.Timestamp.UnixMilli() != 1545084650987 {
		t.Errorf("record %+v", r)
	}
	if string(r.Key) != "recordKey" || string(r.Value) != `{"key":"value"}` {
		t.Errorf("key %q value %q", r.Key, r.Value)
	}
	if v, ok := r.Header("headerKey"); !ok || string(v) != "headerValue" {
		t.Errorf("header %q %v", v, ok)
	}
}

// Records of several partitions, listed out of order, come back grouped
// per partition in offset order; a record without a key has a nil key.
func TestDecodeOrdersPerPartition(t *testing.T) {
	ev := event(t, `{"eventSource":"SelfManagedKafka","records":{
		"b-1":[{"topic":"b","partition":1,"offset":9,"timestamp":1,"value":"dg=="},{"topic":"b","partition":1,"offset":8,"timestamp":1,"value":"dg=="}],
		"a-0":[{"topic":"a","partition":0,"offset":5,"timestamp":1,"key":"aw==","value":"dg=="}]}}`)
	var got []string
	err := Wrap(func(_ context.Context, b Batch) error {
		for _, p := range b.Partitions() {
			var offs []string
			for _, r := range p {
				offs = append(offs, r.Topic+":"+string(rune('0'+r.Offset)))
			}
			got = append(got, strings.Join(offs, ","))
		}
		if b.Records[1].Key != nil {
			t.Errorf("keyless record has key %q", b.Records[1].Key)
		}
		return nil
	})(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " | ") != "a:5 | b:8,b:9" {
		t.Fatalf("partitions %q, want a:5 | b:8,b:9", got)
	}
}

// A value that is not base64 is an error naming the record, never a
// batch with the record silently missing; the handler does not run.
func TestDecodeRejectsBadBase64(t *testing.T) {
	ev := event(t, `{"records":{"t-0":[{"topic":"t","partition":0,"offset":3,"timestamp":1,"value":"%%%"}]}}`)
	ran := false
	err := Wrap(func(context.Context, Batch) error { ran = true; return nil })(t.Context(), ev)
	if err == nil || !strings.Contains(err.Error(), "t-0 offset 3: value") || ran {
		t.Fatalf("err %v, handler ran %v", err, ran)
	}
	want := errors.New("downstream")
	if err := Wrap(func(context.Context, Batch) error { return want })(t.Context(), event(t, `{"records":{}}`)); !errors.Is(err, want) {
		t.Fatalf("handler error %v not returned", err)
	}
}
