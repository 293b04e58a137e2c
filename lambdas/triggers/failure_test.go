package triggers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/triggers"
)

// dlq reads every record of a dead-letter topic until it has want.
func (e *env) dlq(t *testing.T, topic string, want int) []*kgo.Record {
	t.Helper()
	cl := e.kafka(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for len(out) < want {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("dead-letter topic %s: %d of %d records", topic, len(out), want)
		}
		f.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func produceValues(t *testing.T, cl *kgo.Client, topic string, values ...string) {
	t.Helper()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func TestFailingFunctionRetriesWithBackoffThenDeadLettersAndMovesOn(t *testing.T) {
	e := setup(t)
	e.createTable(t, "fail-rec", true)
	e.createFunction(t, "fail-recorder", "recorder", map[string]string{"RECORDER_TABLE": "fail-rec", "RECORDER_NAME": "fail", "RECORDER_FAIL": "always"})
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "fail", 1)
	store := triggers.NewMemStore()
	d := triggers.NewDefinition("fail", "fail-recorder", "fail")
	d.StartingPosition, d.BatchSize, d.MaxRetryAttempts, d.OnFailure = triggers.TrimHorizon, 5, 2, "kafka://fail-dlq"
	if _, err := triggers.Create(context.Background(), store, d); err != nil {
		t.Fatal(err)
	}
	values := make([]string, 10)
	for i := range values {
		values[i] = fmt.Sprintf("v%d", i)
	}
	produceValues(t, cl, "fail", values...)
	e.runRunner(t, store, "r1")
	got := e.dlq(t, "fail-dlq", 10)
	for i, r := range got {
		if string(r.Value) != values[i] || header(r, triggers.HeaderOffset) != fmt.Sprint(i) || header(r, triggers.HeaderTopic) != "fail" {
			t.Fatalf("dead letter %d: value %q offset %s", i, r.Value, header(r, triggers.HeaderOffset))
		}
		if msg := header(r, triggers.HeaderError); !strings.Contains(msg, "recorder told to fail") {
			t.Fatalf("dead letter %d error %q", i, msg)
		}
	}
	// Both batches of 5 were tried 1 + 2 times, with growing gaps.
	seen := e.recorded(t, "fail-rec", "fail")
	byFirst := map[int64][]int64{}
	for _, b := range seen {
		byFirst[b.offsets[0]] = append(byFirst[b.offsets[0]], b.startMs)
	}
	for _, first := range []int64{0, 5} {
		at := byFirst[first]
		if len(at) != 3 {
			t.Fatalf("batch at %d invoked %d times, want 3 (1 + 2 retries): %v", first, len(at), byFirst)
		}
		// Backoff: 50 ms base doubling, jittered in [d/2, d], plus
		// the invocation itself.
		if gap := at[1] - at[0]; gap < 25 {
			t.Fatalf("first retry after %d ms", gap)
		}
	}
	tr, err := triggers.Get(context.Background(), store, "fail")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "status reports the failures", func() (bool, string) {
		tr, _ = triggers.Get(context.Background(), store, "fail")
		return tr.Status.ToFailure == 10, fmt.Sprintf("%+v", tr.Status)
	})
}

func TestBisectIsolatesOnePoisonRecord(t *testing.T) {
	e := setup(t)
	e.createTable(t, "poison-rec", true)
	e.createFunction(t, "poison-recorder", "recorder", map[string]string{"RECORDER_TABLE": "poison-rec", "RECORDER_NAME": "poison", "RECORDER_POISON": "POISON"})
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "poison", 1)
	store := triggers.NewMemStore()
	d := triggers.NewDefinition("poison", "poison-recorder", "poison")
	d.StartingPosition, d.BatchSize, d.MaxRetryAttempts, d.OnFailure, d.BisectOnError = triggers.TrimHorizon, 16, 1, "kafka://poison-dlq", true
	if _, err := triggers.Create(context.Background(), store, d); err != nil {
		t.Fatal(err)
	}
	values := make([]string, 16)
	for i := range values {
		values[i] = fmt.Sprintf("ok-%d", i)
	}
	values[11] = "POISON-11"
	produceValues(t, cl, "poison", values...)
	e.runRunner(t, store, "r1")
	got := e.dlq(t, "poison-dlq", 1)
	if len(got) != 1 || string(got[0].Value) != "POISON-11" || header(got[0], triggers.HeaderOffset) != "11" {
		t.Fatalf("dead letters %v", got)
	}
	// Every other record succeeded exactly once, in order.
	produceValues(t, cl, "poison", "later")
	eventually(t, 30*time.Second, "records after the poison flow", func() (bool, string) {
		ok := map[int64]int{}
		for _, b := range e.recorded(t, "poison-rec", "poison") {
			if !b.failed {
				for _, o := range b.offsets {
					ok[o]++
				}
			}
		}
		for o := int64(0); o <= 16; o++ {
			if o != 11 && ok[o] != 1 {
				return false, fmt.Sprintf("offset %d succeeded %d times", o, ok[o])
			}
		}
		return ok[11] == 0, "poison succeeded"
	})
}
