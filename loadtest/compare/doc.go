// Package compare runs the same loadtest workloads against Kafki and
// against Apache Kafka 4.x (KRaft, from Maven Central jars) on this
// machine, in one run, and prints Kafki/Kafka ratios of throughput,
// latency percentiles and broker peak RSS (make bench-compare).
//
// A run is a list of setups (one node; three nodes with replication
// factor 3). For each setup and each target (kafki, kafka) it starts the
// broker processes (a single Kafki broker through brokerproc.Spawn; three
// Kafki brokers through kafki-dev-cluster, the command form of
// brokerd/internal/clusterproc, which also starts a moto_server as the
// cluster's DynamoDB, read from its JSON ready line by
// brokerproc.StartDevCluster), runs the workloads produce, consume and e2e one after
// the other on fresh topics, and stops the brokers; then it runs Kafka's
// own ProducerPerformance (kafka-producer-perf-test) against a single
// Kafki and a single Kafka, so the figures can be checked with a client
// that is not ours.
//
// Invariants:
//
//  1. Both sides get the same settings: partitions, replication factor,
//     record sizes, client options, and the fsync policy, which is set
//     explicitly on both (never left to either's default) and printed.
//  2. Whatever cannot be measured here is reported as such (Kafki's three
//     replicas without moto_server: NotAvailableNoMoto), never measured on
//     something else. A replication-factor-3 topic is created with
//     replication factor 3 on both, and broker peak RSS is the sum over
//     all of a setup's broker processes on both.
//  3. Every process started is stopped, and its temporary directory
//     removed, including when the run fails; on Linux the kernel kills the
//     brokers if this process dies. Every wait is bounded.
//  4. No package-level mutable state; brokers' flags are passed on their
//     command lines (Kafki, through a wrapper script that execs brokerd,
//     for the cluster too) or in their server.properties (Kafka).
package compare
