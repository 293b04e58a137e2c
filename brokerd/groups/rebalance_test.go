package groups

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPartitionForMatchesKafka(t *testing.T) {
	// Java: "hello".hashCode() == 99162322; "polygenelubricants" hashes
	// to Integer.MIN_VALUE, which Kafka's abs maps to 0.
	cases := map[string]int32{"hello": 99162322 % 50, "polygenelubricants": 0, "": 0}
	for g, want := range cases {
		if got := PartitionFor(g, 50); got != want {
			t.Errorf("PartitionFor(%q) = %d, want %d", g, got, want)
		}
	}
	// A negative hash: "Aa-group-ÿ" style strings; check range only.
	for _, g := range []string{"zzzzzzzzzzzzzz", "consumer-ä€😀"} {
		if p := PartitionFor(g, 7); p < 0 || p >= 7 {
			t.Errorf("PartitionFor(%q) = %d out of range", g, p)
		}
	}
}

func TestThreeMembersFormOneGeneration(t *testing.T) {
	e := newEnv(t, testConfig())
	ids, gen := e.stableGroup("g", 3)
	if len(ids) != 3 {
		t.Fatalf("%d members", len(ids))
	}
	d := e.c.DescribeGroup("g")
	if d.State != Stable || d.Generation != gen || len(d.Members) != 3 || d.Protocol != "range" {
		t.Fatalf("describe: %+v", d)
	}
	for _, m := range d.Members {
		if string(m.Assignment) != "a-"+m.MemberID {
			t.Errorf("member %s assignment %q", m.MemberID, m.Assignment)
		}
	}
	for _, id := range ids {
		if code := e.heartbeat("g", gen, id); code != 0 {
			t.Errorf("heartbeat of %s: %d", id, code)
		}
	}
}

func TestSessionTimeoutRemovesSilentMember(t *testing.T) {
	e := newEnv(t, testConfig())
	ids, gen := e.stableGroup("g", 2)
	// Only the leader heartbeats; the follower goes silent.
	e.clock.Advance(6 * time.Second)
	if code := e.heartbeat("g", gen, ids[0]); code != 0 {
		t.Fatalf("heartbeat: %d", code)
	}
	e.clock.Advance(5 * time.Second) // follower: 11s > 10s session
	e.c.Tick()
	if code := e.heartbeat("g", gen, ids[0]); code != ErrRebalanceInProgress.Code {
		t.Fatalf("heartbeat after expiry: %d, want REBALANCE_IN_PROGRESS", code)
	}
	r := e.await(e.joinAsync(joinReq("g", ids[0])))
	if r.ErrorCode != 0 || r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("rejoin: code %d gen %d members %d", r.ErrorCode, r.Generation, len(r.Members))
	}
	if code := e.heartbeat("g", gen, ids[1]); code != ErrUnknownMemberID.Code {
		t.Fatalf("expired member heartbeat: %d, want UNKNOWN_MEMBER_ID", code)
	}
}

func TestRebalanceTimeoutDropsMemberThatDoesNotRejoin(t *testing.T) {
	e := newEnv(t, testConfig())
	ids, gen := e.stableGroup("g", 2)
	// The leader rejoins (new subscription); the follower never does.
	req := joinReq("g", ids[0], "roundrobin", "range")
	ch := e.joinAsync(req)
	waitState(t, e, "g", PreparingRebalance)
	select {
	case <-ch:
		t.Fatal("join completed before the other member rejoined or the timeout")
	case <-time.After(20 * time.Millisecond):
	}
	e.clock.Advance(21 * time.Second) // rebalance timeout 20s
	e.c.Tick()
	r := e.await(ch)
	if r.ErrorCode != 0 || r.Generation != gen+1 || len(r.Members) != 1 || *r.Protocol != "roundrobin" {
		t.Fatalf("join: %+v", r)
	}
}

func waitState(t *testing.T, e *env, g string, s State) {
	t.Helper()
	poll.Must(t, 5*time.Second, fmt.Sprintf("group %s in state %v", g, s), func() error {
		if got := e.c.DescribeGroup(g).State; got != s {
			return fmt.Errorf("state %v", got)
		}
		return nil
	})
}

func TestInitialRebalanceDelayWaitsForMoreMembers(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 3 * time.Second
	e := newEnv(t, cfg)
	a := e.newMember("g", joinReq("g", ""))
	waitState(t, e, "g", PreparingRebalance)
	e.clock.Advance(2 * time.Second)
	e.c.Tick()
	b := e.newMember("g", joinReq("g", "")) // extends the delay to now+3s
	waitMembers(e, "g", 2)
	e.clock.Advance(2 * time.Second)
	e.c.Tick()
	select {
	case <-a:
		t.Fatal("completed inside the extended delay")
	case <-time.After(20 * time.Millisecond):
	}
	e.clock.Advance(2 * time.Second)
	e.c.Tick()
	ra, rb := e.await(a), e.await(b)
	if ra.Generation != 1 || rb.Generation != 1 || ra.LeaderID != rb.LeaderID {
		t.Fatalf("generations %d %d leaders %s %s", ra.Generation, rb.Generation, ra.LeaderID, rb.LeaderID)
	}
}

func TestStaticMemberRestartKeepsAssignmentWithoutRebalance(t *testing.T) {
	e := newEnv(t, testConfig())
	inst := func(id string) *kmsg.JoinGroupRequest {
		r := joinReq("g", "")
		r.InstanceID = kmsg.StringPtr(id)
		return r
	}
	// Static members need no MEMBER_ID_REQUIRED round.
	a := e.await(e.joinAsync(inst("i-a")))
	bch := e.joinAsync(inst("i-b"))
	waitMembers(e, "g", 2)
	ra := joinReq("g", a.MemberID)
	ra.InstanceID = kmsg.StringPtr("i-a")
	a = e.await(e.joinAsync(ra))
	b := e.await(bch)
	gen := a.Generation
	leader := a.LeaderID
	sa := e.sync("g", gen, b.MemberID, nil)
	if leader != a.MemberID {
		t.Fatalf("leader %s, want %s", leader, a.MemberID)
	}
	sl := e.sync("g", gen, a.MemberID, map[string]string{a.MemberID: "A", b.MemberID: "B"})
	awaitSync(t, sl)
	awaitSync(t, sa)

	// b restarts: joins with its instance id and no member id.
	nb := e.await(e.joinAsync(inst("i-b")))
	if nb.ErrorCode != 0 || nb.Generation != gen || nb.MemberID == b.MemberID {
		t.Fatalf("static rejoin: code %d gen %d id %s (old %s)", nb.ErrorCode, nb.Generation, nb.MemberID, b.MemberID)
	}
	r := awaitSync(t, e.sync("g", gen, nb.MemberID, nil))
	if r.ErrorCode != 0 || string(r.MemberAssignment) != "B" {
		t.Fatalf("sync after static rejoin: code %d assignment %q", r.ErrorCode, r.MemberAssignment)
	}
	if code := e.heartbeat("g", gen, a.MemberID); code != 0 {
		t.Fatalf("other member heartbeat: %d, want 0 (no rebalance)", code)
	}
	// The old incarnation is fenced.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.Generation, hb.MemberID, hb.InstanceID = "g", gen, b.MemberID, kmsg.StringPtr("i-b")
	if code := e.c.Heartbeat(hb); code != ErrFencedInstanceID.Code {
		t.Fatalf("old incarnation heartbeat: %d, want FENCED_INSTANCE_ID", code)
	}

	// A restarted cooperative consumer sends other metadata bytes for the
	// same protocol (owned partitions, generation): still no rebalance, as
	// the group's selected protocol does not change.
	again := inst("i-b")
	again.Protocols[0].Metadata = append([]byte{}, again.Protocols[0].Metadata...)
	again.Protocols[0].Metadata = append(again.Protocols[0].Metadata, 0, 0, 0, 1)
	nb2 := e.await(e.joinAsync(again))
	if nb2.ErrorCode != 0 || nb2.Generation != gen {
		t.Fatalf("static rejoin with new metadata: code %d gen %d, want 0 and %d", nb2.ErrorCode, nb2.Generation, gen)
	}
	if code := e.heartbeat("g", gen, a.MemberID); code != 0 {
		t.Fatalf("other member heartbeat after metadata-only change: %d, want 0", code)
	}
}

func TestLeaveGroupRebalancesTheRest(t *testing.T) {
	e := newEnv(t, testConfig())
	ids, gen := e.stableGroup("g", 2)
	code, codes := e.c.LeaveGroup("g", []LeaveMember{{MemberID: ids[1]}, {MemberID: "nobody"}})
	if code != 0 || codes[0] != 0 || codes[1] != ErrUnknownMemberID.Code {
		t.Fatalf("leave: %d %v", code, codes)
	}
	if c := e.heartbeat("g", gen, ids[0]); c != ErrRebalanceInProgress.Code {
		t.Fatalf("heartbeat: %d", c)
	}
	r := e.await(e.joinAsync(joinReq("g", ids[0])))
	if r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("rejoin: gen %d members %d", r.Generation, len(r.Members))
	}
	// The last member leaving empties the group.
	awaitSync(t, e.sync("g", r.Generation, ids[0], map[string]string{ids[0]: "x"}))
	e.c.LeaveGroup("g", []LeaveMember{{MemberID: ids[0]}})
	if d := e.c.DescribeGroup("g"); d.State != Empty || len(d.Members) != 0 {
		t.Fatalf("after last leave: %+v", d)
	}
}

func TestShutdownAnswersWaiters(t *testing.T) {
	e := newEnv(t, testConfig())
	ids, _ := e.stableGroup("g", 2)
	ch := e.joinAsync(joinReq("g", ids[0], "roundrobin", "range"))
	waitState(t, e, "g", PreparingRebalance)
	e.c.Shutdown()
	if r := e.await(ch); r.ErrorCode != ErrCoordinatorNotAvail.Code {
		t.Fatalf("code %d", r.ErrorCode)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := e.c.JoinGroup(ctx, joinReq("g", ids[1], "other"), "c", "h"); r.ErrorCode == 0 {
		t.Fatalf("join with cancelled ctx succeeded")
	}
}

// A follower waiting in SyncGroup is kept while the leader is slow; when
// the leader's own session ends, the follower is told to rejoin.
func TestSyncWaitersOutliveTheirSessionUntilTheLeaderDies(t *testing.T) {
	e := newEnv(t, testConfig())
	first := e.await(e.newMember("g", joinReq("g", "")))
	bch := e.newMember("g", joinReq("g", ""))
	waitMembers(e, "g", 2)
	ach := e.joinAsync(joinReq("g", first.MemberID))
	a, b := e.await(ach), e.await(bch)
	follower := b
	if b.MemberID == a.LeaderID {
		follower = a
	}
	wait := e.sync("g", follower.Generation, follower.MemberID, nil)
	waitSyncing(t, e, "g", follower.MemberID)
	e.clock.Advance(9 * time.Second)
	e.heartbeat("g", a.Generation, a.LeaderID) // the leader is alive, just slow
	e.clock.Advance(2 * time.Second)           // follower's session (10s) passed
	e.c.Tick()
	if d := e.c.DescribeGroup("g"); len(d.Members) != 2 || d.State != CompletingRebalance {
		t.Fatalf("follower awaiting sync was dropped: %+v", d)
	}
	e.clock.Advance(10 * time.Second) // now the leader's session ends
	e.c.Tick()
	if r := awaitSync(t, wait); r.ErrorCode != ErrRebalanceInProgress.Code {
		t.Fatalf("follower sync: code %d, want REBALANCE_IN_PROGRESS", r.ErrorCode)
	}
}

func waitSyncing(t *testing.T, e *env, g, member string) {
	t.Helper()
	poll.True(t, 5*time.Second, "the member waiting in SyncGroup", func() bool {
		s := e.c.peekShard(g)
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.groups[g].members[member]
		return m != nil && m.syncWait != nil
	})
}
