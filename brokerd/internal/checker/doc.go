// Package checker is a safety checker for chaos tests of a Kafka-compatible
// log, in the style of Jepsen's Kafka workload. It does no I/O: a test's
// producers and consumers report what they did (Sent, Acked, Failed, Polled,
// Seeked), the test reports a final read of every partition after it healed
// the cluster (FinalRead), and Check returns a Report whose anomalies fail the
// test.
//
// # What is checked, and why
//
// Kafka promises three things this package verifies from the outside:
//
//   - An acknowledged write is durable. Every acknowledged value must be in the
//     final read of its partition, on every replica the test read (LostWrite),
//     at the offset it was acknowledged with (InconsistentOffset).
//   - A partition is one total order. An offset holds one value for every
//     reader and every replica (InconsistentOffset); a value is at one offset
//     only (Duplicate); a consumer that does not seek sees strictly increasing
//     offsets (NonMonotonic).
//   - A consumer never sees a record that later disappears: nothing above the
//     high watermark is served. A record a consumer polled must still be in
//     the final read at the same offset (RetractedRead).
//
// Besides, a consumer must only see values a producer sent, to the partition
// they were sent to, and never one whose send definitely failed
// (UnexpectedValue). Replicas read in the final read must hold the same
// records (ReplicaDivergence). A partition that was written or polled but has
// no final read cannot be verified, which is itself reported
// (MissingFinalRead) so a test that forgot its final read cannot pass. A
// malformed history (a value sent twice, acknowledged after a definite
// failure) is reported as InvalidHistory: the harness, not the broker, is
// wrong, but the verdict is meaningless either way.
//
// A send whose outcome is unknown (a timeout, a lost connection, or no
// outcome reported at all) is indeterminate: its value may or may not appear,
// and neither is an anomaly. The Report counts how many of them appeared.
//
// Offset gaps (offsets a consumer skipped without seeking) are legal in Kafka
// (compaction, aborted transactions, control batches); they are reported as
// information in Report.Info, never as anomalies.
//
// # Assumptions
//
// Values are unique across the whole test: the checker identifies a record
// by its value. Records are not deleted during the test (no retention or
// compaction), so a polled record missing from the final read was retracted.
// Each reader reports its polls of one partition in the order it received
// them; a FinalRead of one replica and partition may be fed in several
// ascending, non-overlapping pages.
//
// # Differences from Jepsen's Kafka workload
//
// Jepsen's workload also checks transactions (aborted reads, G0/G1c cycles
// through a write-read dependency graph), consumer-group assignment and
// committed offsets, and infers lost writes from later polls rather than a
// dedicated final read. This checker has no transactions (Kafki has none yet)
// and no cycle search; it needs an explicit final read per partition, which
// makes "lost" and "retracted" exact rather than inferred; and it can compare
// the final reads of individual replicas, which Jepsen cannot since it only
// talks to the cluster as a client.
//
// A Checker is safe for concurrent use: producers and consumers report from
// their own goroutines.
package checker
