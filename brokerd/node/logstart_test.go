package node_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/topics"
)

// replicasOf returns the leader's and the followers' copies of one
// partition, as the brokers see them now.
func replicasOf(t *testing.T, c *cluster, topic string, partition int32) (leader *topics.Partition, followers map[int32]*topics.Partition) {
	t.Helper()
	followers = map[int32]*topics.Partition{}
	for id, b := range c.brokers {
		p := b.Topics().Partition(topic, partition)
		if p == nil {
			t.Fatalf("broker %d has no %s-%d", id, topic, partition)
		}
		if role, _, _ := p.Role(); role == topics.Leader {
			leader = p
		} else {
			followers[id] = p
		}
	}
	if leader == nil {
		t.Fatalf("no leader of %s-%d", topic, partition)
	}
	return leader, followers
}

// awaitFollowerStart waits until every follower's log start is at least
// want (and at most what the leader's is: a follower never deletes what
// its leader keeps).
func awaitFollowerStart(t *testing.T, leader *topics.Partition, followers map[int32]*topics.Partition, want int64, what string) {
	t.Helper()
	waitFor(t, 10*time.Second, what, func() error {
		for id, p := range followers {
			got := p.Log().LogStartOffset()
			if got < want {
				return fmt.Errorf("follower %d log start %d, want >= %d (leader's %d)", id, got, want, leader.Log().LogStartOffset())
			}
			if got > leader.Log().LogStartOffset() {
				return fmt.Errorf("follower %d log start %d is past the leader's %d", id, got, leader.Log().LogStartOffset())
			}
		}
		return nil
	})
}

// TestFollowersFollowLogStart: when the leader deletes old segments
// (retention, DeleteRecords, the group coordinator after a snapshot) its
// followers drop theirs too, from the log start every fetch response
// carries, so a follower that takes over does not keep (or replay) the
// whole history.
func TestFollowersFollowLogStart(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"segment.bytes": kadm.StringPtr("4096")}, "ls")
	if err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	c.waitPlaced(ctx, "ls", 1, 3)
	produce := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			// One record per batch: leader and followers roll by size at
			// the same batches.
			r := &kgo.Record{Topic: "ls", Partition: 0, Value: bytes.Repeat([]byte{'v'}, 100)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(200)
	leader, followers := replicasOf(t, c, "ls", 0)
	if len(followers) != 2 {
		t.Fatalf("%d followers, want 2", len(followers))
	}
	if n := leader.Log().NumSegments(); n < 4 {
		t.Fatalf("leader has %d segments; the test needs several", n)
	}

	// Size-rolled segments: the leader's cut is a segment boundary on the
	// followers too, so they reach exactly the leader's new start.
	if err := leader.Log().DeleteRecordsBefore(150); err != nil {
		t.Fatal(err)
	}
	cut := leader.Log().LogStartOffset()
	if cut == 0 {
		t.Fatal("leader deleted nothing")
	}
	awaitFollowerStart(t, leader, followers, cut, "followers reach the leader's log start after DeleteRecordsBefore")

	// The group coordinator's pattern: roll, write, delete before the roll
	// point. That point is inside each follower's active segment, which
	// it cannot delete yet; it rolls instead, so that the next advance
	// drops everything before the previous one.
	snapshot := func() int64 {
		t.Helper()
		if err := leader.Log().Roll(); err != nil {
			t.Fatal(err)
		}
		at := leader.Log().LogEndOffset()
		produce(10)
		if err := leader.Log().DeleteRecordsBefore(at); err != nil {
			t.Fatal(err)
		}
		if got := leader.Log().LogStartOffset(); got != at {
			t.Fatalf("leader log start %d after deleting before its roll point %d", got, at)
		}
		return at
	}
	first := snapshot()
	// Each follower rolls at or after first once it saw the new start.
	waitFor(t, 10*time.Second, "followers roll at the leader's new start", func() error {
		for id, p := range followers {
			if base := p.Log().ActiveSegmentBase(); base < first {
				return fmt.Errorf("follower %d: active segment at %d, log start %d", id, base, p.Log().LogStartOffset())
			}
		}
		return nil
	})
	snapshot()
	awaitFollowerStart(t, leader, followers, first, "followers drop the history before the previous snapshot")

	// The new start is durable on a follower: its segments are gone.
	for id, p := range followers {
		if _, err := p.Log().Read(first-1, 1<<20, 1<<62); err == nil {
			t.Errorf("follower %d still reads offset %d below its log start", id, first-1)
		}
	}
}
