// Package remote is the metadata of tiered (remote) segments: what was
// uploaded for a partition, under which object keys, in which state, and
// the leader epoch that fences writers. A Store keeps it; FileStore is
// the embedded single-node implementation; metastore.Remote keeps the same
// contract in the cluster's DynamoDB table, so that every broker sees what
// a partition's leaders committed and the leader-epoch fence holds across
// brokers.
//
// # Segment life cycle
//
//	Create ──► COPY_STARTED ──Transition──► COPY_FINISHED ──Transition──► DELETE_STARTED ──Remove──► (gone)
//	                  └──────────────Transition (sweeper)──────────────────────┘
//
// # Invariants
//
//   - Every write (Create, Transition, Remove, Fence) carries the writer's
//     leader epoch and is conditional on it: an epoch below the highest
//     one the partition has seen fails with ErrStaleEpoch and changes
//     nothing; a higher one raises the fence. A deposed leader therefore
//     cannot commit, delete or resurrect anything once its successor has
//     written once.
//   - A transition is conditional on the current state (from); a segment
//     the sweeper moved to DELETE_STARTED can never be committed by a slow
//     uploader afterwards.
//   - Committing (COPY_STARTED → COPY_FINISHED) must add offsets: the
//     segment's last offset must exceed every finished segment's last
//     offset (ErrNoProgress otherwise). So a partition's finished segments,
//     ordered by base offset, have strictly increasing last offsets, and
//     every offset is served by at most one segment choice (Find).
//   - Only COPY_FINISHED segments may be served to readers; COPY_STARTED
//     segments may be incomplete, DELETE_STARTED ones partly deleted.
//   - Objects of a segment live under ObjectKey(tp, id, kind); the id is
//     unique per upload attempt, so a retried or re-led upload never
//     overwrites objects another record refers to.
//
// # FileStore durability
//
// One JSON file per partition, replaced atomically (temporary file,
// fsync, rename, fsync of the directory) on every write before the write
// returns; the in-memory copy changes only after the file did.
package remote
