// Package perf implements kafki-perf, the end-to-end throughput benchmark
// (make bench-e2e): it produces and consumes through franz-go against a
// running broker, or a brokerd it spawns itself, and reports records/s,
// MB/s, produce latency quantiles and the broker's memory and CPU.
//
// The command binary (brokerd/cmd/kafki-perf) is a thin shell around
// [Main]; everything lives here so it can be tested in-process.
//
// A run is a matrix of cells (record sizes × acks modes). Each cell:
//
//  1. creates a fresh topic (kadm, --partitions, replication factor 1);
//  2. produces flat out with --producers kgo clients, each bounded by
//     kgo.MaxBufferedRecords, for a warm-up and then the measured
//     --duration (or exactly --records records);
//  3. lists the end offsets and consumes every partition from the start
//     until it reaches them, within --consume-timeout;
//  4. deletes the topic (unless --keep-topics).
//
// Invariants the package keeps:
//
//  1. A cell succeeds only if no record failed to produce and the records
//     read back equal, in number, the records acknowledged (warm-up
//     included). Anything else is recorded as the cell's Error and makes
//     Main exit 1.
//  2. Every wait is bounded: connecting (--timeout), broker start
//     (--timeout), each produce (kgo's delivery timeout), each consume
//     phase (--consume-timeout), and a spawned broker's stop (SIGTERM,
//     then SIGKILL after a grace period). A spawned broker that dies
//     cancels the run at once, with its exit as the cause.
//  3. A spawned broker is always stopped and its temporary data directory
//     removed, including when the run fails; on Linux the kernel kills it
//     if kafki-perf itself is killed.
//  4. The produce hot path allocates nothing per record: records are
//     reusable slots with pre-bound promises, and values are sub-slices of
//     one shared buffer. Latency is measured per record from the Produce
//     call to its promise, in µs, in an HdrHistogram per producer.
//  5. Bad flags are reported before anything starts, as one line, exit 2.
//  6. No package-level mutable state: output goes to writers passed in.
package perf
