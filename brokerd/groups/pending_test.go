package groups

import (
	"fmt"
	"testing"
)

// sameShard returns a group id other than g on g's __consumer_offsets
// partition.
func sameShard(t *testing.T, g string) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if id := fmt.Sprint("other-", i); PartitionFor(id, 3) == PartitionFor(g, 3) {
			return id
		}
	}
	t.Fatal("no group id on the same partition")
	return ""
}

// commitAsync runs a commit in the background and hands back its commit
// (to release) and its answer.
func (e *env) commitAsync(lg *memLog, group string, offset int64) (chan struct{}, <-chan int16) {
	code := make(chan int16, 1)
	go func() { code <- e.commit(group, -1, "", "t", 0, offset) }()
	return <-lg.commits, code
}

// release lets a pending commit's wait end and checks its answer.
func release(t *testing.T, commit chan struct{}, code <-chan int16, what string) {
	t.Helper()
	close(commit)
	if c := <-code; c != 0 {
		t.Fatalf("%s: %d", what, c)
	}
}

// An offset commit waits for the in-sync replicas without holding its
// shard: another group's commit on the same __consumer_offsets partition
// completes while the first still waits.
func TestCommitWaitDoesNotStallTheShard(t *testing.T) {
	e := newEnv(t, testConfig())
	if code := e.commit("g", -1, "", "t", 0, 1); code != 0 { // loads the shards
		t.Fatalf("commit: %d", code)
	}
	lg := e.logs[PartitionFor("g", 3)].(*memLog)
	lg.commits = make(chan chan struct{})
	slow, slowCode := e.commitAsync(lg, "g", 5)
	other := sameShard(t, "g")
	fast, fastCode := e.commitAsync(lg, other, 9)
	release(t, fast, fastCode, "second group's commit")
	if got := e.fetched(other, "t", 0); got != 9 {
		t.Fatalf("second group's offset %d, want 9", got)
	}
	if got := e.fetched("g", "t", 0); got != 1 {
		t.Fatalf("uncommitted offset visible: %d, want 1 until the replicas have 5", got)
	}
	release(t, slow, slowCode, "first commit")
	if got := e.fetched("g", "t", 0); got != 5 {
		t.Fatalf("offset %d after the commit, want 5", got)
	}
}

// Two commits of one partition whose waits end in the other order leave
// the later-written offset, as the log replays them.
func TestPendingCommitsApplyInLogOrder(t *testing.T) {
	e := newEnv(t, testConfig())
	if code := e.commit("g", -1, "", "t", 0, 1); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	lg := e.logs[PartitionFor("g", 3)].(*memLog)
	lg.commits = make(chan chan struct{})
	first, firstCode := e.commitAsync(lg, "g", 5)
	second, secondCode := e.commitAsync(lg, "g", 7)
	release(t, second, secondCode, "second commit")
	release(t, first, firstCode, "first commit")
	if got := e.fetched("g", "t", 0); got != 7 {
		t.Fatalf("offset %d, want 7 (the later write)", got)
	}
	lg.commits = nil
	e.restart()
	if got := e.fetched("g", "t", 0); got != 7 {
		t.Fatalf("offset %d after a reload, want 7", got)
	}
}

// A group deleted while its commit waits stays deleted, in memory as in
// the log (the deletion follows the commit there).
func TestGroupDeletedDuringPendingCommit(t *testing.T) {
	e := newEnv(t, testConfig())
	if code := e.commit(sameShard(t, "g"), -1, "", "t", 0, 1); code != 0 { // loads the shards
		t.Fatalf("commit: %d", code)
	}
	lg := e.logs[PartitionFor("g", 3)].(*memLog)
	lg.commits = make(chan chan struct{})
	pending, code := e.commitAsync(lg, "g", 5)
	deleted := make(chan error, 1)
	go func() { deleted <- e.c.DeleteGroup("g") }()
	select {
	case c := <-lg.commits: // the tombstones' commit
		close(c)
	case err := <-deleted:
		t.Fatalf("DeleteGroup wrote nothing for the commit in flight (err %v): the log would bring the offset back", err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	release(t, pending, code, "commit")
	if got := e.fetched("g", "t", 0); got != -1 {
		t.Fatalf("deleted group's offset %d, want none", got)
	}
	lg.commits = nil
	e.restart()
	if got := e.fetched("g", "t", 0); got != -1 {
		t.Fatalf("deleted group's offset %d after a reload, want none", got)
	}
}

// A snapshot taken while a commit waits keeps it: the snapshot drops the
// records before it, the commit's record among them, so it must write the
// commit's offset itself; and commits that always overlap do not stop
// snapshots (the log stays bounded).
func TestSnapshotKeepsCommitsInFlight(t *testing.T) {
	cfg := testConfig()
	cfg.SnapshotMinRecords = 0
	e := newEnv(t, cfg)
	if code := e.commit("g", -1, "", "t", 0, 1); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	lg := e.logs[PartitionFor("g", 3)].(*memLog)
	lg.commits = make(chan chan struct{})
	slow, slowCode := e.commitAsync(lg, "g", 5)
	// Other commits land while the first one waits, each triggering a
	// snapshot check; the log must not keep growing.
	commits := lg.commits
	drained := make(chan struct{})
	go func() { // every later append commits at once
		defer close(drained)
		for c := range commits {
			close(c)
		}
	}()
	other := sameShard(t, "g")
	for i := range 50 {
		if code := e.commit(other, -1, "", "t", 0, int64(10+i)); code != 0 {
			t.Fatalf("other commit: %d", code)
		}
	}
	lg.mu.Lock()
	records := len(lg.bases)
	lg.commits = nil
	lg.mu.Unlock()
	close(commits)
	<-drained
	if records > 20 {
		t.Fatalf("%d batches in the log after 51 commits of 2 keys: snapshots stopped while a commit was in flight", records)
	}
	release(t, slow, slowCode, "first commit")
	if got := e.fetched("g", "t", 0); got != 5 {
		t.Fatalf("offset %d, want 5", got)
	}
	e.restart()
	if got := e.fetched("g", "t", 0); got != 5 {
		t.Fatalf("offset %d after a reload, want 5: the snapshot lost the commit in flight", got)
	}
	if got := e.fetched(other, "t", 0); got != 59 {
		t.Fatalf("other group's offset %d after a reload, want 59", got)
	}
}
