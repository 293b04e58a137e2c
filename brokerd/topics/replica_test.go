package topics_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/topics"
)

// A metadata snapshot read before the leader shrank its ISR and applied
// after must not put the removed followers back. Found by TestChaos (cut
// of the leader from its peers): the shrink below min.insync.replicas let
// the high watermark run to the log end; the stale snapshot re-added a
// follower that never fetched; the producer's retry of a write below the
// high watermark then saw an ISR of two and was acknowledged as fully
// replicated, with one copy in existence.
func TestStaleISRIsNotApplied(t *testing.T) {
	m, _ := openManager(t)
	if _, err := m.CreateTopic(t.Context(), "t", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	p := m.Partition("t", 0)
	const self, epoch = 1, 3
	replicas := []int32{1, 2, 3}
	p.BecomeLeader(self, epoch, replicas, replicas, 5, 2, time.Minute)
	res, err := p.Append(batch.Build([]batch.Record{{Value: []byte("v")}}, batch.BuildOptions{}), false)
	if err != nil {
		t.Fatal(err)
	}

	// Both followers fall behind; the shrink is persisted at version 6.
	p.ApplyISR(epoch, []int32{self}, 6)
	if err := p.AwaitCommitted(t.Context(), res.LastOffset); !errors.Is(err, topics.ErrNotEnoughReplicasAfterAppend) {
		t.Fatalf("write committed by the leader alone: %v, want %v", err, topics.ErrNotEnoughReplicasAfterAppend)
	}

	// A snapshot of version 5 (ISR 1, 3) arrives late.
	p.BecomeLeader(self, epoch, replicas, []int32{1, 3}, 5, 2, time.Minute)
	if isr, _, _ := p.ISR(); !slices.Equal(isr, []int32{self}) {
		t.Fatalf("ISR %v after a stale snapshot, want [%d]", isr, self)
	}
	if err := p.AwaitCommitted(t.Context(), res.LastOffset); !errors.Is(err, topics.ErrNotEnoughReplicasAfterAppend) {
		t.Fatalf("retried write after a stale snapshot: %v, want %v", err, topics.ErrNotEnoughReplicasAfterAppend)
	}
	p.ApplyISR(epoch, []int32{1, 2, 3}, 5)
	if isr, _, _ := p.ISR(); !slices.Equal(isr, []int32{self}) {
		t.Fatalf("ISR %v after a stale ApplyISR, want [%d]", isr, self)
	}

	// Newer persisted states are taken, from either path.
	p.BecomeLeader(self, epoch, replicas, []int32{1, 2}, 7, 2, time.Minute)
	if isr, _, _ := p.ISR(); !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("ISR %v after the version 7 snapshot, want [1 2]", isr)
	}
	p.ApplyISR(epoch, []int32{1}, 8)
	if isr, _, _ := p.ISR(); !slices.Equal(isr, []int32{1}) {
		t.Fatalf("ISR %v after the version 8 shrink, want [1]", isr)
	}
	// A caught-up follower is counted in memory at any version.
	p.CountInSync(epoch, 3)
	if isr, _, _ := p.ISR(); !slices.Equal(isr, []int32{1, 3}) {
		t.Fatalf("ISR %v after CountInSync(3), want [1 3]", isr)
	}
}
