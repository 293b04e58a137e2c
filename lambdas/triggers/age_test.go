package triggers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/triggers"
)

// produceAt produces values to partition 0 with the given CreateTime
// timestamps, so record ages do not depend on when the test runs.
func produceAt(t *testing.T, cl *kgo.Client, topic string, values []string, ts []time.Time) {
	t.Helper()
	var recs []*kgo.Record
	for i, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v), Timestamp: ts[i]})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// AT_TIMESTAMP without a commit starts at the first record stamped at or
// after the timestamp; a group with a commit resumes from it and ignores
// the timestamp.
func TestStartingPositionAtTimestamp(t *testing.T) {
	e := setup(t)
	e.createTable(t, "ts-rec", true)
	for _, n := range []string{"fresh", "committed"} {
		e.createFunction(t, "ts-"+n, "recorder", map[string]string{"RECORDER_TABLE": "ts-rec", "RECORDER_NAME": n})
	}
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "ts", 1)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	values := make([]string, 6)
	stamps := make([]time.Time, 6)
	for i := range values {
		values[i], stamps[i] = fmt.Sprintf("v%d", i), base.Add(time.Duration(i)*time.Minute)
	}
	produceAt(t, cl, "ts", values, stamps)

	store := triggers.NewMemStore()
	fresh := triggers.NewDefinition("ts-fresh", "ts-fresh", "ts")
	committedDef := triggers.NewDefinition("ts-committed", "ts-committed", "ts")
	for _, d := range []*triggers.Definition{&fresh, &committedDef} {
		d.StartingPosition, d.StartingTimestamp = triggers.AtTimestamp, stamps[3] // offsets 3, 4, 5 are at or after it
		d.BatchingWindow = triggers.MillisOf(50 * time.Millisecond)
	}
	// The second trigger's group has a commit at offset 1, before the timestamp.
	adm := kadm.NewClient(e.kafka(t))
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "ts", Partition: 0, At: 1, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(context.Background(), committedDef.Group(), offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit for %s: %v %v", committedDef.Group(), err, resp.Error())
	}
	for _, d := range []triggers.Definition{fresh, committedDef} {
		if _, err := triggers.Create(context.Background(), store, d); err != nil {
			t.Fatal(err)
		}
	}
	e.runRunner(t, store, "r1")
	eventually(t, 45*time.Second, "both triggers reach the end", func() (bool, string) {
		a, b := committed(t, e, fresh.Group(), "ts"), committed(t, e, committedDef.Group(), "ts")
		return a == 6 && b == 6, fmt.Sprintf("committed %d and %d", a, b)
	})
	want := func(name string, from int64) {
		got := offsetsSeen(t, e, "ts-rec", name)
		if len(got) != int(6-from) {
			t.Fatalf("%s saw %v, want offsets %d..5 once each", name, got, from)
		}
		for o := from; o < 6; o++ {
			if got[o] != 1 {
				t.Fatalf("%s saw %v, want offsets %d..5 once each", name, got, from)
			}
		}
	}
	want("fresh", 3)
	want("committed", 1)
}

// Records older than MaxRecordAge go to the failure destination with the
// age in the error, not to the function; younger ones are invoked.
func TestMaxRecordAgeDeadLettersOldRecords(t *testing.T) {
	e := setup(t)
	e.createTable(t, "age-rec", true)
	e.createFunction(t, "age-recorder", "recorder", map[string]string{"RECORDER_TABLE": "age-rec", "RECORDER_NAME": "age"})
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "age", 1)
	now := time.Now()
	old := now.Add(-10 * time.Minute)
	// Old and young interleaved: the decision is per record.
	produceAt(t, cl, "age", []string{"old-0", "young-1", "old-2", "young-3"}, []time.Time{old, now, old.Add(time.Second), now})
	store := triggers.NewMemStore()
	d := triggers.NewDefinition("age", "age-recorder", "age")
	d.StartingPosition, d.MaxRecordAge, d.OnFailure = triggers.TrimHorizon, triggers.MillisOf(5*time.Minute), "kafka://age-dlq"
	d.BatchingWindow = triggers.MillisOf(50 * time.Millisecond)
	if _, err := triggers.Create(context.Background(), store, d); err != nil {
		t.Fatal(err)
	}
	e.runRunner(t, store, "r1")
	got := e.dlq(t, "age-dlq", 2)
	for i, r := range got {
		wantOff := fmt.Sprint(2 * i)
		msg := header(r, triggers.HeaderError)
		if header(r, triggers.HeaderOffset) != wantOff || string(r.Value) != "old-"+wantOff || header(r, triggers.HeaderReason) != "record_age" {
			t.Fatalf("dead letter %d: offset %s value %q reason %s", i, header(r, triggers.HeaderOffset), r.Value, header(r, triggers.HeaderReason))
		}
		if !strings.Contains(msg, "maximum record age 5m0s") || !strings.Contains(msg, "oldest 10m") {
			t.Fatalf("dead letter %d error %q: want the maximum and the record's age", i, msg)
		}
	}
	eventually(t, 30*time.Second, "young records invoked, everything committed", func() (bool, string) {
		seen := offsetsSeen(t, e, "age-rec", "age")
		c := committed(t, e, d.Group(), "age")
		return len(seen) == 2 && seen[1] == 1 && seen[3] == 1 && c == 4, fmt.Sprintf("seen %v committed %d", seen, c)
	})
	ends, err := kadm.NewClient(e.kafka(t)).ListEndOffsets(context.Background(), "age-dlq")
	if err != nil {
		t.Fatal(err)
	}
	if end, _ := ends.Lookup("age-dlq", 0); end.Offset != 2 {
		t.Fatalf("%d dead letters, want 2", end.Offset)
	}
}
