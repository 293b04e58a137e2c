package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/storage"
	"github.com/kafki/kafki/brokerd/topics"
	"github.com/kafki/kafki/internal/poll"
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

// awaitFollowerStart waits until every follower's log start is exactly
// want, the leader's.
func awaitFollowerStart(t *testing.T, leader *topics.Partition, followers map[int32]*topics.Partition, want int64, what string) {
	t.Helper()
	if got := leader.Log().LogStartOffset(); got != want {
		t.Fatalf("%s: leader log start %d, want %d", what, got, want)
	}
	poll.Must(t, 10*time.Second, what, func() error {
		for id, p := range followers {
			if got := p.Log().LogStartOffset(); got != want {
				return fmt.Errorf("follower %d log start %d, want the leader's %d", id, got, want)
			}
		}
		return nil
	})
}

// TestFollowersFollowLogStart: when the leader's log start moves
// (DeleteRecords inside a segment, the group coordinator deleting
// segments after a snapshot, retention) its followers take exactly the
// same start, from the log start every fetch response carries, and drop
// their segments below it, so a follower that takes over neither serves
// deleted records nor keeps (or replays) the whole history.
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

	// DeleteRecords: the leader's start moves to an offset inside a
	// segment; the followers' start lands on it exactly.
	const cut = 137
	if start, err := leader.Log().AdvanceLogStart(cut); err != nil || start != cut {
		t.Fatalf("advance leader log start: %d, %v", start, err)
	}
	awaitFollowerStart(t, leader, followers, cut, "followers take the leader's log start after DeleteRecords")
	for id, p := range followers {
		if _, err := p.Log().Read(cut-1, 1<<20, 1<<62); !errors.Is(err, storage.ErrOffsetOutOfRange) {
			t.Errorf("follower %d reads offset %d below its log start: %v", id, cut-1, err)
		}
		// Segments of about 36 batches: those entirely below 137 are gone.
		if n, lead := p.Log().NumSegments(), leader.Log().NumSegments(); n > lead+1 {
			t.Errorf("follower %d keeps %d segments, the leader %d", id, n, lead)
		}
	}

	// The group coordinator's pattern: roll, write, delete before the roll
	// point. That point is inside each follower's active segment (they
	// do not roll with the leader), where its start lands all the same.
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
		return at
	}
	first := snapshot()
	awaitFollowerStart(t, leader, followers, first, "followers take the leader's start at its roll point")
	second := snapshot()
	awaitFollowerStart(t, leader, followers, second, "followers take the next snapshot's start")
	for id, p := range followers {
		if _, err := p.Log().Read(second-1, 1<<20, 1<<62); !errors.Is(err, storage.ErrOffsetOutOfRange) {
			t.Errorf("follower %d reads offset %d below its log start: %v", id, second-1, err)
		}
		if n := p.Log().NumSegments(); n > 2 {
			t.Errorf("follower %d keeps %d segments below and around its start %d, want at most 2", id, n, second)
		}
	}
}
