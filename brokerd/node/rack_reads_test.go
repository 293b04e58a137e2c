package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/internal/poll"
)

// fetchedBytes is what broker b returned to fetchers of topic, followers
// and consumers alike.
func fetchedBytes(t *testing.T, b *broker.Broker, topic string) float64 {
	t.Helper()
	return metric(t, b, "kafki_topic_fetched_bytes_total", "topic", topic)
}

// TestRackAwareFollowerReads (KIP-392): with replica.selector.class set,
// a consumer that names a follower's rack is sent to that follower and
// reads every record from it; a consumer in the leader's rack, or naming
// no rack, reads from the leader. Followers serve only committed records.
func TestRackAwareFollowerReads(t *testing.T) {
	c := newClusterWith(t, 3, func(cfg *config.Config) {
		cfg.BrokerRack = fmt.Sprintf("az-%d", cfg.NodeID)
		cfg.ReplicaSelector = config.RackAwareReplicaSelector
	})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if res, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, nil, "racks"); err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	var leader int32
	for l := range c.waitPlaced(ctx, "racks", 1, 3) {
		leader = l
	}
	var followers []int32
	for id := range c.brokers {
		if id != leader {
			followers = append(followers, id)
		}
	}
	near, far := followers[0], followers[1]

	const n = 300
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Topic: "racks", Value: fmt.Appendf(nil, "v%03d", i)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Followers learn the high watermark from their next fetch.
	poll.Must(t, 10*time.Second, "followers' high watermarks reach the log end", func() error {
		for _, id := range followers {
			if hw := c.brokers[id].Topics().Partition("racks", 0).HighWatermark(); hw != n {
				return fmt.Errorf("broker %d: high watermark %d", id, hw)
			}
		}
		return nil
	})

	consumeAll := func(rack string) {
		t.Helper()
		opts := []kgo.Opt{kgo.ConsumeTopics("racks"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
		if rack != "" {
			opts = append(opts, kgo.Rack(rack))
		}
		cons := c.client(opts...)
		defer cons.Close()
		got := 0
		for got < n {
			fs := cons.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %d of %d (rack %q): %v", got, n, rack, err)
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch (rack %q): %v", rack, err) })
			fs.EachRecord(func(r *kgo.Record) {
				if want := fmt.Sprintf("v%03d", got); string(r.Value) != want || r.Offset != int64(got) {
					t.Fatalf("rack %q: record %d is %q at offset %d, want %q", rack, got, r.Value, r.Offset, want)
				}
				got++
			})
		}
	}

	before := map[int32]float64{}
	for id, b := range c.brokers {
		before[id] = fetchedBytes(t, b, "racks")
	}
	consumeAll(fmt.Sprintf("az-%d", near))
	if d := fetchedBytes(t, c.brokers[near], "racks") - before[near]; d < n*4 {
		t.Errorf("the follower in the consumer's rack returned %.0f bytes, want every record (>= %d)", d, n*4)
	}
	if d := fetchedBytes(t, c.brokers[far], "racks") - before[far]; d != 0 {
		t.Errorf("the follower in another rack returned %.0f bytes to consumers", d)
	}

	for _, rack := range []string{fmt.Sprintf("az-%d", leader), ""} {
		nearBefore := fetchedBytes(t, c.brokers[near], "racks")
		consumeAll(rack)
		if d := fetchedBytes(t, c.brokers[near], "racks") - nearBefore; d != 0 {
			t.Errorf("rack %q: a follower returned %.0f bytes; the leader should have served it", rack, d)
		}
	}
}
