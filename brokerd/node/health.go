package node

import (
	"slices"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/topics"
)

// Health is what an operator pages on, as this broker sees it now.
type Health struct {
	// UnderReplicated counts the partitions this broker leads whose
	// persisted ISR (the applied state, with this broker's own ISR
	// writes) is smaller than their replicas, as Kafka's
	// UnderReplicatedPartitions, which counts the committed ISR too.
	UnderReplicated int
	// UnderMinISR counts those of them whose ISR is smaller than their
	// topic's min.insync.replicas: acks=all produces to them fail.
	UnderMinISR int
	// ActiveController: this broker is the controller.
	ActiveController bool
	// Offline counts, on the controller only (0 elsewhere, as Kafka's
	// OfflinePartitionsCount), the partitions of live topics without a
	// leader in the applied metadata.
	Offline int
}

// Health computes this broker's Health from the local partitions and the
// applied metadata. It takes the partitions' locks and Node.mu one at a
// time (the lock order's leaves), so a scrape never waits on an apply for
// longer than one of its steps.
func (n *Node) Health() Health {
	var h Health
	for _, t := range n.tm.Topics() {
		minInsync := int(t.Settings().MinInsync)
		for _, p := range t.Partitions {
			if role, _, _ := p.Role(); role != topics.Leader {
				continue
			}
			st, ok := n.PartitionState(t.Name, p.Index)
			if !ok || st.Leader != n.self {
				continue
			}
			if len(st.ISR) < len(st.Replicas) {
				h.UnderReplicated++
			}
			if len(st.ISR) < minInsync {
				h.UnderMinISR++
			}
		}
	}
	h.ActiveController = n.ctrl.Active()
	if h.ActiveController {
		n.mu.Lock()
		h.Offline = offlinePartitions(n.snap)
		n.mu.Unlock()
	}
	return h
}

// offlinePartitions counts the partitions of snap's live topics that
// have no leader.
func offlinePartitions(snap cluster.Snapshot) int {
	offline := 0
	for _, st := range snap.Partitions {
		if st.Leader == cluster.NoLeader && !slices.Contains(snap.Deleted, st.Topic) {
			offline++
		}
	}
	return offline
}
