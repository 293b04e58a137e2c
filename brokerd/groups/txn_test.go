package groups

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnCommit sends a TxnOffsetCommit v3 of one partition for producer pid
// (at epoch 0) as a member of gen (-1 and "": no member).
func (e *env) txnCommit(group string, pid int64, gen int32, member, topic string, part int32, off int64) int16 {
	e.t.Helper()
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = 3
	r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch = "tx", group, pid, 0
	r.Generation, r.MemberID = gen, member
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic = topic
	p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = part, off
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return e.c.TxnOffsetCommit(r).Topics[0].Partitions[0].ErrorCode
}

// marker ends producer pid's transaction on group's offsets partition.
func (e *env) marker(group string, pid int64, commit bool) {
	e.t.Helper()
	if err := e.c.WriteTxnMarker(context.Background(), PartitionFor(group, int32(len(e.logs))), pid, 0, commit, 0); err != nil {
		e.t.Fatal(err)
	}
}

// fetchedStable is fetched's offset and whether it is unstable (an open
// transaction has a pending offset of the partition).
func (e *env) fetchedStable(group, topic string, part int32) (int64, bool) {
	e.t.Helper()
	offs, err := e.c.FetchOffsets(group, []TopicPartitions{{Topic: topic, Partitions: []int32{part}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return offs[0].Offset, offs[0].Unstable
}

func (e *env) wantOffset(what, group string, part int32, want int64, unstable bool) {
	e.t.Helper()
	got, u := e.fetchedStable(group, "t", part)
	if got != want || u != unstable {
		e.t.Fatalf("%s: offset %d unstable %v, want %d unstable %v", what, got, u, want, unstable)
	}
}

// Pending transactional offsets are invisible until the COMMIT marker,
// then visible; a reload of the log at each point gives the same state.
func TestTxnOffsetsCommit(t *testing.T) {
	e := newEnv(t, testConfig())
	if code := e.commit("g", -1, "", "t", 0, 5); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	if code := e.txnCommit("g", 7, -1, "", "t", 0, 10); code != 0 {
		t.Fatalf("txn commit: %d", code)
	}
	e.wantOffset("pending", "g", 0, 5, true)
	e.wantOffset("other partition", "g", 1, -1, false)
	e.restart()
	e.wantOffset("pending after reload", "g", 0, 5, true)
	// Another producer's marker does nothing to it.
	e.marker("g", 8, true)
	e.wantOffset("after another producer's marker", "g", 0, 5, true)
	e.marker("g", 7, true)
	e.wantOffset("committed", "g", 0, 10, false)
	e.restart()
	e.wantOffset("committed after reload", "g", 0, 10, false)
	// A repeated marker (the coordinator retrying) changes nothing.
	e.marker("g", 7, false)
	e.wantOffset("after a repeated marker", "g", 0, 10, false)
}

// An ABORT drops the pending offsets, and a reload agrees; a later
// transaction of the same producer starts afresh.
func TestTxnOffsetsAbort(t *testing.T) {
	e := newEnv(t, testConfig())
	if code := e.commit("g", -1, "", "t", 0, 5); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	if code := e.txnCommit("g", 7, -1, "", "t", 0, 10); code != 0 {
		t.Fatalf("txn commit: %d", code)
	}
	e.marker("g", 7, false)
	e.wantOffset("aborted", "g", 0, 5, false)
	e.restart()
	e.wantOffset("aborted after reload", "g", 0, 5, false)
	if code := e.txnCommit("g", 7, -1, "", "t", 1, 3); code != 0 {
		t.Fatalf("txn commit: %d", code)
	}
	e.marker("g", 7, true)
	e.wantOffset("next transaction, partition 0", "g", 0, 5, false)
	e.wantOffset("next transaction, partition 1", "g", 1, 3, false)
	e.restart()
	e.wantOffset("next transaction after reload", "g", 1, 3, false)
	e.wantOffset("aborted stays aborted after reload", "g", 0, 5, false)
}

// A snapshot neither loses pending offsets nor applies them early: the
// log keeps the open transaction's batch, the reload finds it pending,
// and its marker after the reload commits it. Once it ended, later
// snapshots trim the log again.
func TestTxnOffsetsSurviveSnapshots(t *testing.T) {
	e := newEnv(t, testConfig())
	lg := e.logs[PartitionFor("g", 3)].(*memLog)
	if code := e.txnCommit("g", 7, -1, "", "t", 0, 10); code != 0 {
		t.Fatalf("txn commit: %d", code)
	}
	// Other groups of the same partition write enough to snapshot many
	// times.
	other := sameShard(t, "g")
	for i := 0; i < 10*e.cfg.SnapshotMinRecords; i++ {
		if code := e.commit(other, -1, "", "t", int32(i%3), int64(i%900)); code != 0 {
			t.Fatalf("commit %d: %d", i, code)
		}
	}
	if lg.Start() != 0 {
		t.Fatalf("log start %d: the open transaction's batch at 0 was dropped", lg.Start())
	}
	e.wantOffset("pending across snapshots", "g", 0, -1, true)
	e.restart()
	e.wantOffset("pending after reload", "g", 0, -1, true)
	e.marker("g", 7, true)
	e.wantOffset("committed after reload", "g", 0, 10, false)
	for i := 0; i < 10*e.cfg.SnapshotMinRecords; i++ {
		if code := e.commit(other, -1, "", "t", int32(i%3), int64(i%900)); code != 0 {
			t.Fatalf("commit %d: %d", i, code)
		}
	}
	if lg.Start() == 0 {
		t.Fatal("log never trimmed after the transaction ended")
	}
	st := e.restart()
	if st.RecordsRead > 3*(4+e.cfg.SnapshotMinRecords) {
		t.Fatalf("reload read %d records", st.RecordsRead)
	}
	e.wantOffset("committed after snapshots and reload", "g", 0, 10, false)
	if got := e.fetched(other, "t", 0); got != int64((10*e.cfg.SnapshotMinRecords-1)%900) {
		t.Fatalf("other group's offset: %d", got)
	}
}

// A consumer's transactional commit (v3+) is checked against the group
// as OffsetCommit's; a refused one writes nothing.
func TestTxnOffsetsMemberChecks(t *testing.T) {
	e := newEnv(t, testConfig())
	ids, gen := e.stableGroup("g", 1)
	if code := e.txnCommit("g", 7, gen+1, ids[0], "t", 0, 3); code != ErrIllegalGeneration.Code {
		t.Fatalf("other generation: %d, want ILLEGAL_GENERATION", code)
	}
	if code := e.txnCommit("g", 7, gen, "stranger", "t", 0, 3); code != ErrUnknownMemberID.Code {
		t.Fatalf("unknown member: %d, want UNKNOWN_MEMBER_ID", code)
	}
	if code := e.txnCommit("nogroup", 7, 1, "m", "t", 0, 3); code != ErrUnknownMemberID.Code {
		t.Fatalf("member of a group that does not exist: %d, want UNKNOWN_MEMBER_ID", code)
	}
	if code := e.txnCommit("g", 7, gen, ids[0], "nosuch", 0, 3); code != 3 {
		t.Fatalf("unknown topic: %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
	}
	e.marker("g", 7, true)
	e.wantOffset("after refused commits", "g", 0, -1, false)
	if code := e.txnCommit("g", 7, gen, ids[0], "t", 0, 3); code != 0 {
		t.Fatalf("member's commit: %d", code)
	}
	e.marker("g", 7, true)
	e.wantOffset("member's commit", "g", 0, 3, false)
}

// Neither DeleteGroups nor expiry drops offsets a transaction is about
// to commit: the group stays, and the COMMIT gives it them.
func TestTxnOffsetsHoldGroup(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetention = time.Minute
	e := newEnv(t, cfg)
	if code := e.txnCommit("g", 7, -1, "", "t", 0, 10); code != 0 {
		t.Fatalf("txn commit: %d", code)
	}
	if err := e.c.DeleteGroup("g"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("DeleteGroup with pending offsets: %v, want NON_EMPTY_GROUP", err)
	}
	e.clock.Advance(time.Hour)
	e.c.ExpireOffsets()
	e.marker("g", 7, true)
	e.wantOffset("committed after a refused delete and an expiry pass", "g", 0, 10, false)
	e.restart()
	e.wantOffset("after reload", "g", 0, 10, false)
	if err := e.c.DeleteGroup("g"); err != nil {
		t.Fatalf("DeleteGroup once committed: %v", err)
	}
}
