// Package cluster holds the control plane of a Kafki cluster. The
// decisions are pure functions over partition state (Elect, ShrinkISR,
// ExpandISR, Assign, Liveness): who leads a partition, who is in sync,
// where replicas go, which brokers are alive. They do no I/O, read no
// clock and start no goroutine; the controller (whoever holds the
// controller lease) feeds them the persisted state and its observations,
// and Store writes the results back to DynamoDB with writes conditional on
// the partition's version and fenced by the controller's lease epoch.
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
