// Package topics owns the topics and partitions a broker hosts: their
// persisted descriptions (through meta.Store), their effective settings, and
// one storage.Log per partition.
//
// It is also the partition layer of replication, what Kafka calls its
// Partition and ReplicaManager: each Partition holds this broker's role
// for it (replica.go: leader, follower or nothing, set by package node),
// its high watermark, the acks=all and DeleteRecords waiters (through the
// pure replication.Leader it owns while it leads), and the glue to tiered
// storage (tiering.go). The I/O around it lives elsewhere: followers copy
// their logs in package replication/follower, leaders persist ISR changes
// in package replication/isr (through ReplicaHooks.ExpandISR and
// Laggards), and server/01_fetch.go reports followers' fetches
// (FollowerFetch).
//
// Invariants:
//   - A topic exists for clients exactly when it exists in the meta store:
//     creation writes the store first and opens logs after; deletion removes
//     it from the store first, then closes and deletes the logs. Log
//     directories of topics the store does not know (left by a crash between
//     those steps) are removed at start-up.
//   - Topic values are immutable snapshots; a change (partitions, configs)
//     installs a new *Topic. Partitions are shared between snapshots, so a
//     partition's log is opened once and closed once.
//   - Every batch a Partition appends has passed batch.Validate and the
//     topic's max.message.bytes; nothing unvalidated reaches the log.
//   - A partition's role, leader epoch and replication.Leader change
//     together, under its replica lock; a leader acknowledges, answers
//     consumers and lets followers move its high watermark only while
//     ReplicaHooks.CanAct holds.
//
// # Lock order
//
// A lock of this package may be held while a log's locks are taken
// (package storage), never the other way round. None is held while a
// ReplicaHooks function runs or while a caller waits. Per lock:
//
//   - Manager.mu guards the topic maps. Under it the manager opens logs,
//     changes their configs (storage.Log.SetConfig) and writes the meta
//     store (a topic's creation, deletion and changes are serialized with
//     the manager's view); it never takes a partition's replica lock:
//     roles are changed (BecomeNone of a deleted topic) after it is
//     released, and a new partition's role is set before it is
//     published.
//   - Manager.pidMu guards the producer id block; under it only the meta
//     store is called.
//   - A partition's replica lock (replica.mu) guards its role and
//     replication state. Under it only the replication.Leader (pure) and
//     the log's offsets (storage.Log.LogEndOffset, LogStartOffset) are
//     called; the replica hooks (CanAct, ExpandISR) are called with no
//     lock of this package held, and waits (acks=all, DeleteRecords,
//     long polls) on channels taken under it and waited on after.
//     Manager.mu and a replica lock are never held together.
//   - A partition's remoteMu guards the map of its in-flight remote
//     reads, a leaf; the reads themselves run outside it.
//
// Each struct field says what guards it; fields without a lock are set
// before the value is shared (Open, the Set* calls before serving, a
// partition's opening) and read-only after, or atomic.
package topics
