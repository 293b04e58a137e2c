package groups

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestCommitsSurviveReload(t *testing.T) {
	e := newEnv(t, testConfig())
	ids, gen := e.stableGroup("g", 2)
	if code := e.commit("g", gen, ids[0], "t", 3, 42); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	if code := e.commit("simple", -1, "", "u", 1, 7); code != 0 {
		t.Fatalf("simple commit: %d", code)
	}
	st := e.restart()
	if st.Groups != 2 || st.Offsets != 2 {
		t.Fatalf("load stats %+v, want 2 groups 2 offsets", st)
	}
	if got := e.fetched("g", "t", 3); got != 42 {
		t.Fatalf("offset after reload %d, want 42", got)
	}
	if got := e.fetched("simple", "u", 1); got != 7 {
		t.Fatalf("simple offset after reload %d, want 7", got)
	}
	// Members come back Stable at their generation and keep heartbeating.
	d := e.c.DescribeGroup("g")
	if d.State != Stable || d.Generation != gen || len(d.Members) != 2 {
		t.Fatalf("group after reload: %+v", d)
	}
	if code := e.heartbeat("g", gen, ids[1]); code != 0 {
		t.Fatalf("heartbeat after reload: %d", code)
	}
}

func TestFailedAppendChangesNothing(t *testing.T) {
	e := newEnv(t, testConfig())
	if code := e.commit("g", -1, "", "t", 0, 5); code != 0 {
		t.Fatal(code)
	}
	e.c.Ensure()
	for _, l := range e.logs {
		l.(*memLog).fail = errors.New("disk gone")
	}
	if code := e.commit("g", -1, "", "t", 0, 9); code != ErrCoordinatorNotAvail.Code {
		t.Fatalf("commit on failing log: %d, want COORDINATOR_NOT_AVAILABLE", code)
	}
	if got := e.fetched("g", "t", 0); got != 5 {
		t.Fatalf("offset %d after failed commit, want 5", got)
	}
	if err := e.c.DeleteGroup("g"); !errors.Is(err, ErrCoordinatorNotAvail) {
		t.Fatalf("delete on failing log: %v", err)
	}
	if got := e.fetched("g", "t", 0); got != 5 {
		t.Fatalf("offset %d after failed delete, want 5", got)
	}
}

// 100k commits to one group reload by reading O(live keys) records.
func TestLoadIsBoundedBySnapshots(t *testing.T) {
	e := newEnv(t, testConfig()) // SnapshotMinRecords 100
	const commits = 100_000
	for i := 0; i < commits; i++ {
		if code := e.commit("busy", -1, "", "t", int32(i%6), int64(i%1000)); code != 0 {
			t.Fatalf("commit %d: %d", i, code)
		}
	}
	if code := e.commit("other", -1, "", "u", 0, 1); code != 0 {
		t.Fatal(code)
	}
	st := e.restart()
	live := 7 // 6 partitions of busy, 1 of other
	if st.RecordsRead > 2*live+e.cfg.SnapshotMinRecords+1 {
		t.Fatalf("load read %d records after %d commits, want <= %d", st.RecordsRead, commits, 2*live+e.cfg.SnapshotMinRecords+1)
	}
	for p := int32(0); p < 6; p++ {
		want := int64(-1)
		for i := commits - 1; i >= 0; i-- {
			if int32(i%6) == p {
				want = int64(i % 1000)
				break
			}
		}
		if got := e.fetched("busy", "t", p); got != want {
			t.Fatalf("partition %d: offset %d after reload, want %d", p, got, want)
		}
	}
}

func TestDeleteGroupIsDurable(t *testing.T) {
	e := newEnv(t, testConfig())
	e.commit("g", -1, "", "t", 0, 5)
	ids, _ := e.stableGroup("live", 1)
	if err := e.c.DeleteGroup("live"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("delete non-empty: %v", err)
	}
	if err := e.c.DeleteGroup("missing"); !errors.Is(err, ErrGroupIDNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
	if err := e.c.DeleteGroup("g"); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if got := e.fetched("g", "t", 0); got != -1 {
		t.Fatalf("deleted group's offset came back: %d", got)
	}
	if d := e.c.DescribeGroup("live"); len(d.Members) != 1 || d.Members[0].MemberID != ids[0] {
		t.Fatalf("other group: %+v", d)
	}
}

func TestOffsetDeleteRefusesSubscribedTopic(t *testing.T) {
	e := newEnv(t, testConfig())
	ids, gen := e.stableGroup("g", 1) // subscribed to "t"
	e.commit("g", gen, ids[0], "t", 0, 5)
	e.commit("g", gen, ids[0], "u", 0, 6)
	codes, err := e.c.DeleteOffsets("g", []TopicPartitions{{"t", []int32{0}}, {"u", []int32{0}}})
	if err != nil {
		t.Fatal(err)
	}
	if codes[0][0] != kerr.GroupSubscribedToTopic.Code || codes[1][0] != 0 {
		t.Fatalf("codes %v", codes)
	}
	if e.fetched("g", "t", 0) != 5 || e.fetched("g", "u", 0) != -1 {
		t.Fatalf("offsets after delete: t=%d u=%d", e.fetched("g", "t", 0), e.fetched("g", "u", 0))
	}
}

func TestExpiry(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetention = time.Hour
	e := newEnv(t, cfg)
	e.commit("simple", -1, "", "t", 0, 1)
	e.commit("gone-topic", -1, "", "u", 0, 1)
	ids, gen := e.stableGroup("managed", 1)
	e.commit("managed", gen, ids[0], "t", 1, 9)
	e.topics.remove("u")
	e.c.ExpireOffsets()
	if got := e.fetched("gone-topic", "u", 0); got != -1 {
		t.Fatalf("offset of a deleted topic kept: %d", got)
	}
	if e.fetched("simple", "t", 0) != 1 {
		t.Fatal("fresh simple offset expired")
	}
	e.clock.Advance(2 * time.Hour)
	// The managed group is not empty: its member heartbeats, offsets stay.
	e.heartbeat("managed", gen, ids[0])
	e.c.ExpireOffsets()
	if e.fetched("simple", "t", 0) != -1 {
		t.Fatal("old simple offset not expired")
	}
	if e.fetched("managed", "t", 1) != 9 {
		t.Fatal("offset of a live group expired")
	}
	e.c.LeaveGroup("managed", []LeaveMember{{MemberID: ids[0]}})
	e.clock.Advance(30 * time.Minute)
	e.c.ExpireOffsets()
	if e.fetched("managed", "t", 1) != 9 {
		t.Fatal("expired before the retention after becoming empty")
	}
	e.clock.Advance(31 * time.Minute)
	e.c.ExpireOffsets()
	if e.fetched("managed", "t", 1) != -1 {
		t.Fatal("empty group's offsets not expired")
	}
	if len(e.c.ListGroups()) != 0 {
		t.Fatalf("groups left: %+v", e.c.ListGroups())
	}
	e.restart()
	if len(e.c.ListGroups()) != 0 {
		t.Fatalf("groups back after reload: %+v", e.c.ListGroups())
	}
}

// Every refused request leaves the group as it was.
func TestBadInputChangesNothing(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSize = 2
	cfg.MaxMetadataBytes = 10
	e := newEnv(t, cfg)
	ids, gen := e.stableGroup("g", 2)
	e.commit("g", gen, ids[0], "t", 0, 5)
	before := e.c.DescribeGroup("g")

	check := func(name string, got, want int16) {
		t.Helper()
		if got != want {
			t.Errorf("%s: code %d (%s), want %d (%s)", name, got, kerr.ErrorForCode(got), want, kerr.ErrorForCode(want))
		}
	}
	check("stale generation heartbeat", e.heartbeat("g", gen-1, ids[0]), ErrIllegalGeneration.Code)
	check("unknown member heartbeat", e.heartbeat("g", gen, "ghost"), ErrUnknownMemberID.Code)
	check("stale generation commit", e.commit("g", gen-1, ids[0], "t", 0, 1), ErrIllegalGeneration.Code)
	check("unknown member commit", e.commit("g", gen, "ghost", "t", 0, 1), ErrUnknownMemberID.Code)
	check("unknown topic commit", e.commit("g", gen, ids[0], "nope", 0, 1), kerr.UnknownTopicOrPartition.Code)
	check("unknown partition commit", e.commit("g", gen, ids[0], "t", 99, 1), kerr.UnknownTopicOrPartition.Code)
	check("negative offset", e.commit("g", gen, ids[0], "t", 0, -5), kerr.OffsetOutOfRange.Code)
	check("offset past the end", e.commit("g", gen, ids[0], "t", 0, 1001), kerr.OffsetOutOfRange.Code)
	check("invalid group id commit", e.commit("", -1, "", "t", 0, 1), ErrInvalidGroupID.Code)
	big := e.c.OffsetCommit(commitReq("g", gen, ids[0], "t", 0, 1, strings.Repeat("x", 11)))
	check("metadata too large", big.Topics[0].Partitions[0].ErrorCode, kerr.OffsetMetadataTooLarge.Code)

	wrongType := joinReq("g", "")
	wrongType.ProtocolType = "connect"
	check("wrong protocol type", e.await(e.joinAsync(wrongType)).ErrorCode, ErrInconsistentProtocol.Code)
	check("no common protocol", e.await(e.joinAsync(joinReq("g", "", "bespoke"))).ErrorCode, ErrInconsistentProtocol.Code)
	short := joinReq("g", "")
	short.SessionTimeoutMillis = 10
	check("session too short", e.await(e.joinAsync(short)).ErrorCode, ErrInvalidSessionTimeout.Code)
	long := joinReq("g", "")
	long.SessionTimeoutMillis = int32(cfg.MaxSessionTimeout.Milliseconds() + 1)
	check("session too long", e.await(e.joinAsync(long)).ErrorCode, ErrInvalidSessionTimeout.Code)
	check("group full", e.await(e.joinAsync(joinReq("g", ""))).ErrorCode, ErrGroupMaxSizeReached.Code)
	check("unknown member join", e.await(e.joinAsync(joinReq("g", "ghost"))).ErrorCode, ErrUnknownMemberID.Code)
	check("invalid group id join", e.await(e.joinAsync(joinReq("", ""))).ErrorCode, ErrInvalidGroupID.Code)
	stale := kmsg.NewPtrSyncGroupRequest()
	stale.Group, stale.Generation, stale.MemberID = "g", gen+5, ids[1]
	check("stale generation sync", e.c.SyncGroup(t.Context(), stale).ErrorCode, ErrIllegalGeneration.Code)

	after := e.c.DescribeGroup("g")
	if after.State != before.State || after.Generation != before.Generation || len(after.Members) != len(before.Members) {
		t.Fatalf("group changed: before %+v after %+v", before, after)
	}
	if got := e.fetched("g", "t", 0); got != 5 {
		t.Fatalf("offset %d, want 5", got)
	}
	if len(e.c.ListGroups()) != 1 {
		t.Fatalf("groups: %+v", e.c.ListGroups())
	}
}

// An empty group's retention counts from when it became empty, also
// across a reload.
func TestEmptySinceSurvivesReload(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetention = time.Hour
	e := newEnv(t, cfg)
	ids, gen := e.stableGroup("g", 1)
	e.commit("g", gen, ids[0], "t", 0, 3)
	e.c.LeaveGroup("g", []LeaveMember{{MemberID: ids[0]}})
	e.clock.Advance(50 * time.Minute)
	e.restart()
	e.clock.Advance(11 * time.Minute)
	e.c.ExpireOffsets()
	if got := e.fetched("g", "t", 0); got != -1 {
		t.Fatalf("offset %d kept: retention restarted at the reload", got)
	}
}

// A commit to a partition this broker does not lead (the coordinator is
// placed by group id, not by the committed partition) is judged by what
// the broker can know: a negative offset is refused, an offset beyond the
// local (empty or lagging) log is stored. Where the end is known it
// still bounds the commit.
func TestCommitBeyondLocalEndOfRemotePartition(t *testing.T) {
	e := newEnv(t, testConfig())
	e.topics.addRemote("remote", 1)
	if code := e.commit("simple", -1, "", "remote", 0, 5000); code != 0 {
		t.Fatalf("commit of 5000 to a partition led elsewhere: %s", kerr.ErrorForCode(code))
	}
	if got := e.fetched("simple", "remote", 0); got != 5000 {
		t.Fatalf("fetched %d, want 5000", got)
	}
	if code := e.commit("simple", -1, "", "remote", 0, -1); code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("negative offset: %s, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(code))
	}
	if code := e.commit("simple", -1, "", "t", 0, 1001); code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("beyond a known end: %s, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(code))
	}
	if got := e.fetched("simple", "remote", 0); got != 5000 {
		t.Fatalf("refused commit changed the offset to %d", got)
	}
}

// A member's commit (generation >= 0, or v0..v8 semantics) to a group
// that does not exist is answered as Kafka's coordinator answers it:
// GROUP_ID_NOT_FOUND from v9, ILLEGAL_GENERATION before; nothing is
// stored and no group appears. Generation -1 creates a simple group
// whatever the member id.
func TestCommitToMissingGroup(t *testing.T) {
	e := newEnv(t, testConfig())
	for v := int16(1); v <= 9; v++ {
		req := commitReq("gone", 3, "member-1", "t", 0, 7, "")
		req.Version = v
		want := ErrIllegalGeneration.Code
		if v >= 9 {
			want = ErrGroupIDNotFound.Code
		}
		if got := e.c.OffsetCommit(req).Topics[0].Partitions[0].ErrorCode; got != want {
			t.Errorf("v%d: %s, want %s", v, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
		}
	}
	if len(e.c.ListGroups()) != 0 {
		t.Fatalf("refused commits created groups: %+v", e.c.ListGroups())
	}
	if code := e.commit("simple", -1, "member-1", "t", 0, 7); code != 0 {
		t.Fatalf("generation -1 with a member id: %s", kerr.ErrorForCode(code))
	}
	if got := e.fetched("simple", "t", 0); got != 7 {
		t.Fatalf("fetched %d, want 7", got)
	}
}
