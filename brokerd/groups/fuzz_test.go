package groups

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzLoad puts arbitrary records into __consumer_offsets, as a damaged
// disk or a hostile replica could hold them, and loads them. Invariants:
// Load never fails or panics on undecodable records (it skips them); the
// coordinator it builds answers every group API on every group it knows
// without panicking; and a second load of the same log (after a snapshot,
// when one was due) rebuilds the same groups.
func FuzzLoad(f *testing.F) {
	g := newGroup("g", time.Unix(1_700_000_000, 0))
	g.protocolType, g.protocol, g.generation, g.leader = "consumer", "range", 3, "m1"
	g.members["m1"] = &member{
		id: "m1", clientID: "c", host: "/127.0.0.1",
		sessionTimeout: 10 * time.Second, rebalanceTimeout: time.Minute,
		protocols:  []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}},
		assignment: []byte{0, 1, 2},
	}
	f.Add(offsetKey("g", tp{"t", 0}), offsetValue(offset{offset: 5, leaderEpoch: -1}), groupKey("g"), groupValue(g, nil, time.Unix(1_700_000_000, 0)))
	f.Add(offsetKey("g", tp{"t", 1}), []byte(nil), groupKey("g"), []byte(nil))
	f.Add([]byte{0, 2, 0, 1, 'g'}, []byte{0, 3, 0, 0}, []byte{0, 1}, []byte{0xff, 0xff})

	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 []byte) {
		e := newEnv(t, testConfig())
		records := encodeRecordSet([]kv{{k1, v1}, {k2, v2}}, e.clock.Now())
		for _, l := range e.logs {
			if _, err := l.Append(records); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
		e.restart()
		before := describeAll(t, e.c)
		for _, d := range before {
			exercise(e.c, d)
		}
		e.clock.Advance(time.Hour)
		e.c.Tick()
		e.c.ExpireOffsets()
		e.restart()
		e.restart()
		if again := describeAll(t, e.c); len(again) > len(before) {
			t.Fatalf("reloading grew the groups from %d to %d", len(before), len(again))
		}
	})
}

func describeAll(t *testing.T, c *Coordinator) map[string]GroupDescription {
	t.Helper()
	out := map[string]GroupDescription{}
	for _, l := range c.ListGroups() {
		d := c.DescribeGroup(l.Group)
		if d.ErrorCode != 0 {
			t.Fatalf("describe %q after load: error %d", l.Group, d.ErrorCode)
		}
		out[l.Group] = d
	}
	return out
}

// exercise sends each group API at a loaded group, as its old members
// and a newcomer would; joins and syncs give up after a moment, since
// nobody else takes part in the rebalance.
func exercise(c *Coordinator, d GroupDescription) {
	if _, err := c.FetchOffsets(d.Group, nil); err != nil {
		return
	}
	for _, m := range d.Members {
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = d.Group, m.MemberID, d.Generation
		c.Heartbeat(hb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	join := kmsg.NewPtrJoinGroupRequest()
	join.SetVersion(9)
	join.Group, join.ProtocolType = d.Group, d.ProtocolType
	join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10_000, 10_000
	join.Protocols = consumerProtocols(d.Protocol, "range")
	c.JoinGroup(ctx, join, "fuzz", "/127.0.0.1")
	if len(d.Members) > 0 {
		sync := kmsg.NewPtrSyncGroupRequest()
		sync.Group, sync.MemberID, sync.Generation = d.Group, d.Members[0].MemberID, d.Generation
		c.SyncGroup(ctx, sync)
		c.LeaveGroup(d.Group, []LeaveMember{{MemberID: d.Members[0].MemberID}})
	}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = d.Group, -1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "t"
	cp := kmsg.NewOffsetCommitRequestTopicPartition()
	cp.Offset = 0
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	c.OffsetCommit(commit)
	_ = c.DeleteGroup(d.Group)
}
