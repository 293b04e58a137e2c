// Package loadtest is Kafki's load-test harness: it drives any
// Kafka-compatible cluster through franz-go (kgo) with one of three
// workloads and reports throughput and latency.
//
//   - produce: --producers clients write records at --rate (or flat out);
//     latency is from each record's intended send time to its ack.
//   - consume: --preload records are written first (not measured), then
//     --consumers clients read the whole topic, from its log start offsets
//     to the end offsets seen after the preload.
//   - e2e: produce and consume at once; each record's value starts with
//     its intended send time, and end-to-end latency is from that time to
//     the moment a consumer holds the record.
//
// With --read-back the produce workload then reads the whole topic back,
// flat out, as its consume side (make bench-e2e runs it so). With
// --spawn-broker it starts a brokerd of its own for the run
// (package brokerproc) instead of using --bootstrap, and samples its RSS.
//
// With --transactional-id PREFIX and --transaction-records N each producer
// is transactional (id PREFIX-i) and commits every N records; a record
// counts, and its latency ends, at its transaction's commit. With
// --isolation=read_committed the consumers read below the last stable
// offset. Consumers of a transactional run stop after the last record of
// each partition rather than at its end offset, which a COMMIT marker may
// hold (txn.go).
//
// The command binary (loadtest/cmd/loadtest) is a thin shell around
// [Main]; package compare builds the Kafki/Apache Kafka comparison on top.
//
// Invariants the package keeps:
//
//  1. No coordinated omission: under a target rate, every record has an
//     intended send time on a fixed schedule ([Pacer]) that never slips
//     when the client or broker stalls, and latency is measured from that
//     time. A stalled broker shows up as latency of every record that
//     should have been sent meanwhile, not as one slow record.
//  2. Counts are exact: a run reports every acknowledged record, warm-up
//     included (Produce.TotalAcked), so a caller can compare it with the
//     broker's end offsets (less the COMMIT markers of a transactional
//     run, which it counts: Report.TxnMarkers). Latency histograms and rates cover only the
//     measured period after the warm-up.
//  3. Every wait is bounded: connecting and topic creation (--timeout),
//     each record's delivery (kgo's delivery timeout), the consume tail
//     (--consume-timeout). An unreachable bootstrap fails within --timeout.
//  4. Bad options are reported before anything connects, as one line,
//     exit code 2; a failed run exits 1.
//  5. No package-level mutable state: output goes to the writers and
//     clock passed in.
package loadtest
