package groups

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/topics"
)

// The production adapter writes a record set of several batches (a
// snapshot of more keys than one batch holds) through the produce path,
// which takes one batch per append.
func TestPartitionLogAppendsMultiBatchSets(t *testing.T) {
	tp := offsetsTopic(t)
	var kvs []kv
	for i := 0; i < 3*maxBatchRecords+7; i++ {
		kvs = append(kvs, kv{key: []byte(fmt.Sprint("k", i)), value: []byte("v")})
	}
	set := encodeRecordSet(kvs, time.Now())
	lg := PartitionLog(tp.Partitions[0], true)
	wait, err := lg.Append(set)
	if err == nil {
		err = wait(t.Context())
	}
	if err != nil {
		t.Fatalf("append of a %d-record set: %v", len(kvs), err)
	}
	if end := lg.End(); end != int64(len(kvs)) {
		t.Fatalf("log end %d, want %d", end, len(kvs))
	}
}

// offsetsTopic opens a topic manager with a one-partition
// __consumer_offsets, closed when the test ends.
func offsetsTopic(t *testing.T) *topics.Topic {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	store, err := meta.OpenEmbedded(filepath.Join(cfg.DataDir, "__meta"))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := topics.Open(t.Context(), topics.OptionsFrom(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil))), store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tm.Close() })
	tp, err := tm.EnsureInternalTopic(t.Context(), topics.OffsetsTopic, 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// On a replicated partition a commit is answered once the in-sync
// replicas have it: a follower that never copies it makes the commit time
// out (COORDINATOR_NOT_AVAILABLE, as Kafka maps REQUEST_TIMED_OUT), and a
// broker that no longer leads answers NOT_COORDINATOR. Neither failure
// changes the committed offset in memory.
func TestPartitionLogWaitsForInSyncReplicas(t *testing.T) {
	p := offsetsTopic(t).Partitions[0]
	e := newEnv(t, testConfig())
	e.cfg.CommitTimeout = 50 * time.Millisecond
	e.logs = []Log{PartitionLog(p, false)}
	e.restart()

	// Leading alone: the leader's copy is all the ISR needs.
	p.BecomeLeader(1, 1, []int32{1, 2}, []int32{1}, 0, 1, time.Minute)
	if code := e.commit("g", -1, "", "t", 0, 10); code != 0 {
		t.Fatalf("commit with an ISR of the leader alone: %d", code)
	}
	// Broker 2 in the ISR never fetches: the write is not committed.
	p.BecomeLeader(1, 2, []int32{1, 2}, []int32{1, 2}, 0, 1, time.Minute)
	if code := e.commit("g", -1, "", "t", 0, 11); code != ErrCoordinatorNotAvail.Code {
		t.Fatalf("commit the ISR did not copy: %d, want COORDINATOR_NOT_AVAILABLE", code)
	}
	if got := e.fetched("g", "t", 0); got != 10 {
		t.Fatalf("offset after a commit that timed out: %d, want 10", got)
	}
	// Once broker 2 has copied everything, commits are answered again.
	go func() {
		for {
			if _, err := p.FollowerFetch(2, 2, p.Log().LogEndOffset(), -1); err != nil {
				return
			}
			select {
			case <-t.Context().Done():
				return
			case <-p.HWChanged():
			case <-time.After(time.Millisecond):
			}
		}
	}()
	e.cfg.CommitTimeout = 5 * time.Second
	e.restart()
	if code := e.commit("g", -1, "", "t", 0, 12); code != 0 {
		t.Fatalf("commit the ISR copied: %d", code)
	}
	// Another broker leads now.
	p.BecomeFollower(2, 3)
	if code := e.commit("g", -1, "", "t", 0, 13); code != ErrNotCoordinator.Code {
		t.Fatalf("commit on a follower: %d, want NOT_COORDINATOR", code)
	}
	if got := e.fetched("g", "t", 0); got != 12 {
		t.Fatalf("offset after a refused commit: %d, want 12", got)
	}
}
