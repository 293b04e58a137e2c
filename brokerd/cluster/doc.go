// Package cluster holds the control plane of a Kafki cluster. The
// decisions are pure functions over partition state (Elect, ShrinkISR,
// ExpandISR, Assign, Liveness, and Decide, which makes a whole controller
// step of them): who leads a partition, who is in sync, where replicas
// go, which brokers are alive, whom to fence. They do no I/O, read no
// clock and start no goroutine.
//
// The Controller (controller.go; every broker runs one, and whoever holds
// the controller lease leads) is the thin loop around Decide: it reads
// the snapshot (ControllerStore) and the brokers' session leases, records
// the observations in a Liveness on its own clock, calls Decide with
// what it saw, and makes the Plan's writes in order: fences (taking the
// lapsed broker's lease over first; a broker whose take-over fails renewed
// after all, counts as alive, and Decide is asked again), deletions,
// drops of deleted topics' tombstones, elections, placements. It never
// decides anything itself. Store (store.go) is the whole control state as
// brokers and the controller use it; package metastore implements it on
// DynamoDB.
//
// Invariants of the controller:
//   - Every controller write is fenced by the controller lease epoch (a
//     deposed controller's write fails), and every partition write is
//     conditional on the partition's version as read (a concurrent change
//     makes it fail with lease.ErrConflict, and the controller re-reads).
//   - Decisions are pure: Decide is a function of the snapshot, the
//     observed sessions and the broker default of unclean election; the
//     unclean setting of a topic is read from the snapshot's topic config.
//   - Elections only count brokers that are registered, unfenced, alive
//     and not being fenced in the same step; a leader back under a new
//     session is elected anew at epoch+1.
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
