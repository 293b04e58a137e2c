// Package follower is the follower's side of partition replication: it
// copies the logs of the partitions this broker follows from their
// leaders, as Kafka's replica fetcher threads do. Package node decides
// which partitions this broker follows, from which leader and at which
// leader epoch (Fetchers.Add, Remove, Retain, SetBrokers, StopAll); the
// leader answers in server/01_fetch.go, whose replica fetches move its
// replication.Leader; the log operations a follower uses are storage's
// (storage/replica.go: AppendReplica, TruncateTo,
// TruncateFullyAndStartAt, AdvanceLogStart).
//
// One fetcher runs per leader broker, with one connection (built by the
// Clients, package interbroker) and one long-polling Fetch for all the
// partitions it leads for this broker. Each partition it follows goes
// through two states:
//
//  1. Reconcile: before fetching from a new leader (or a new leader
//     epoch), and whenever the leader says this replica is ahead of it,
//     the follower asks where its latest epoch ends (OffsetForLeaderEpoch)
//     and truncates its log there.
//  2. Fetch: replica fetches from the log end offset; what comes back is
//     appended unchanged, and the leader's high watermark and log start
//     are followed.
//
// A request that fails pauses the fetcher; a partition whose answer
// carried an error is left out of the fetcher's requests for a moment.
//
// Invariants:
//   - Followers truncate to the leader's end offset for their latest
//     epoch (OffsetForLeaderEpoch, KIP-101/KIP-279) before fetching from
//     a new leader, so divergent uncommitted tails are dropped. When the
//     leader's epoch for that offset is older than the follower's, the
//     follower cuts where that older epoch ended in its own log, if that
//     is earlier; when the leader has no history at or before it, the
//     follower keeps what is committed (its high watermark).
//   - A follower appends only batches that continue its log
//     (storage.ErrOffsetMismatch sends it back to reconciling). A change
//     of a partition's fetch state (reconciled, backing off) made from an
//     answer applies only if the partition is still followed at the epoch
//     the request was made for.
//   - The follower's log start follows the leader's but never passes the
//     follower's high watermark (what is not committed may still be
//     truncated and refetched) nor, with remote storage, what the tier
//     holds (see followLogStart).
//
// # Lock order
//
// Fetchers.mu before fetcher.mu. Neither is held while a partition, a
// log or the network is called: a fetcher copies its partitions' states
// (fetcher.all) and works on the copy, and every change it makes to a
// partition's state (fetcher.update) is checked against the epoch it
// read. Fetchers.Retain calls its keep function under Fetchers.mu: keep
// must not call back into the Fetchers.
package follower
