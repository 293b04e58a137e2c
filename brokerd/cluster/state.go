package cluster

import (
	"errors"
	"fmt"
	"slices"
)

// NoLeader marks an offline partition.
const NoLeader int32 = -1

// PartitionState is the persisted control state of one partition.
type PartitionState struct {
	Topic       string
	Partition   int32
	Replicas    []int32 // assignment order; the first is the preferred leader
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
	// LeaderSession is the session-lease epoch of the leader's broker when
	// it was elected (Kafka's broker epoch): a broker whose session was
	// lost and taken again leads only after the controller elects it anew,
	// so a leadership granted to an earlier incarnation is never resumed.
	LeaderSession int64
	Version       int64
}

// Clone returns a deep copy.
func (s PartitionState) Clone() PartitionState {
	s.Replicas = slices.Clone(s.Replicas)
	s.ISR = slices.Clone(s.ISR)
	return s
}

// ErrInvalidState wraps violations of the invariants.
var ErrInvalidState = errors.New("invalid partition state")

// Validate checks the invariants of the package doc.
func (s *PartitionState) Validate() error {
	if len(s.Replicas) == 0 {
		return fmt.Errorf("%w: %s-%d has no replicas", ErrInvalidState, s.Topic, s.Partition)
	}
	seen := map[int32]bool{}
	for _, r := range s.Replicas {
		if seen[r] {
			return fmt.Errorf("%w: %s-%d lists replica %d twice", ErrInvalidState, s.Topic, s.Partition, r)
		}
		seen[r] = true
	}
	for _, r := range s.ISR {
		if !seen[r] {
			return fmt.Errorf("%w: %s-%d ISR member %d is not a replica", ErrInvalidState, s.Topic, s.Partition, r)
		}
	}
	if s.Leader != NoLeader && !slices.Contains(s.ISR, s.Leader) {
		return fmt.Errorf("%w: %s-%d leader %d not in ISR %v", ErrInvalidState, s.Topic, s.Partition, s.Leader, s.ISR)
	}
	if s.LeaderEpoch < 0 {
		return fmt.Errorf("%w: %s-%d leader epoch %d", ErrInvalidState, s.Topic, s.Partition, s.LeaderEpoch)
	}
	return nil
}

// ErrStaleEpoch: a request carried a leader epoch older than the state's.
var ErrStaleEpoch = errors.New("stale leader epoch")

// ErrNotLeader: an ISR change came from a broker that does not lead.
var ErrNotLeader = errors.New("not the partition leader")
