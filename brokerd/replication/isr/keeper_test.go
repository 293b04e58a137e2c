package isr

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/topics"
	"github.com/kafki/kafki/internal/poll"
)

const (
	self     = int32(1)
	peer     = int32(2)
	epoch    = int32(5)
	session  = int64(3)
	version  = int64(7)
	lagMax   = time.Second
	topicKey = "t"
)

// write is one PutISR call, with the ISR the partition counted when it
// was made.
type write struct {
	session int64
	next    cluster.PartitionState
	expect  int64
	counted []int32
}

// fakes stand in for the cluster's store and node's membership.
type fakes struct {
	p *topics.Partition

	mu         sync.Mutex
	canAct     bool
	registered bool
	state      cluster.PartitionState
	writes     []write
	persisted  []cluster.PartitionState
	done       chan struct{} // a send per Persisted call

	shrinks, expands counter // the Keeper's Shrinks and Expands
}

func (f *fakes) PutISR(_ context.Context, s int64, next cluster.PartitionState, expect int64) error {
	counted, _, _ := f.p.ISR()
	f.mu.Lock()
	f.writes = append(f.writes, write{s, next, expect, counted})
	f.mu.Unlock()
	return nil
}

func (f *fakes) SessionEpoch() int64 { return session }
func (f *fakes) CanAct() bool        { f.mu.Lock(); defer f.mu.Unlock(); return f.canAct }
func (f *fakes) Registered(int32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.registered
}
func (f *fakes) PartitionState(string, int32) (cluster.PartitionState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Clone(), true
}
func (f *fakes) Persisted(next cluster.PartitionState, _ int64) {
	f.mu.Lock()
	f.persisted = append(f.persisted, next)
	f.mu.Unlock()
	f.done <- struct{}{}
}
func (f *fakes) Refresh() {}

// setup returns a Keeper for a partition this broker leads at epoch
// with peer as its follower and isr persisted.
func setup(t *testing.T, isr []int32) (*Keeper, *fakes) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	store, err := meta.OpenEmbedded(filepath.Join(cfg.DataDir, "__meta"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := topics.Open(t.Context(), topics.OptionsFrom(&cfg, log), store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if _, err := m.CreateTopic(t.Context(), topicKey, 1, nil, false); err != nil {
		t.Fatal(err)
	}
	p := m.Partition(topicKey, 0)
	replicas := []int32{self, peer}
	p.BecomeLeader(self, epoch, replicas, isr, 0, 1, lagMax)
	f := &fakes{p: p, canAct: true, registered: true, done: make(chan struct{}, 16),
		state: cluster.PartitionState{Topic: topicKey, Replicas: replicas, Leader: self, LeaderEpoch: epoch, ISR: slices.Clone(isr), Version: version}}
	k := New(Options{Self: self, Store: f, Membership: f, Topics: m, LagTimeMax: lagMax, WriteTimeout: time.Second, Log: log,
		Shrinks: &f.shrinks, Expands: &f.expands})
	return k, f
}

// counter is a Counter.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) Inc()     { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *counter) get() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// An expansion is counted before it is persisted (maximal ISR), then
// written under the session, conditional on the version read, and
// handed back to the membership with the next version.
func TestExpandCountsFirstThenPersists(t *testing.T) {
	k, f := setup(t, []int32{self})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	k.Expand(f.p, epoch, peer)
	if isr, _, _ := f.p.ISR(); !slices.Contains(isr, peer) {
		t.Fatalf("ISR %v right after Expand: the follower must count at once", isr)
	}
	go k.Run(ctx)
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the expansion was not persisted")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.writes[0]
	if w.session != session || w.expect != version || !slices.Equal(w.next.ISR, []int32{self, peer}) {
		t.Fatalf("PutISR(session %d, ISR %v, expect %d), want (%d, %v, %d)", w.session, w.next.ISR, w.expect, session, []int32{self, peer}, version)
	}
	if !slices.Contains(w.counted, peer) {
		t.Fatalf("the leader counted %v while persisting the expansion", w.counted)
	}
	if len(f.persisted) != 1 || f.persisted[0].Version != version+1 {
		t.Fatalf("persisted %+v, want the state at version %d", f.persisted, version+1)
	}
	// Counted after the membership is told (Persisted signals done), so
	// awaited, not read at once.
	f.mu.Unlock()
	poll.Must(t, 5*time.Second, "one expansion counted", func() error {
		if e, s := f.expands.get(), f.shrinks.get(); e != 1 || s != 0 {
			return fmt.Errorf("counted %d expansions and %d shrinks, want 1 and 0", e, s)
		}
		return nil
	})
	f.mu.Lock()
}

// A shrink is persisted while the leader still counts the follower, and
// only then stops counting it.
func TestShrinkPersistsBeforeItTakesEffect(t *testing.T) {
	k, f := setup(t, []int32{self, peer})
	k.shrink(t.Context(), time.Now().Add(2*lagMax))
	if len(f.writes) != 1 {
		t.Fatalf("%d writes, want 1", len(f.writes))
	}
	w := f.writes[0]
	if !slices.Equal(w.next.ISR, []int32{self}) || w.expect != version {
		t.Fatalf("PutISR(ISR %v, expect %d), want (%v, %d)", w.next.ISR, w.expect, []int32{self}, version)
	}
	if !slices.Contains(w.counted, peer) {
		t.Fatalf("the leader counted %v while persisting the shrink: it stopped counting the follower first", w.counted)
	}
	if isr, _, _ := f.p.ISR(); slices.Contains(isr, peer) {
		t.Fatalf("ISR %v after the shrink was persisted", isr)
	}
	if e, s := f.expands.get(), f.shrinks.get(); e != 0 || s != 1 {
		t.Fatalf("counted %d expansions and %d shrinks, want 0 and 1", e, s)
	}
}

// Without a valid session lease nothing is written and the ISR stays.
func TestNoWriteWithoutLease(t *testing.T) {
	k, f := setup(t, []int32{self, peer})
	f.canAct = false
	k.shrink(t.Context(), time.Now().Add(2*lagMax))
	if len(f.writes) != 0 {
		t.Fatalf("%d writes without a valid lease", len(f.writes))
	}
	if isr, _, _ := f.p.ISR(); !slices.Contains(isr, peer) {
		t.Fatalf("ISR %v: shrunk without persisting", isr)
	}
	if s := f.shrinks.get(); s != 0 {
		t.Fatalf("counted %d shrinks, none persisted", s)
	}
}

// A follower that is not registered (fenced, stopping) never counts.
func TestExpandIgnoresUnregisteredFollower(t *testing.T) {
	k, f := setup(t, []int32{self})
	f.registered = false
	k.Expand(f.p, epoch, peer)
	if isr, _, _ := f.p.ISR(); slices.Contains(isr, peer) {
		t.Fatalf("ISR %v: an unregistered follower was counted", isr)
	}
	if len(k.queue) != 0 {
		t.Fatal("an unregistered follower's expansion was queued")
	}
}
