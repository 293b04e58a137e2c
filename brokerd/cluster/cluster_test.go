package cluster

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func liveSet(ids ...int32) func(int32) bool {
	return func(id int32) bool { return slices.Contains(ids, id) }
}

func state(leader int32, isr ...int32) PartitionState {
	return PartitionState{Topic: "t", Replicas: []int32{1, 2, 3}, Leader: leader, LeaderEpoch: 5, ISR: isr}
}

func TestElectScenarios(t *testing.T) {
	cases := []struct {
		name        string
		s           PartitionState
		live        func(int32) bool
		unclean     bool
		wantLeader  int32
		wantISR     []int32
		wantChanged bool
	}{
		{"leader alive: nothing", state(1, 1, 2, 3), liveSet(1, 2, 3), false, 1, []int32{1, 2, 3}, false},
		{"leader dead: next in assignment order", state(1, 1, 2, 3), liveSet(2, 3), false, 2, []int32{2, 3}, true},
		{"skip live replica outside ISR", state(1, 1, 3), liveSet(2, 3), false, 3, []int32{3}, true},
		{"no live ISR: offline, ISR kept", state(1, 1), liveSet(2, 3), false, NoLeader, []int32{1}, true},
		{"no live ISR, unclean: any live replica", state(1, 1), liveSet(2, 3), true, 2, []int32{2}, true},
		{"offline stays offline", state(NoLeader, 1), liveSet(2), false, NoLeader, []int32{1}, false},
		{"offline recovers when ISR member returns", state(NoLeader, 1), liveSet(1, 2), false, 1, []int32{1}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next, changed := Elect(tc.s, tc.live, tc.unclean)
			if next.Leader != tc.wantLeader || !slices.Equal(next.ISR, tc.wantISR) || changed != tc.wantChanged {
				t.Fatalf("got leader %d isr %v changed %v", next.Leader, next.ISR, changed)
			}
			if changed && next.LeaderEpoch != tc.s.LeaderEpoch+1 {
				t.Fatalf("epoch %d after a change from %d", next.LeaderEpoch, tc.s.LeaderEpoch)
			}
			if err := next.Validate(); err != nil {
				t.Fatal(err)
			}
			if tc.s.ISR[0] != tc.s.Clone().ISR[0] {
				t.Fatal("input mutated")
			}
		})
	}
}

func TestISRChangesAreFencedByLeaderEpoch(t *testing.T) {
	s := state(1, 1, 2, 3)
	if _, err := ShrinkISR(s, 1, 4, []int32{2}); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("stale epoch: %v", err)
	}
	if _, err := ShrinkISR(s, 2, 5, []int32{3}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("non-leader: %v", err)
	}
	next, err := ShrinkISR(s, 1, 5, []int32{1, 2})
	if err != nil || !slices.Equal(next.ISR, []int32{1, 3}) {
		t.Fatalf("shrink: %v %v (the leader never removes itself)", next.ISR, err)
	}
	next, err = ExpandISR(next, 1, 5, 2)
	if err != nil || !slices.Equal(next.ISR, []int32{1, 3, 2}) {
		t.Fatalf("expand: %v %v", next.ISR, err)
	}
	if _, err := ExpandISR(next, 1, 5, 9); err == nil {
		t.Fatal("non-replica added to ISR")
	}
}

// Random failure sequences against the invariants: a clean election never
// picks a replica outside the last ISR, the epoch never decreases, and the
// state stays valid.
func TestElectionInvariantsUnderRandomFailures(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := 0; run < 500; run++ {
		s := PartitionState{Topic: "t", Replicas: []int32{1, 2, 3}, Leader: 1, ISR: []int32{1, 2, 3}}
		live := map[int32]bool{1: true, 2: true, 3: true}
		for step := 0; step < 30; step++ {
			id := int32(1 + rng.IntN(3))
			live[id] = !live[id]
			if s.Leader != NoLeader && live[s.Leader] && rng.IntN(2) == 0 {
				// The leader drops a dead follower from the ISR.
				var dead []int32
				for _, m := range s.ISR {
					if !live[m] {
						dead = append(dead, m)
					}
				}
				var err error
				if s, err = ShrinkISR(s, s.Leader, s.LeaderEpoch, dead); err != nil {
					t.Fatal(err)
				}
			}
			prev := s
			next, _ := Elect(s, func(b int32) bool { return live[b] }, false)
			if next.LeaderEpoch < prev.LeaderEpoch {
				t.Fatalf("epoch went back: %d -> %d", prev.LeaderEpoch, next.LeaderEpoch)
			}
			if next.Leader != NoLeader && next.Leader != prev.Leader && !slices.Contains(prev.ISR, next.Leader) {
				t.Fatalf("clean election chose %d outside ISR %v", next.Leader, prev.ISR)
			}
			if next.Leader != NoLeader && !live[next.Leader] {
				t.Fatalf("dead leader %d elected", next.Leader)
			}
			if err := next.Validate(); err != nil {
				t.Fatal(err)
			}
			s = next
		}
	}
}

func TestAssignSpreadsRacksAndLeaders(t *testing.T) {
	brokers := []Broker{{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}, {5, "c"}, {6, "c"}}
	rack := map[int32]string{}
	for _, b := range brokers {
		rack[b.ID] = b.Rack
	}
	as, err := Assign(brokers, 0, 12, 3)
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int{}
	for p, rs := range as {
		racks := map[string]bool{}
		for _, r := range rs {
			racks[rack[r]] = true
		}
		if len(racks) != 3 {
			t.Fatalf("partition %d replicas %v span racks %v", p, rs, racks)
		}
		leaders[rs[0]]++
	}
	for _, b := range brokers {
		if leaders[b.ID] != 2 {
			t.Fatalf("leaders per broker %v, want 2 each", leaders)
		}
	}
	if _, err := Assign(brokers[:2], 0, 1, 3); err == nil {
		t.Fatal("rf above broker count accepted")
	}
}
