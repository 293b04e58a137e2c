// Package chaos tests the safety of a real Kafki cluster under faults, in
// the style of Jepsen's Kafka workload. It has no code of its own outside
// its tests: TestChaos starts three brokerd processes against a
// single-threaded moto_server (brokerd/internal/clusterproc), runs
// idempotent acks=all producers and partition consumers against a
// replicated topic (3 partitions, replication factor 3,
// min.insync.replicas=2) while a nemesis kills, pauses and restarts
// brokers and, where the machine allows network namespaces (root and
// iproute2; clusterproc.Options.NetNS), cuts them off the network, then
// heals the cluster, reads every partition through the
// cluster and from every broker's own log files, and hands the whole
// history to brokerd/internal/checker.
//
// What a passing run shows:
//   - No acknowledged write is lost, moved or duplicated, on any replica;
//     every replica holds the same records below the high watermark.
//   - No consumer saw a record that later disappeared (nothing above the
//     high watermark was served), and consumers saw one total order.
//   - While only one broker is alive, so every partition is below
//     min.insync.replicas, no write sent in that time is acknowledged.
//   - A leader paused past its session lease acknowledges nothing after
//     it wakes (its acks would be lost writes).
//   - A leader cut off from its peers but not from DynamoDB (fault e)
//     keeps its lease; no write sent to it during the cut is acknowledged
//     before the heal while it keeps its leader epoch (no follower can
//     have it, and min.insync.replicas=2).
//   - A leader isolated from everything (fault f) is replaced once its
//     lease lapses, and after the heal it rejoins with a log that agrees
//     with the new leader's (any divergent tail truncated).
//
// It also measures failover: the time from each leader's kill or pause
// (or isolation) until a surviving broker's metadata names a new leader,
// and until the first acks=all write to that partition succeeds; for a
// cut leader, how long until its ISRs shrink and, after the heal, until
// every ISR is full again.
//
// KAFKI_CHAOS_NETNS=0 leaves the network faults out.
//
// The default run (one round of faults) takes about 20 s on two cores,
// about 30 s with the network faults. KAFKI_CHAOS_ROUNDS=N repeats the
// fault sequence N times (make chaos runs 10, about 3 minutes without the
// network faults, about 4 with them); KAFKI_CHAOS_REPORT=path writes the failover
// samples as JSON.
package chaos
