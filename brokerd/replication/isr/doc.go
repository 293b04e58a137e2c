// Package isr persists the ISR changes of the partitions this broker
// leads. replication.Leader decides who joins (a follower whose fetch
// reached the high watermark: its FollowerFetch, surfacing through the
// topics.ReplicaHooks.ExpandISR hook as Keeper.Expand) and who leaves (a
// follower not caught up for replica.lag.time.max: Laggards, which
// Keeper.Run looks for periodically); the Keeper writes each change to
// the cluster's store (PutISR, cluster.ExpandISR and cluster.ShrinkISR
// computing the new state) and then installs it in the partition
// (topics.Partition.ApplyISR), counting it (Options.Shrinks, Expands:
// Kafka's IsrShrinksPerSec and IsrExpandsPerSec). The controller's
// removal of a fenced follower is the controller's write, not counted
// here, as in Kafka.
//
// Invariants:
//   - The ISR a leader counts for its high watermark is always a superset
//     of the persisted ISR the controller elects from (KIP-497's "maximal
//     ISR"): a shrink is persisted (PutISR: conditional on the partition's
//     version, fenced by this broker's session lease epoch) before the
//     leader stops counting the follower; an expansion is counted first and
//     persisted after. So any replica the controller may elect holds every
//     record below the high watermark.
//   - An ISR change is written only by the partition's leader at the
//     epoch the change was decided at, as the applied metadata says, and
//     only while its session lease is valid on its own clock (lease
//     rule 4). A follower that is not registered, or fenced, never joins:
//     a broker the controller declared dead may still fetch for a moment.
//   - A write that finds the partition changed by someone else is
//     dropped and the metadata read again. A shrink not written is
//     decided again at the next lag check. An expansion not written (a
//     conflict, or a full queue) stays counted in memory, which keeps the
//     first invariant, and is asked for again once an applied snapshot
//     has put the persisted ISR back into the partition
//     (topics.Partition.BecomeLeader at the same epoch): the follower's
//     next fetch then finds it outside the ISR.
//   - Every member of the counted ISR holds every record below the high
//     watermark. The partition therefore applies a persisted ISR only at
//     a version no older than the one it holds (ApplyISR's version): a
//     snapshot read before this leader's own shrink would otherwise put
//     back followers that never caught up, and a write retried below a
//     high watermark that ran ahead under min.insync.replicas would be
//     acknowledged as fully replicated.
//
// # Concurrency
//
// Expand runs on the fetch path (from topics.Partition.FollowerFetch,
// with no lock held) and only queues; Run is the one goroutine that
// writes to the store. The Keeper holds no lock of its own: it calls the
// partitions (their replica lock) and the Membership one at a time,
// never one from inside another.
package isr
