package node_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/topics"
	"github.com/kafki/kafki/internal/poll"
)

// deleteRecordsOK runs kadm DeleteRecords on one partition and returns
// its low watermark, failing on any error.
func deleteRecordsOK(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, partition int32, offset int64) int64 {
	t.Helper()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: partition, At: offset})
	res, err := adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatalf("DeleteRecords %s-%d to %d: %v", topic, partition, offset, err)
	}
	r, ok := res.Lookup(topic, partition)
	if !ok || r.Err != nil {
		t.Fatalf("DeleteRecords %s-%d to %d: %+v", topic, partition, offset, r)
	}
	return r.LowWatermark
}

// assertFollowersStart checks, without waiting, that every follower's log
// start is at least want.
func assertFollowersStart(t *testing.T, followers map[int32]*topics.Partition, want int64, what string) {
	t.Helper()
	for id, p := range followers {
		if got := p.Log().LogStartOffset(); got < want {
			t.Errorf("%s: follower %d log start %d when DeleteRecords answered, want >= %d", what, id, got, want)
		}
	}
}

// leaderOf returns the id of the broker leading topic-partition.
func leaderOf(t *testing.T, c *cluster, topic string, partition int32) int32 {
	t.Helper()
	for id, b := range c.brokers {
		if role, _, _ := b.Topics().Partition(topic, partition).Role(); role == topics.Leader {
			return id
		}
	}
	t.Fatalf("no leader of %s-%d", topic, partition)
	return -1
}

// TestDeleteRecordsWaitsForReplicas: DeleteRecords answers only once
// every in-sync replica has moved its log start to the offset (Kafka's
// DelayedDeleteRecords), so a follower elected right after the answer
// cannot serve the deleted records; LowWatermark is the minimum log start
// over the replicas. A zero timeout answers REQUEST_TIMED_OUT while the
// followers have not reported the new start yet; a stopped follower
// leaves the ISR and no longer holds the answer, and takes the start when
// it comes back.
func TestDeleteRecordsWaitsForReplicas(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cl := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopic(ctx, 1, 3, nil, "dr"); err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	c.waitPlaced(ctx, "dr", 1, 3)
	for i := 0; i < 100; i++ {
		r := &kgo.Record{Topic: "dr", Partition: 0, Value: bytes.Repeat([]byte{'v'}, 100)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	leader, followers := replicasOf(t, c, "dr", 0)
	if len(followers) != 2 {
		t.Fatalf("%d followers, want 2", len(followers))
	}

	// The answer comes once both followers are at the offset: check at
	// once, with no waiting.
	if low := deleteRecordsOK(ctx, t, adm, "dr", 0, 40); low != 40 {
		t.Fatalf("LowWatermark %d, want 40", low)
	}
	assertFollowersStart(t, followers, 40, "all replicas in sync")

	// Timeout 0, as Kafka: the leader's start moves, the followers cannot
	// have reported theirs yet, so REQUEST_TIMED_OUT with the low
	// watermark so far.
	leaderID := leaderOf(t, c, "dr", 0)
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.brokers[leaderID].Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 0
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "dr"
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 60
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := raw.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got := resp.(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(got.ErrorCode); err != kerr.RequestTimedOut {
		t.Fatalf("timeout 0: error %v, want REQUEST_TIMED_OUT", err)
	}
	if got.LowWatermark != 40 {
		t.Fatalf("timeout 0: LowWatermark %d, want the followers' 40", got.LowWatermark)
	}
	if start := leader.Log().LogStartOffset(); start != 60 {
		t.Fatalf("leader log start %d after the timed-out request, want 60", start)
	}
	// Asked again with time to wait, it completes.
	if low := deleteRecordsOK(ctx, t, adm, "dr", 0, 60); low != 60 {
		t.Fatalf("LowWatermark %d, want 60", low)
	}
	assertFollowersStart(t, followers, 60, "after the timed-out request")

	// A stopped follower leaves the ISR (as Kafka, a replica on a dead
	// broker does not count) and no longer holds the answer.
	var stopped int32
	for id := range followers {
		stopped = id
		break
	}
	if err := c.brokers[stopped].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	delete(c.brokers, stopped)
	delete(followers, stopped)
	poll.Must(t, 20*time.Second, "the leader drops the stopped follower from the ISR", func() error {
		if isr, _, ok := leader.ISR(); !ok || slices.Contains(isr, stopped) {
			return fmt.Errorf("ISR %v (leading: %v) still has %d", isr, ok, stopped)
		}
		return nil
	})
	if low := deleteRecordsOK(ctx, t, adm, "dr", 0, 80); low != 80 {
		t.Fatalf("LowWatermark %d with a follower stopped, want 80", low)
	}
	assertFollowersStart(t, followers, 80, "one follower stopped")

	// Back, it catches up, takes the leader's start and rejoins the ISR;
	// from then on it holds DeleteRecords again.
	c.start(stopped)
	c.waitPlaced(ctx, "dr", 1, 3)
	poll.Must(t, 20*time.Second, "the restarted follower rejoins the leader's ISR", func() error {
		if isr, _, ok := leader.ISR(); !ok || !slices.Contains(isr, stopped) {
			return fmt.Errorf("ISR %v (leading: %v) lacks %d", isr, ok, stopped)
		}
		return nil
	})
	leader, followers = replicasOf(t, c, "dr", 0)
	if low := deleteRecordsOK(ctx, t, adm, "dr", 0, 90); low != 90 {
		t.Fatalf("LowWatermark %d after the follower came back, want 90", low)
	}
	assertFollowersStart(t, followers, 90, "the stopped follower back in the ISR")
}
