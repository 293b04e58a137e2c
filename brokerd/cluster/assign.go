package cluster

import (
	"fmt"
	"sort"
)

// Broker is a live broker as the controller sees it.
type Broker struct {
	ID   int32
	Rack string // availability zone; "" when undeclared
}

// Assign places rf replicas of each of partitions new partitions, numbered
// from first, over brokers. Brokers are interleaved by rack, so
// consecutive replicas of a partition land in different racks whenever
// there are at least rf racks, and leaders (first replicas) rotate over all
// brokers, starting at an offset derived from first so that a topic's
// later partitions continue the rotation.
func Assign(brokers []Broker, first, partitions int32, rf int) ([][]int32, error) {
	if rf < 1 || rf > len(brokers) {
		return nil, fmt.Errorf("replication factor %d with %d live brokers", rf, len(brokers))
	}
	order := rackInterleaved(brokers)
	n := len(order)
	out := make([][]int32, 0, partitions)
	for p := first; p < first+partitions; p++ {
		replicas := make([]int32, rf)
		for j := 0; j < rf; j++ {
			replicas[j] = order[(int(p)+j)%n]
		}
		out = append(out, replicas)
	}
	return out, nil
}

// rackInterleaved orders brokers round-robin across racks (racks and the
// brokers within them sorted, for determinism): r1b1, r2b1, r3b1, r1b2...
func rackInterleaved(brokers []Broker) []int32 {
	byRack := map[string][]int32{}
	for _, b := range brokers {
		byRack[b.Rack] = append(byRack[b.Rack], b.ID)
	}
	racks := make([]string, 0, len(byRack))
	for r, ids := range byRack {
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		racks = append(racks, r)
	}
	sort.Strings(racks)
	var out []int32
	for i := 0; len(out) < len(brokers); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out
}
