package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// benchHeartbeat is the members' heartbeat interval in the franz-go
// rebalance benchmarks (Kafka's default is 3s). Members already in the
// group learn that a rebalance started from the answer to their next
// heartbeat, so a rebalance after a leave costs up to one interval more
// than the protocol's own round trips.
const benchHeartbeat = 100 * time.Millisecond

// assignments follows what each franz-go member owns, from its
// OnPartitions callbacks, and signals when the live members split the
// topic's partitions evenly.
type assignments struct {
	mu         sync.Mutex
	partitions int
	owned      map[int]map[int32]bool // member → partitions
	live       map[int]bool
	balanced   chan struct{}
}

func newAssignments(partitions int) *assignments {
	return &assignments{partitions: partitions, owned: map[int]map[int32]bool{}, live: map[int]bool{}}
}

// expect arms the signal for the current live members.
func (a *assignments) expect() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.balanced = make(chan struct{})
	a.checkLocked()
	return a.balanced
}

func (a *assignments) checkLocked() {
	if a.balanced == nil || len(a.live) == 0 {
		return
	}
	union := map[int32]bool{}
	for m := range a.live {
		if len(a.owned[m]) != a.partitions/len(a.live) {
			return
		}
		for p := range a.owned[m] {
			union[p] = true
		}
	}
	if len(union) == a.partitions {
		close(a.balanced)
		a.balanced = nil
	}
}

func (a *assignments) update(member int, ps map[string][]int32, add bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.owned[member] == nil {
		a.owned[member] = map[int32]bool{}
	}
	for _, parts := range ps {
		for _, p := range parts {
			if add {
				a.owned[member][p] = true
			} else {
				delete(a.owned[member], p)
			}
		}
	}
	a.checkLocked()
}

func (a *assignments) setLive(member int, live bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if live {
		a.live[member] = true
	} else {
		delete(a.live, member)
	}
	a.checkLocked()
}

// startMembers starts n franz-go group members (the default
// cooperative-sticky balancer) of group on topic.
func startMembers(b *testing.B, addr, group, topic string, n int, a *assignments) []*kgo.Client {
	b.Helper()
	members := make([]*kgo.Client, n)
	for i := range members {
		// All live before any joins: the first member alone owning
		// everything is not the balance awaited.
		a.setLive(i, true)
	}
	for i := range members {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.HeartbeatInterval(benchHeartbeat), kgo.DisableAutoCommit(),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { a.update(i, ps, true) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { a.update(i, ps, false) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { a.update(i, ps, false) }),
		)
		if err != nil {
			b.Fatal(err)
		}
		members[i] = cl
	}
	return members
}

func awaitBalanced(b *testing.B, ch <-chan struct{}, what string) {
	b.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		b.Fatalf("%s: members not balanced after 30s", what)
	}
}

// BenchmarkGroupRebalanceFranzGo measures rebalances of a 3-member group
// of real franz-go consumers (kgo.ConsumerGroup, cooperative-sticky, on a
// 6-partition topic) against a broker with group.initial.rebalance.delay
// 0 and a client heartbeat interval of benchHeartbeat:
//   - join: from creating the three clients until every member's
//     OnPartitionsAssigned has given it its two partitions;
//   - leave: from one member's clean LeaveGroup until the two survivors
//     own three partitions each.
func BenchmarkGroupRebalanceFranzGo(b *testing.B) {
	br := startGroupBroker(b)
	addr := br.Addr()
	const partitions, n = 6, 3
	admin, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	createBenchTopic(b, admin, "rebalance", partitions)

	b.Run("join", func(b *testing.B) {
		var took time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			a := newAssignments(partitions)
			ch := a.expect()
			b.StartTimer()
			start := time.Now()
			members := startMembers(b, addr, fmt.Sprintf("join-%d", i), "rebalance", n, a)
			awaitBalanced(b, ch, "join")
			took += time.Since(start)
			b.StopTimer()
			closeAll(members)
			b.StartTimer()
		}
		b.ReportMetric(float64(took.Microseconds())/1000/float64(b.N), "ms/op")
	})
	b.Run("leave", func(b *testing.B) {
		var took time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			a := newAssignments(partitions)
			ch := a.expect()
			members := startMembers(b, addr, fmt.Sprintf("leave-%d", i), "rebalance", n, a)
			awaitBalanced(b, ch, "setup")
			a.setLive(0, false)
			ch = a.expect()
			b.StartTimer()
			start := time.Now()
			members[0].LeaveGroup()
			awaitBalanced(b, ch, "leave")
			took += time.Since(start)
			b.StopTimer()
			closeAll(members)
			b.StartTimer()
		}
		b.ReportMetric(float64(took.Microseconds())/1000/float64(b.N), "ms/op")
	})
}

func closeAll(cls []*kgo.Client) {
	var wg sync.WaitGroup
	for _, cl := range cls {
		wg.Add(1)
		go func() { defer wg.Done(); cl.Close() }()
	}
	wg.Wait()
}
