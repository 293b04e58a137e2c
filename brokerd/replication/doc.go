// Package replication holds the leader's side of partition replication as
// a deterministic state machine: which offset each follower has, the high
// watermark, which followers are in sync, and the produce requests waiting
// for acks=all. It does no I/O and reads no clock: the broker feeds it
// follower fetches and the time, and acts on what it returns.
//
// Replication's other parts, each with its own package:
//   - topics.Partition (topics/replica.go) owns one Leader per leadership
//     and serialises the calls to it; the leader's answers to replica
//     fetches (server/01_fetch.go) report followers' positions to it
//     through FollowerFetch.
//   - Package replication/isr persists the ISR changes a Leader decides
//     (Laggards, FollowerFetch's expansion) in the cluster's store, a
//     shrink before it takes effect.
//   - Package replication/follower is the follower's side: fetching from
//     the leader, truncating a divergent tail first, following the
//     leader's high watermark and log start (on the log operations of
//     storage/replica.go).
//
// Following Kafka (KIP-101, KIP-279, replication design docs):
//   - A follower's log end offset (LEO) is the offset it fetches from: a
//     fetch at offset o proves it holds everything below o.
//   - The high watermark is the minimum LEO over the ISR, the leader's own
//     LEO included. It never decreases while this leader leads.
//   - A follower is caught up at time t if it fetched at or beyond the
//     leader's LEO as of its previous fetch (Kafka's lastCaughtUpTime); a
//     follower not caught up for longer than replica.lag.time.max leaves
//     the ISR, and a follower whose LEO reaches the high watermark rejoins.
//   - The ISR never shrinks below the leader itself.
//   - The low watermark is the minimum log start over the ISR, the
//     leader's own included, each follower's as its latest fetch reported
//     (Fetch v5+ LogStartOffset; unknown until its first fetch). It
//     decides when DeleteRecords is answered (Kafka's
//     DelayedDeleteRecords); it may go back when the ISR grows.
//   - An acks=all produce is answered when the high watermark passes its
//     last offset, or failed when the ISR is smaller than
//     min.insync.replicas or leadership ends.
package replication
