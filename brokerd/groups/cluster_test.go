package groups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clustered returns a clustered coordinator over e's logs, as another
// broker holding replicas of the same partitions would be.
func (e *env) clustered() *Coordinator {
	cfg := e.cfg
	cfg.Clustered = true
	return New(cfg, e.opener(), e.topics, e.clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// groupIn returns a group id of partition p (of e's three), distinct per n.
func groupIn(t testing.TB, p int32, n int) string {
	t.Helper()
	for i := 0; ; i++ {
		id := fmt.Sprintf("g%d-%d", n, i)
		if PartitionFor(id, 3) == p {
			return id
		}
	}
}

// assertNotServed checks that every group API refuses group with code.
func assertNotServed(t *testing.T, c *Coordinator, group string, code int16) {
	t.Helper()
	want := kerr.ErrorForCode(code)
	if r := c.JoinGroup(context.Background(), joinReq(group, ""), "client", "h"); r.ErrorCode != code {
		t.Errorf("JoinGroup: %d, want %d", r.ErrorCode, code)
	}
	sr := kmsg.NewPtrSyncGroupRequest()
	sr.Group, sr.MemberID, sr.Generation = group, "m", 1
	if r := c.SyncGroup(context.Background(), sr); r.ErrorCode != code {
		t.Errorf("SyncGroup: %d, want %d", r.ErrorCode, code)
	}
	hr := kmsg.NewPtrHeartbeatRequest()
	hr.Group, hr.MemberID, hr.Generation = group, "m", 1
	if got := c.Heartbeat(hr); got != code {
		t.Errorf("Heartbeat: %d, want %d", got, code)
	}
	if got, _ := c.LeaveGroup(group, []LeaveMember{{MemberID: "m"}}); got != code {
		t.Errorf("LeaveGroup: %d, want %d", got, code)
	}
	if got := c.OffsetCommit(commitReq(group, -1, "", "t", 0, 1, "")).Topics[0].Partitions[0].ErrorCode; got != code {
		t.Errorf("OffsetCommit: %d, want %d", got, code)
	}
	if _, err := c.FetchOffsets(group, nil); !errors.Is(err, want) {
		t.Errorf("FetchOffsets(all): %v, want %v", err, want)
	}
	if _, err := c.FetchOffsets(group, []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}); !errors.Is(err, want) {
		t.Errorf("FetchOffsets: %v, want %v", err, want)
	}
	if d := c.DescribeGroup(group); d.ErrorCode != code || len(d.Members) != 0 {
		t.Errorf("DescribeGroup: code %d, %d members, want code %d", d.ErrorCode, len(d.Members), code)
	}
	if err := c.DeleteGroup(group); !errors.Is(err, want) {
		t.Errorf("DeleteGroup: %v, want %v", err, want)
	}
	if _, err := c.DeleteOffsets(group, []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}); !errors.Is(err, want) {
		t.Errorf("DeleteOffsets: %v, want %v", err, want)
	}
	if c.Owns(group) {
		t.Errorf("Owns(%s) = true", group)
	}
}

// A clustered coordinator serves nothing before it leads, even once its
// logs are open, and opening loads nothing.
func TestClusteredNotCoordinatorBeforeLeadership(t *testing.T) {
	e := newEnv(t, testConfig())
	if code := e.commit("g", -1, "", "t", 0, 42); code != 0 {
		t.Fatalf("commit on the single-node coordinator: %d", code)
	}
	c := e.clustered()
	assertNotServed(t, c, "g", ErrNotCoordinator.Code)
	st, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	if st.RecordsRead != 0 || st.Groups != 0 {
		t.Fatalf("clustered Load loaded %+v; shards must stay unloaded", st)
	}
	assertNotServed(t, c, "g", ErrNotCoordinator.Code)
	if l := c.ListGroups(); len(l) != 0 {
		t.Fatalf("ListGroups before leadership: %v", l)
	}
	// Leadership of another partition does not serve this group.
	p := PartitionFor("g", 3)
	c.SetLeadership((p+1)%3, true)
	assertNotServed(t, c, "g", ErrNotCoordinator.Code)
	c.SetLeadership(p, true)
	if !c.Owns("g") {
		t.Fatal("Owns after SetLeadership(true) = false")
	}
	// A single-node coordinator serves everything whatever it is told.
	e.c.SetLeadership(p, false)
	if !e.c.Owns("g") || e.fetched("g", "t", 0) != 42 {
		t.Fatal("single-node coordinator stopped serving after SetLeadership(false)")
	}
}

// Failover: a coordinator that gains leadership sees what the previous
// leader committed to the partition's log, and serves the group.
func TestClusteredLeadershipLoadsCommittedState(t *testing.T) {
	e := newEnv(t, testConfig())
	old := e.clustered()
	p := PartitionFor("g", 3)
	old.SetLeadership(p, true)
	e.c = old
	members, gen := e.stableGroup("g", 2)
	if code := e.commit("g", gen, members[0], "t", 1, 17); code != 0 {
		t.Fatalf("commit: %d", code)
	}

	// The new leader opens its logs itself (the first SetLeadership does).
	e.c = e.clustered()
	e.c.SetLeadership(p, true)
	if got := e.fetched("g", "t", 1); got != 17 {
		t.Fatalf("offset after failover: %d, want 17", got)
	}
	d := e.c.DescribeGroup("g")
	if d.ErrorCode != 0 || d.State != Stable || d.Generation != gen || len(d.Members) != 2 {
		t.Fatalf("group after failover: %+v, want Stable generation %d with 2 members", d, gen)
	}
	// The members carry on with the new coordinator.
	if code := e.heartbeat("g", gen, members[1]); code != 0 {
		t.Fatalf("heartbeat to the new leader: %d", code)
	}
	if code := e.commit("g", gen, members[1], "t", 1, 18); code != 0 {
		t.Fatalf("commit to the new leader: %d", code)
	}
}

// Losing leadership answers waiting JoinGroup and SyncGroup requests with
// NOT_COORDINATOR and refuses every later request.
func TestClusteredLosingLeadershipFailsWaiters(t *testing.T) {
	e := newEnv(t, testConfig())
	e.c = e.clustered()
	const p = 1
	e.c.SetLeadership(p, true)
	g1, g2 := groupIn(t, p, 1), groupIn(t, p, 2)

	// g1: two members joined generation 1; the follower waits in SyncGroup.
	a := e.await(e.newMember(g1, joinReq(g1, "")))
	b := e.newMember(g1, joinReq(g1, ""))
	waitMembers(e, g1, 2)
	a = e.await(e.joinAsync(joinReq(g1, a.MemberID)))
	br := e.await(b)
	if a.ErrorCode != 0 || br.ErrorCode != 0 {
		t.Fatalf("joins: %d %d", a.ErrorCode, br.ErrorCode)
	}
	follower := br.MemberID
	if br.LeaderID == follower {
		follower = a.MemberID
	}
	syncCh := e.sync(g1, a.Generation, follower, nil)
	s := e.c.peekShard(g1)
	poll.True(t, 5*time.Second, "the follower's SyncGroup to wait", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.groups[g1].members[follower].syncWait != nil
	})

	// g2: a stable member; a newcomer waits in JoinGroup for it.
	x := e.await(e.newMember(g2, joinReq(g2, "")))
	if r := awaitSync(t, e.sync(g2, x.Generation, x.MemberID, map[string]string{x.MemberID: "a"})); r.ErrorCode != 0 {
		t.Fatalf("sync: %d", r.ErrorCode)
	}
	joinCh := e.newMember(g2, joinReq(g2, ""))
	waitMembers(e, g2, 2)

	e.c.SetLeadership(p, false)
	if r := e.await(joinCh); r.ErrorCode != ErrNotCoordinator.Code {
		t.Fatalf("waiting JoinGroup: %d, want NOT_COORDINATOR", r.ErrorCode)
	}
	if r := awaitSync(t, syncCh); r.ErrorCode != ErrNotCoordinator.Code {
		t.Fatalf("waiting SyncGroup: %d, want NOT_COORDINATOR", r.ErrorCode)
	}
	if code := e.heartbeat(g2, x.Generation, x.MemberID); code != ErrNotCoordinator.Code {
		t.Fatalf("heartbeat after losing leadership: %d", code)
	}
	assertNotServed(t, e.c, g1, ErrNotCoordinator.Code)
	if l := e.c.ListGroups(); len(l) != 0 {
		t.Fatalf("ListGroups after losing leadership: %v", l)
	}
	// Tick and expiry leave the inactive shard alone.
	e.clock.Advance(time.Hour)
	e.c.Tick()
	e.c.ExpireOffsets()
	s.mu.Lock()
	state, n := s.state, len(s.groups)
	s.mu.Unlock()
	if state != inactive || n != 0 {
		t.Fatalf("inactive shard changed: state %d, %d groups", state, n)
	}
}

// Regaining leadership reloads the partition: commits and deletions made
// meanwhile by another leader are seen.
func TestClusteredReacquireReloadsLatestState(t *testing.T) {
	e := newEnv(t, testConfig())
	a, b := e.clustered(), e.clustered()
	p := PartitionFor("g", 3)
	e.c = a
	a.SetLeadership(p, true)
	if code := e.commit("g", -1, "", "t", 0, 5); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	if code := e.commit("g", -1, "", "t", 1, 6); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	a.SetLeadership(p, false)

	e.c = b
	b.SetLeadership(p, true)
	if code := e.commit("g", -1, "", "t", 0, 7); code != 0 {
		t.Fatalf("commit on the other leader: %d", code)
	}
	if code := e.commit("g", -1, "", "u", 1, 3); code != 0 {
		t.Fatalf("commit on the other leader: %d", code)
	}
	if codes, err := b.DeleteOffsets("g", []TopicPartitions{{Topic: "t", Partitions: []int32{1}}}); err != nil || codes[0][0] != 0 {
		t.Fatalf("offset delete on the other leader: %v %v", codes, err)
	}
	b.SetLeadership(p, false)

	e.c = a
	a.SetLeadership(p, true)
	if got := e.fetched("g", "t", 0); got != 7 {
		t.Fatalf("offset after regaining leadership: %d, want 7", got)
	}
	if got := e.fetched("g", "u", 1); got != 3 {
		t.Fatalf("offset committed meanwhile: %d, want 3", got)
	}
	if got := e.fetched("g", "t", 1); got != -1 {
		t.Fatalf("offset deleted meanwhile: %d, want none (-1)", got)
	}
	// A repeated SetLeadership(true) reloads too (the log may have moved
	// under another leader the caller did not report).
	e.c = b
	b.SetLeadership(p, true)
	if code := e.commit("g", -1, "", "t", 0, 9); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	e.c = a
	a.SetLeadership(p, true)
	if got := e.fetched("g", "t", 0); got != 9 {
		t.Fatalf("offset after a repeated SetLeadership(true): %d, want 9", got)
	}
}

// ListGroups lists the groups of the partitions led here only.
func TestClusteredListGroupsOnlyActiveShards(t *testing.T) {
	e := newEnv(t, testConfig())
	var ids [3]string
	for p := int32(0); p < 3; p++ {
		ids[p] = groupIn(t, p, 0)
		if code := e.commit(ids[p], -1, "", "t", 0, 1); code != 0 {
			t.Fatalf("commit: %d", code)
		}
	}
	c := e.clustered()
	c.SetLeadership(0, true)
	c.SetLeadership(2, true)
	names := func() []string {
		var out []string
		for _, l := range c.ListGroups() {
			out = append(out, l.Group)
		}
		return out
	}
	want := []string{ids[0], ids[2]}
	if ids[2] < ids[0] {
		want = []string{ids[2], ids[0]}
	}
	if got := names(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListGroups leading 0 and 2: %v, want %v", got, want)
	}
	c.SetLeadership(2, false)
	if got := names(); fmt.Sprint(got) != fmt.Sprint([]string{ids[0]}) {
		t.Fatalf("ListGroups leading 0: %v, want [%s]", got, ids[0])
	}
}

// gatedLog blocks reads until released, to observe a load in progress.
type gatedLog struct {
	Log
	gate    chan struct{}
	reading chan struct{}
	once    sync.Once
}

func (l *gatedLog) Read(off int64, n int) ([]byte, error) {
	l.once.Do(func() { close(l.reading) })
	<-l.gate
	return l.Log.Read(off, n)
}

// While a partition loads, its groups answer COORDINATOR_LOAD_IN_PROGRESS
// at once rather than block.
func TestClusteredLoadInProgress(t *testing.T) {
	e := newEnv(t, testConfig())
	if code := e.commit("g", -1, "", "t", 0, 4); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	p := PartitionFor("g", 3)
	gl := &gatedLog{Log: e.logs[p], gate: make(chan struct{}), reading: make(chan struct{})}
	e.logs[p] = gl
	e.c = e.clustered()
	done := make(chan struct{})
	go func() { e.c.SetLeadership(p, true); close(done) }()
	<-gl.reading
	assertNotServed(t, e.c, "g", ErrLoadInProgress.Code)
	close(gl.gate)
	<-done
	if got := e.fetched("g", "t", 0); got != 4 {
		t.Fatalf("offset after the load: %d, want 4", got)
	}
}

// A write that fails because this broker no longer leads the partition
// answers NOT_COORDINATOR; other write failures COORDINATOR_NOT_AVAILABLE.
// Neither changes memory.
func TestAppendErrorCodes(t *testing.T) {
	e := newEnv(t, testConfig())
	if code := e.commit("g", -1, "", "t", 0, 1); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	lg := e.logs[PartitionFor("g", 3)].(*memLog)
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{fmt.Errorf("%w: %w", ErrNotCoordinator, errors.New("not the leader")), ErrNotCoordinator.Code},
		{errors.New("in-sync replicas did not copy the write in time"), ErrCoordinatorNotAvail.Code},
	} {
		lg.mu.Lock()
		lg.fail = tc.err
		lg.mu.Unlock()
		if code := e.commit("g", -1, "", "t", 0, 2); code != tc.want {
			t.Errorf("commit failing with %v: %d, want %d", tc.err, code, tc.want)
		}
		if err := e.c.DeleteGroup("g"); !errors.Is(err, kerr.ErrorForCode(tc.want)) {
			t.Errorf("DeleteGroup failing with %v: %v", tc.err, err)
		}
		if got := e.fetched("g", "t", 0); got != 1 {
			t.Fatalf("offset after a failed commit: %d, want 1", got)
		}
	}
}
