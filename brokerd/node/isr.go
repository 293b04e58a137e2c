package node

import "github.com/kafki/kafki/brokerd/cluster"

// isrMembership is the ISR keeper's view of this broker's membership
// (isr.Membership).
type isrMembership struct{ n *Node }

func (m isrMembership) SessionEpoch() int64      { return m.n.sessionEpoch.Load() }
func (m isrMembership) CanAct() bool             { return m.n.CanAct() }
func (m isrMembership) Registered(id int32) bool { return m.n.registered(id) }
func (m isrMembership) Refresh()                 { m.n.kick() }

func (m isrMembership) PartitionState(topic string, p int32) (cluster.PartitionState, bool) {
	return m.n.PartitionState(topic, p)
}

// Persisted installs an ISR change this broker wrote, unless a newer
// snapshot was applied meanwhile.
func (m isrMembership) Persisted(next cluster.PartitionState, prev int64) {
	n := m.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if cur, ok := n.states[tp{next.Topic, next.Partition}]; ok && cur.Version == prev {
		n.states[tp{next.Topic, next.Partition}] = next
	}
}
