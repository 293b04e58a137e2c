// Package node makes one broker a member of a Kafki cluster: it holds the
// broker's session lease, registers it, follows the shared metadata in
// DynamoDB, applies partition states to the local partitions (leader,
// follower or nothing), tells the follower fetchers (package
// replication/follower) whom to follow, wires the leader's ISR keeper
// (package replication/isr), and runs this broker's cluster.Controller, which contends
// for the controller lease (the controller lives in package cluster; node
// only gives it the store, the leases, and a kick after its writes).
//
// Invariants:
//   - Every partition role this broker takes comes from a partition state
//     read from the store, and a leader acts (acknowledges, answers
//     consumers, persists ISR changes) only while its session lease is
//     valid on its own monotonic clock (lease rule 3). A broker whose
//     lease was lost drops every role before it registers again, so a
//     paused process that wakes up after the controller fenced it never
//     acknowledges a write.
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
package node
