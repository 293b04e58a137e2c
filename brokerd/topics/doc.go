// Package topics owns the topics and partitions a broker hosts: their
// persisted descriptions (through meta.Store), their effective settings, and
// one storage.Log per partition.
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
package topics
