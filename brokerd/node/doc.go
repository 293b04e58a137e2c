// Package node makes one broker a member of a Kafki cluster: it holds the
// broker's session lease, registers it, follows the shared metadata in
// DynamoDB, and applies partition states to the local partitions (leader,
// follower or nothing). It wires the replication of those partitions: the
// follower side runs in package replication/follower (node tells it whom
// to follow), the leader's ISR changes are persisted by package
// replication/isr (node gives it the store and its view of the
// membership), and connections to peers come from package interbroker.
// It also runs this broker's cluster.Controller, which contends for the
// controller lease (the controller lives in package cluster; node only
// gives it the store, the leases, and a kick after its writes).
//
// Invariants:
//   - Every partition role this broker takes comes from a partition state
//     read from the store, and a leader acts (acknowledges, answers
//     consumers, persists ISR changes) only while its session lease is
//     valid on its own monotonic clock (lease rule 3). A broker whose
//     lease was lost drops every role before it registers again, so a
//     paused process that wakes up after the controller fenced it never
//     acknowledges a write.
//   - Snapshots are applied in the order they were read, one at a time,
//     and roles granted under a session never survive the loss of that
//     session (refreshMu and applyMu below).
//
// The ISR's invariants (the leader counts a superset of the persisted
// ISR) are package replication/isr's; the follower's truncation before
// fetching from a new leader is package replication/follower's.
//
// DynamoDB traffic grows with brokers, not partitions: each broker reads
// one version item per metadata.poll.interval and renews one lease every
// third of session.lease; the metadata is read only when the version
// moved, and then costs O(topics + brokers + partitions of the topics
// that changed) (package metastore); the controller reads one lease item per broker every
// quarter of session.lease, and the other brokers every half, so that
// whoever takes the controller over already knows which brokers stopped
// renewing (failover of a broker that died with the controller then takes
// one lease duration, not two).
//
// # Lock order
//
// A goroutine that holds a lock of this list takes only locks listed
// after it:
//
//  1. Node.refreshMu, for a whole read and apply of a snapshot (the
//     store reads included).
//  2. Node.applyMu, while a snapshot's roles are applied (apply) or every
//     role is dropped (dropAll). Under it: the topics.Manager's and the
//     partitions' locks (package topics' lock order) and the
//     follower.Fetchers' locks (package follower's), one call at a time,
//     never one inside another; then Node.mu.
//  3. Node.offsMu, taken by reportOffsets once applyMu is released (an
//     apply reports at its end, still under refreshMu). Under it: the
//     topics' locks, then the OnOffsetsRoles and OnTxnRoles callbacks
//     (the group and transaction coordinators' locks), which must not
//     call back into the Node (the transaction coordinator's marker
//     writers, which do, run on goroutines of their own).
//  4. Node.mu, a leaf: under it nothing is called but the predicates of
//     awaitStates, which only read the states it guards.
//
// The fields without a lock are set by Start and read-only after, or
// atomic; each field's comment says which. The goroutines node starts
// (the session renewal, the metadata watcher, the ISR keeper, the
// controller) and the fetchers hold no Node lock when they call into
// the partitions, and the partitions call node's hooks (CanAct, the ISR
// keeper's Expand) with none of theirs held, so the partition layer and
// node never wait on each other in a cycle. Health, which a metrics
// scrape calls, holds no Node lock while it asks a partition its role,
// and takes Node.mu alone.
package node
