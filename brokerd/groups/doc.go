// Package groups is the consumer group coordinator of the classic group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and the keeper of
// committed offsets (OffsetCommit, OffsetFetch, OffsetDelete,
// DeleteGroups), with group state made durable in the internal topic
// __consumer_offsets.
//
// # Structure
//
// Every group belongs to one partition of __consumer_offsets, chosen as
// Kafka does: abs(javaStringHashCode(groupId)) % partitions (PartitionFor),
// so that a later cluster can move a group's coordinator with that
// partition's leadership. Each partition is a shard: one mutex guards the
// state of its groups and serializes its appends, so the log holds the
// shard's records in the order they were applied in memory. An offset
// commit is the one write that waits for the in-sync replicas without the
// mutex (the shard's other groups go on meanwhile): it is written under
// the mutex, and applied under it again once committed, only for the keys
// no later write touched (the shard numbers its writes); deletes
// tombstone the keys such commits have in flight, and a snapshot writes
// the newest in-flight value of a key, so memory still ends as a replay
// of the log would, and snapshots go on under commits that always overlap.
//
// The core is a state machine driven from outside: it reads time only from
// the injected Clock, starts no timers, and does I/O only through the Log
// interface. Deadlines (session timeouts, rebalance timeouts, the initial
// rebalance delay, pending member ids) are checked by Tick; Run calls Tick
// and ExpireOffsets periodically in production, tests call them with a
// fake clock. JoinGroup and SyncGroup block their caller on a channel that
// a later request or Tick answers.
//
// The logs are opened lazily (New takes an opener): Kafka creates
// __consumer_offsets on the first FindCoordinator, and so does the broker
// here; if the topic exists at start the broker loads it at once.
//
// # Clustered mode
//
// With Config.Clustered a shard is served only while this broker leads
// its partition, as Kafka moves a group's coordinator with the leadership
// of its __consumer_offsets partition. Opening leaves every shard
// inactive; SetLeadership(p, true) replays p's log into fresh state
// (requests answer COORDINATOR_LOAD_IN_PROGRESS meanwhile) and activates
// the shard; SetLeadership(p, false) answers the shard's waiting joins and
// syncs with NOT_COORDINATOR and drops its groups. An inactive shard holds
// no groups, so every request for them answers NOT_COORDINATOR, ListGroups
// omits them and Tick and ExpireOffsets have nothing to act on. The log
// a new leader replays is the one the partition's replicas converge on,
// so it holds every acknowledged write of the previous leader: an append
// returns only once the in-sync replicas have it (Log.Append).
//
// # Invariants
//
//   - A group's state is one of Empty, PreparingRebalance,
//     CompletingRebalance, Stable (Dead groups are removed from the map).
//     Empty ⇔ no members. CompletingRebalance and Stable ⇒ the leader is a
//     member and every member was part of the current generation.
//   - A member has a join waiter only in PreparingRebalance, and a sync
//     waiter only in CompletingRebalance; every waiter is answered exactly
//     once (buffered channels of size one, never blocking the shard).
//   - Offsets and group metadata are appended to the shard's log, and
//     committed by its in-sync replicas, before they change memory, and a
//     request is acknowledged only after both: a commit that was answered
//     survives a restart or a failover. A failed append changes nothing in
//     memory (its records may still reach the log, as a timed-out produce
//     may; a later load then sees them, and the client has retried).
//   - A shard holds groups only while active (always, on a single node).
//   - A request refused with an error changes no state.
//   - Deletes (DeleteGroups, OffsetDelete, expiry) are tombstones: a record
//     with the key and a null value.
//
// # Bounded load time: snapshots, not compaction
//
// Replaying a partition from its start would read every commit ever made.
// Instead of a log cleaner that rewrites segments (compaction), a shard
// writes a snapshot: when the records in its log exceed twice the live
// keys plus Config.SnapshotMinRecords, it rolls the log, appends the
// current value of every live key (group metadata and offsets) and then
// deletes every segment before the roll point. The snapshot is ordinary
// records in Kafka's formats, so the loader needs no special case, a
// follower replicating the partition replicates the snapshot too, and a
// crash in the middle only leaves the old segments plus a partial copy of
// the current values, which replays to the same state. Load therefore
// reads O(live keys + SnapshotMinRecords) records whatever the number of
// commits, and the amortized cost of a snapshot is O(1) per record
// appended. Compaction would need a cleaner thread, segment rewriting and
// swap logic in storage for the same bound.
//
// # Transactional offsets
//
// TxnOffsetCommit (a transactional producer committing its consumer's
// offsets, KIP-98/KIP-447) appends the offsets as a transactional batch
// of the producer (its id and epoch set, no sequence) and keeps them in
// the group as that producer's pending offsets: OffsetFetch does not
// return them (it reports the partition unstable, for require_stable),
// until the transaction's marker on the partition. The transaction
// coordinator ends the transaction through WriteTxnMarker, which appends
// the COMMIT or ABORT control batch and, under the same shard lock,
// makes the producer's pending offsets the groups' offsets or drops them.
// Load replays the same way: a transactional batch is pending for its
// producer until a control batch of that producer follows; one with no
// marker yet stays pending (the coordinator, reloading its state, writes
// the marker again). TxnOffsetCommit verifies with the transaction
// coordinator that the group's partition is in the producer's open
// transaction (KIP-890 part 1), under the shard's lock, so no pending
// offsets are written that no marker will end: a marker of the producer
// cannot fall between the check and the write.
//
// At the COMMIT the pending offsets replace the committed ones whatever
// was committed in between (Kafka keeps a plain commit written after the
// transactional one instead); a group mixing both for one partition
// inside a transaction is not a pattern any client uses.
//
// Invariants added:
//
//   - The producer ids with pending offsets in a shard's groups are
//     exactly those whose transactional batches in the log have no
//     marker after them (memory is a replay of the log). A
//     TxnOffsetCommit is written and committed under the shard's lock
//     (unlike OffsetCommit), and WriteTxnMarker takes it too, so no
//     marker falls between a commit's write and its pending offsets.
//   - A snapshot never drops the first batch of an open transaction: it
//     deletes only the segments before the oldest such batch (or its own
//     start, whichever is lower). The kept tail replays to the same state
//     before the snapshot rewrites every live key, so the pending offsets
//     survive and nothing is applied early. The tail is not counted
//     against the snapshot bound; transactions' timeouts bound it.
//   - DeleteGroups answers NON_EMPTY_GROUP for a group a transaction
//     holds pending offsets of, and expiry skips it: the COMMIT would
//     otherwise find no group for them. OffsetDelete removes the visible
//     offset only; a pending one still applies at the COMMIT.
//
// # Expiry
//
// ExpireOffsets removes (with tombstones) the offsets of topics that no
// longer exist, the offsets of groups that have been Empty for
// offsets.retention, and the offsets of groups without group management
// (simple commits) whose commit is older than offsets.retention. An Empty
// group left without offsets is deleted.
package groups
