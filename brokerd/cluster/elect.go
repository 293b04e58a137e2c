package cluster

import "slices"

// Elect returns the state after reacting to the set of live brokers:
// unchanged if the leader is alive; otherwise a new leader chosen from the
// live ISR in assignment order, with the epoch incremented and dead
// members removed from the ISR. changed says whether anything must be
// written.
func Elect(s PartitionState, live func(int32) bool, unclean bool) (next PartitionState, changed bool) {
	next = s.Clone()
	if s.Leader != NoLeader && live(s.Leader) {
		return next, false
	}
	for _, r := range s.Replicas {
		if live(r) && slices.Contains(s.ISR, r) {
			next.Leader = r
			next.LeaderEpoch++
			// Dead ISR members cannot be in sync with the new leader's
			// future writes; they rejoin through ISR expansion.
			next.ISR = slices.DeleteFunc(next.ISR, func(m int32) bool { return !live(m) })
			return next, true
		}
	}
	if unclean {
		for _, r := range s.Replicas {
			if live(r) {
				next.Leader = r
				next.LeaderEpoch++
				next.ISR = []int32{r}
				return next, true
			}
		}
	}
	if s.Leader == NoLeader {
		return next, false // already offline; keep the last ISR for a clean return
	}
	next.Leader = NoLeader
	next.LeaderEpoch++
	return next, true
}

// ShrinkISR removes members from the ISR at the leader's request. The
// leader must be the current one and at the current epoch: a deposed
// leader's request is refused, so it cannot shrink the ISR to itself and
// acknowledge writes alone.
func ShrinkISR(s PartitionState, leader, epoch int32, remove []int32) (PartitionState, error) {
	if err := checkLeader(s, leader, epoch); err != nil {
		return s, err
	}
	next := s.Clone()
	next.ISR = slices.DeleteFunc(next.ISR, func(m int32) bool { return m != leader && slices.Contains(remove, m) })
	return next, nil
}

// ExpandISR adds a caught-up follower to the ISR at the leader's request.
func ExpandISR(s PartitionState, leader, epoch, follower int32) (PartitionState, error) {
	if err := checkLeader(s, leader, epoch); err != nil {
		return s, err
	}
	if !slices.Contains(s.Replicas, follower) {
		return s, ErrInvalidState
	}
	next := s.Clone()
	if !slices.Contains(next.ISR, follower) {
		next.ISR = append(next.ISR, follower)
	}
	return next, nil
}

func checkLeader(s PartitionState, leader, epoch int32) error {
	if epoch < s.LeaderEpoch {
		return ErrStaleEpoch
	}
	if s.Leader != leader || epoch != s.LeaderEpoch {
		return ErrNotLeader
	}
	return nil
}
