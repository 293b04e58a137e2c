package server_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// describeTopicPartitions sends one DescribeTopicPartitions request through
// a kgo client (so ApiVersions negotiation must offer key 75).
func describeTopicPartitions(t *testing.T, addr string, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, names ...string) *kmsg.DescribeTopicPartitionsResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit = limit
	req.Cursor = cursor
	for _, n := range names {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = n
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctxT(t), newClient(t, addr))
	if err != nil {
		t.Fatalf("DescribeTopicPartitions: %v", err)
	}
	return resp
}

// flatten lists "topic/partition" for every partition answered, in order.
func flatten(resp *kmsg.DescribeTopicPartitionsResponse) []string {
	var out []string
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			out = append(out, fmt.Sprintf("%s/%d", *rt.Topic, p.Partition))
		}
	}
	return out
}

func TestDescribeTopicPartitionsDescribesLeaderAndReplicas(t *testing.T) {
	addr := testbroker.Start(t, testbroker.WithConfig(func(c *configT) { c.NodeID = 7 }))
	cl := newClient(t, addr)
	createTopic(t, cl, "dtp", 3, nil)

	resp := describeTopicPartitions(t, addr, 0, nil, "dtp", "dtp", "missing", "bad/name")
	if len(resp.Topics) != 3 {
		t.Fatalf("%d topics answered, want 3 (duplicates merged): %+v", len(resp.Topics), resp.Topics)
	}
	byName := map[string]kmsg.DescribeTopicPartitionsResponseTopic{}
	for _, rt := range resp.Topics {
		byName[*rt.Topic] = rt
	}
	if got := byName["missing"].ErrorCode; got != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic: code %d, want UNKNOWN_TOPIC_OR_PARTITION", got)
	}
	if got := byName["bad/name"].ErrorCode; got != kerr.InvalidTopicException.Code {
		t.Errorf("illegal name: code %d, want INVALID_TOPIC_EXCEPTION", got)
	}
	dtp := byName["dtp"]
	if dtp.ErrorCode != 0 || dtp.TopicID == ([16]byte{}) || dtp.IsInternal {
		t.Fatalf("dtp: code %d, id %x, internal %v", dtp.ErrorCode, dtp.TopicID, dtp.IsInternal)
	}
	if len(dtp.Partitions) != 3 {
		t.Fatalf("dtp: %d partitions, want 3", len(dtp.Partitions))
	}
	for i, p := range dtp.Partitions {
		if p.Partition != int32(i) || p.LeaderID != 7 || p.LeaderEpoch != 0 || p.ErrorCode != 0 {
			t.Errorf("partition %d: %+v", i, p)
		}
		if len(p.Replicas) != 1 || p.Replicas[0] != 7 || len(p.ISR) != 1 || p.ISR[0] != 7 {
			t.Errorf("partition %d: replicas %v isr %v, want [7]", i, p.Replicas, p.ISR)
		}
	}
	if resp.NextCursor != nil {
		t.Errorf("next cursor %+v with everything answered", resp.NextCursor)
	}
	// Describing never creates a topic, even with auto-creation on.
	if again := describeTopicPartitions(t, addr, 0, nil, "missing"); again.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("missing topic was created by describing it")
	}
}

func TestDescribeTopicPartitionsPagesWithCursor(t *testing.T) {
	addr := testbroker.Start(t)
	cl := newClient(t, addr)
	createTopic(t, cl, "b", 3, nil)
	createTopic(t, cl, "a", 2, nil)
	createTopic(t, cl, "c", 1, nil)
	want := []string{"a/0", "a/1", "b/0", "b/1", "b/2", "c/0"}

	for _, listed := range [][]string{nil, {"c", "b", "a"}} {
		for limit := int32(1); limit <= 4; limit++ {
			var got []string
			var cursor *kmsg.DescribeTopicPartitionsRequestCursor
			for pages := 0; ; pages++ {
				if pages > len(want) {
					t.Fatalf("listed %v limit %d: no end after %d pages", listed, limit, pages)
				}
				resp := describeTopicPartitions(t, addr, limit, cursor, listed...)
				page := flatten(resp)
				if len(page) > int(limit) {
					t.Fatalf("listed %v limit %d: page of %d", listed, limit, len(page))
				}
				got = append(got, page...)
				if resp.NextCursor == nil {
					break
				}
				cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("listed %v limit %d: paged %v, want %v", listed, limit, got, want)
			}
		}
	}
}

func TestDescribeTopicPartitionsCursorOutsideListIsInvalid(t *testing.T) {
	addr := testbroker.Start(t)
	cl := newClient(t, addr)
	createTopic(t, cl, "x", 1, nil)
	createTopic(t, cl, "y", 1, nil)

	resp := describeTopicPartitions(t, addr, 0, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "y"}, "x")
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code || len(resp.Topics[0].Partitions) != 0 {
		t.Fatalf("cursor outside the list: %+v, want INVALID_REQUEST on x", resp.Topics)
	}
}

func TestDescribeTopicPartitionsMarksInternalTopic(t *testing.T) {
	addr := testbroker.Start(t)
	// Looking up a group's coordinator makes the broker open its offsets topic.
	if _, err := kadm.NewClient(newClient(t, addr)).FetchOffsets(ctxT(t), "g"); err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	resp := describeTopicPartitions(t, addr, 0, nil, "__consumer_offsets")
	if rt := resp.Topics[0]; rt.ErrorCode != 0 || !rt.IsInternal || len(rt.Partitions) == 0 {
		t.Fatalf("__consumer_offsets: code %d, internal %v, %d partitions; want an internal topic", rt.ErrorCode, rt.IsInternal, len(rt.Partitions))
	}
}
