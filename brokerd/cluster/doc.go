// Package cluster holds the control-plane decisions of a Kafki cluster as
// pure functions over partition state: who leads a partition, who is in
// sync, where replicas go. It does no I/O, reads no clock and starts no
// goroutine; the controller (whoever holds the controller lease) feeds it
// the persisted state and the set of live brokers and writes the results
// back with conditional writes.
//
// Invariants of a PartitionState, checked by Validate:
//   - Replicas are distinct, non-empty; ISR ⊆ Replicas.
//   - Leader is -1 (offline) or a member of the ISR.
//   - LeaderEpoch only grows; every change of leader increments it (it is
//     the fencing token of the partition: brokers and conditional writes
//     reject a stale one).
//   - Version increments at every write; writers compare-and-set on it.
//
// Election follows Kafka: the first replica, in assignment order, that is
// alive and in the ISR becomes leader; the failed leader leaves the ISR.
// With no live ISR member the partition goes offline, keeping the last ISR,
// unless unclean election is enabled for the topic, which may lose
// acknowledged writes and is off by default.
package cluster
