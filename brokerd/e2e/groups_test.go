package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupOffsetsSurviveKill commits offsets for a group, kills the
// broker with SIGKILL, restarts it on the same data directory, and checks
// that OffsetFetch returns the commits and that a group consumer resumes
// from them, reading only what follows.
func TestGroupOffsetsSurviveKill(t *testing.T) {
	const (
		topic = "kept-offsets"
		group = "kept-group"
		n     = 40
	)
	b := StartBroker(t, Options{})
	createTopic(t, b.Addr, topic, 2)
	cl := newClient(t, b.Addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: fmt.Appendf(nil, "v%d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	committed := map[int32]int64{0: 15, 1: 6}
	offs := kadm.Offsets{}
	for p, o := range committed {
		offs.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	if res, err := kadm.NewClient(cl).CommitOffsets(ctx, group, offs); err != nil || res.Error() != nil {
		t.Fatalf("commit: %v %v", err, res.Error())
	}
	cl.Close()

	b.Kill()
	b.Start()

	fetched, err := kadm.NewClient(newClient(t, b.Addr)).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets after restart: %v", err)
	}
	for p, want := range committed {
		got, ok := fetched.Lookup(topic, p)
		if !ok || got.Err != nil || got.At != want {
			t.Errorf("partition %d after SIGKILL: committed %+v (found %v), want %d", p, got, ok, want)
		}
	}

	// A group consumer resumes at the commits.
	g := newClient(t, b.Addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	want := n/2 - int(committed[0]) + n/2 - int(committed[1])
	got := 0
	for got < want {
		fs := g.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("group consumed %d of %d: %v", got, want, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < committed[r.Partition] {
				t.Fatalf("group re-read partition %d offset %d below its commit %d", r.Partition, r.Offset, committed[r.Partition])
			}
			got++
		})
	}
}
