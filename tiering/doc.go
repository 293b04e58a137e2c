// Package tiering is the broker's narrow interface to tiered storage:
// a Tier seals local segments into an object store (OnSegmentSealed),
// serves reads below the local log start from it (ReadRemote,
// OffsetForTimestamp, RemoteBounds), and deletes from it (ApplyRetention,
// Sweep). The work is done by the sub-packages:
//
//   - objstore: the object store (local directory or S3),
//   - remote: remote segment metadata and its epoch-fenced store,
//   - upload: sealing a segment (objects first, metadata commit last),
//   - fetch: remote reads through a byte-bounded cache with read-ahead,
//   - cleanup: retention and the sweeper (crash-safe delete order),
//   - audit: read-only checks of objects against metadata (tier verify),
//   - mototest: moto_server for tests of any package.
//
// # The caller's obligations (brokerd)
//
//  1. Call OnSegmentSealed, as partition leader with its current leader
//     epoch, for each rolled segment of a topic with remote.storage.enable,
//     in offset order; delete the local copy (per local.retention.*) only
//     after it returned nil or an error wrapping remote.ErrNoProgress.
//  2. Serve a fetch below the local log start offset with ReadRemote, from
//     a goroutine other than the one serving the hot tail (ReadRemote may
//     wait for the object store; its concurrency is bounded inside).
//  3. Report the log start offset as RemoteBounds' start when the remote
//     tier holds data, else the local one; map fetch.ErrOffsetOutOfRange
//     below it to OFFSET_OUT_OF_RANGE.
//  4. Periodically, as leader: ApplyRetention with the topic's
//     retention.ms/bytes and the local bytes above the remote tier, and
//     Sweep.
//  5. Stop all of this for a partition on remote.ErrStaleEpoch: another
//     broker leads it now.
//
// # Invariants
//
// Those of the sub-packages; chiefly: metadata is committed only after
// every object of the segment is durably stored; a reader never returns
// bytes from a segment whose metadata is not COPY_FINISHED; a segment's
// deletion marks its metadata first, deletes objects next and removes the
// metadata last, so a crash at any point leaves something Sweep finishes.
package tiering
