package triggers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/triggers"
)

func offsetsSeen(t *testing.T, e *env, table, name string) map[int64]int {
	t.Helper()
	got := map[int64]int{}
	for _, b := range e.recorded(t, table, name) {
		if !b.failed {
			for _, o := range b.offsets {
				got[o]++
			}
		}
	}
	return got
}

func committed(t *testing.T, e *env, group, topic string) int64 {
	t.Helper()
	adm := kadm.NewClient(e.kafka(t))
	off, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := off.Lookup(topic, 0)
	if !ok {
		return -1
	}
	return o.At
}

// Starting positions apply only without a committed offset; a restarted
// runner resumes from the commit; filtered-out records are committed.
func TestStartingPositionsCommittedOffsetsAndFilters(t *testing.T) {
	e := setup(t)
	e.createTable(t, "pos-rec", true)
	for _, n := range []string{"latest", "trim", "filter"} {
		e.createFunction(t, "pos-"+n, "recorder", map[string]string{"RECORDER_TABLE": "pos-rec", "RECORDER_NAME": n})
	}
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "pos", 1)
	produceValues(t, cl, "pos", `{"kind":"order","n":0}`, `{"kind":"refund","n":1}`, `{"kind":"order","n":2}`)

	store := triggers.NewMemStore()
	latest := triggers.NewDefinition("latest", "pos-latest", "pos")
	trim := triggers.NewDefinition("trim", "pos-trim", "pos")
	trim.StartingPosition = triggers.TrimHorizon
	filter := triggers.NewDefinition("filter", "pos-filter", "pos")
	filter.StartingPosition, filter.Filters = triggers.TrimHorizon, []string{`{"value":{"kind":["order"]}}`}
	for _, d := range []triggers.Definition{latest, trim, filter} {
		d.BatchingWindow = triggers.MillisOf(50 * time.Millisecond)
		if _, err := triggers.Create(context.Background(), store, d); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := triggers.New(triggers.Options{Store: store, Brokers: []string{e.broker}, Lambda: e.lambda, PollInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, Log: testLogger(t)})
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()

	// LATEST starts at the end once its group has joined: wait for TRIM's
	// first delivery (the runner is up), then until LATEST's group has
	// its assignment, then produce.
	eventually(t, 30*time.Second, "trim horizon delivers the old records", func() (bool, string) {
		got := offsetsSeen(t, e, "pos-rec", "trim")
		return len(got) == 3, fmt.Sprint(got)
	})
	adm := kadm.NewClient(e.kafka(t))
	eventually(t, 30*time.Second, "latest's group is stable", func() (bool, string) {
		g, err := adm.DescribeGroups(context.Background(), latest.Group())
		if err != nil {
			return false, err.Error()
		}
		return g[latest.Group()].State == "Stable", g[latest.Group()].State
	})
	produceValues(t, cl, "pos", `{"kind":"order","n":3}`)
	eventually(t, 30*time.Second, "latest delivers only the new record", func() (bool, string) {
		got := offsetsSeen(t, e, "pos-rec", "latest")
		return len(got) == 1 && got[3] == 1, fmt.Sprint(got)
	})
	eventually(t, 30*time.Second, "filter delivers orders only and commits past the refund", func() (bool, string) {
		got := offsetsSeen(t, e, "pos-rec", "filter")
		c := committed(t, e, filter.Group(), "pos")
		return len(got) == 3 && got[0] == 1 && got[2] == 1 && got[3] == 1 && got[1] == 0 && c == 4, fmt.Sprintf("%v committed %d", got, c)
	})
	// Stop only once every group has committed what it delivered: a
	// runner stopped between an invocation and its commit redelivers the
	// batch, which is the at-least-once contract, not what this test
	// checks.
	eventually(t, 30*time.Second, "every group commits offset 4", func() (bool, string) {
		var cs []string
		ok := true
		for _, d := range []triggers.Definition{latest, trim, filter} {
			c := committed(t, e, d.Group(), "pos")
			ok = ok && c == 4
			cs = append(cs, fmt.Sprintf("%s=%d", d.ID, c))
		}
		return ok, strings.Join(cs, " ")
	})
	cancel()
	<-done

	// Restarted: every group resumes from its commit (no redelivery), and
	// records produced while it was down arrive once.
	produceValues(t, cl, "pos", `{"kind":"order","n":4}`)
	e.runRunner(t, store, "r2")
	eventually(t, 45*time.Second, "restart resumes from the committed offsets", func() (bool, string) {
		var states []string
		ok := true
		for _, n := range []string{"latest", "trim", "filter"} {
			got := offsetsSeen(t, e, "pos-rec", n)
			for o, c := range got {
				if c != 1 {
					t.Fatalf("%s: offset %d delivered %d times after restart", n, o, c)
				}
			}
			ok = ok && got[4] == 1
			states = append(states, fmt.Sprintf("%s=%v", n, got))
		}
		return ok, strings.Join(states, " ")
	})
}

// A batch never exceeds the payload cap; a record larger than it goes to
// the failure destination alone.
func TestPayloadLimit(t *testing.T) {
	e := setup(t)
	e.createTable(t, "limit-rec", true)
	e.createFunction(t, "limit-recorder", "recorder", map[string]string{"RECORDER_TABLE": "limit-rec", "RECORDER_NAME": "limit"})
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(2<<20))
	createTopic(t, cl, "limit", 1)
	small := strings.Repeat("s", 1000)
	values := []string{small, small, small, small, small, strings.Repeat("L", 100_000), small, small}
	produceValues(t, cl, "limit", values...)
	store := triggers.NewMemStore()
	d := triggers.NewDefinition("limit", "limit-recorder", "limit")
	d.StartingPosition, d.MaxPayloadBytes, d.OnFailure = triggers.TrimHorizon, 4096, "kafka://limit-dlq"
	if _, err := triggers.Create(context.Background(), store, d); err != nil {
		t.Fatal(err)
	}
	e.runRunner(t, store, "r1")
	got := e.dlq(t, "limit-dlq", 1)
	if len(got) != 1 || header(got[0], triggers.HeaderOffset) != "5" || header(got[0], triggers.HeaderReason) != "payload_limit" {
		t.Fatalf("dead letters: %d, offset %s reason %s", len(got), header(got[0], triggers.HeaderOffset), header(got[0], triggers.HeaderReason))
	}
	eventually(t, 30*time.Second, "small records delivered", func() (bool, string) {
		seen := offsetsSeen(t, e, "limit-rec", "limit")
		return len(seen) == 7 && seen[5] == 0, fmt.Sprint(seen)
	})
	// 1,000-byte values are 1,336 bytes in base64: at most 2 per 4 KiB payload.
	for _, b := range e.recorded(t, "limit-rec", "limit") {
		if len(b.offsets) > 2 {
			t.Fatalf("batch %v exceeds the 4096-byte payload", b.offsets)
		}
	}
}

// A function deleted under a running trigger puts it in the failed
// state, holds its position (nothing committed, nothing skipped), and
// delivery resumes when the function is back.
func TestDeletedFunctionFailsVisiblyAndKeepsPosition(t *testing.T) {
	e := setup(t)
	e.createTable(t, "gone-rec", true)
	vars := map[string]string{"RECORDER_TABLE": "gone-rec", "RECORDER_NAME": "gone"}
	e.createFunction(t, "gone-recorder", "recorder", vars)
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "gone", 1)
	store := triggers.NewMemStore()
	d := triggers.NewDefinition("gone", "gone-recorder", "gone")
	d.StartingPosition, d.BatchingWindow = triggers.TrimHorizon, 0
	if _, err := triggers.Create(context.Background(), store, d); err != nil {
		t.Fatal(err)
	}
	produceValues(t, cl, "gone", "a")
	e.runRunner(t, store, "r1")
	eventually(t, 30*time.Second, "first record delivered", func() (bool, string) {
		return len(offsetsSeen(t, e, "gone-rec", "gone")) == 1, ""
	})
	if _, err := e.lambda.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: strPtr("gone-recorder")}); err != nil {
		t.Fatal(err)
	}
	produceValues(t, cl, "gone", "b", "c")
	eventually(t, 30*time.Second, "trigger in the failed state", func() (bool, string) {
		tr, _ := triggers.Get(context.Background(), store, "gone")
		return tr.Status.State == triggers.StateFailed && strings.Contains(tr.Status.LastError, "not found"), fmt.Sprintf("%+v", tr.Status)
	})
	if c := committed(t, e, d.Group(), "gone"); c != 1 {
		t.Fatalf("committed %d while the function is gone, want 1", c)
	}
	e.createFunction(t, "gone-recorder", "recorder", vars)
	eventually(t, 30*time.Second, "delivery resumes", func() (bool, string) {
		seen := offsetsSeen(t, e, "gone-rec", "gone")
		tr, _ := triggers.Get(context.Background(), store, "gone")
		return seen[1] >= 1 && seen[2] >= 1 && tr.Status.State == triggers.StateRunning, fmt.Sprintf("%v %+v", seen, tr.Status)
	})
}

func strPtr(s string) *string { return &s }
