package triggers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/triggers"
)

func entry(name, state string, updated time.Time, ttl time.Duration) triggers.InstanceStatus {
	return triggers.InstanceStatus{Instance: name, State: state, Delivered: 10, UpdatedAt: updated, ExpiresAt: updated.Add(ttl)}
}

// Entries merge instead of overwriting; the summary follows the live
// entries; an entry whose runner stopped refreshing it expires.
func TestMergeStatus(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	ttl := 12 * time.Second
	s := triggers.MergeStatus(triggers.Status{}, entry("a", triggers.StateRunning, t0, ttl), t0)
	s = triggers.MergeStatus(s, entry("b", triggers.StateRunning, t0.Add(time.Second), ttl), t0.Add(time.Second))
	if len(s.Instances) != 2 || s.State != triggers.StateRunning || s.Runner != "a,b" || s.Delivered != 20 {
		t.Fatalf("two running: %+v", s)
	}
	// a stops: the trigger still runs, on b.
	s = triggers.MergeStatus(s, entry("a", triggers.StateStopped, t0.Add(2*time.Second), ttl), t0.Add(2*time.Second))
	if a, _ := s.Instance("a"); s.State != triggers.StateRunning || s.Runner != "b" || a.State != triggers.StateStopped {
		t.Fatalf("a stopped, b running: %+v", s)
	}
	// b fails (its function is gone): failed wins, with b's error.
	fb := entry("b", triggers.StateFailed, t0.Add(3*time.Second), ttl)
	fb.LastResult, fb.LastError, fb.LastInvoke = "function_not_found", "not found", t0.Add(3*time.Second)
	s = triggers.MergeStatus(s, fb, t0.Add(3*time.Second))
	if s.State != triggers.StateFailed || s.Runner != "b" || s.LastError != "not found" {
		t.Fatalf("b failed: %+v", s)
	}
	// b is killed (no more refreshes): a reader sees the trigger stopped
	// once its entry expired, and the next merge drops it.
	late := t0.Add(3*time.Second + ttl)
	if c := s.Current(late); c.State != triggers.StateStopped || c.Runner != "" {
		t.Fatalf("after b's entry expired: %+v", c)
	}
	s = triggers.MergeStatus(s, entry("c", triggers.StateRunning, late, ttl), late)
	if len(s.Instances) != 1 || s.Instances[0].Instance != "c" || s.State != triggers.StateRunning {
		t.Fatalf("expired entries dropped: %+v", s)
	}
	// A status written before instances existed is shown as it is.
	old := triggers.Status{State: triggers.StateRunning, Runner: "x"}
	if c := old.Current(late); c.State != triggers.StateRunning || c.Runner != "x" {
		t.Fatalf("old status: %+v", c)
	}
}

// Two runners share a trigger; one stops. The status says the trigger
// runs (on the other), lists both instances with the stopped one as
// stopped, and the survivor takes every partition.
func TestStatusWithTwoRunnersOneStopped(t *testing.T) {
	e := setup(t)
	e.createTable(t, "two-rec", true)
	e.createFunction(t, "two-recorder", "recorder", map[string]string{"RECORDER_TABLE": "two-rec", "RECORDER_NAME": "two"})
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "two", 2)
	store := triggers.NewMemStore()
	d := triggers.NewDefinition("two", "two-recorder", "two")
	d.StartingPosition, d.BatchingWindow = triggers.TrimHorizon, 0
	if _, err := triggers.Create(context.Background(), store, d); err != nil {
		t.Fatal(err)
	}
	stopA := e.startRunner(t, store, "a")
	e.runRunner(t, store, "b")
	status := func() triggers.Status {
		tr, err := triggers.Get(context.Background(), store, "two")
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Current(time.Now())
	}
	eventually(t, 60*time.Second, "both instances running a partition each", func() (bool, string) {
		s := status()
		a, _ := s.Instance("a")
		b, _ := s.Instance("b")
		return a.State == triggers.StateRunning && b.State == triggers.StateRunning && a.Partitions == 1 && b.Partitions == 1 &&
			s.State == triggers.StateRunning, fmt.Sprintf("%+v", s)
	})
	stopA()
	// Usually a's own stop report is what the next read shows; b writing
	// from a read just before it can put a's running entry back until
	// it expires (the status is last-writer-wins), so await it.
	eventually(t, 30*time.Second, "a stopped (or expired), the trigger running", func() (bool, string) {
		s := status()
		a, ok := s.Instance("a")
		return (!ok || a.State == triggers.StateStopped && a.Partitions == 0) && s.State == triggers.StateRunning, fmt.Sprintf("%+v", s)
	})
	for p := int32(0); p < 2; p++ {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "two", Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// a's stopped entry expires like any other (six poll intervals), so it
	// is stopped or gone, never running.
	eventually(t, 60*time.Second, "b runs both partitions and delivers both records; a is not running", func() (bool, string) {
		s := status()
		a, ok := s.Instance("a")
		if !ok {
			a.State = triggers.StateStopped
		}
		b, _ := s.Instance("b")
		seen := map[int32]bool{}
		for _, bs := range e.recorded(t, "two-rec", "two") {
			seen[bs.partition] = true
		}
		return s.State == triggers.StateRunning && s.Runner == "b" && a.State == triggers.StateStopped && b.Partitions == 2 &&
			len(seen) == 2, fmt.Sprintf("%+v partitions delivered %v", s, seen)
	})
}
