// Package cleanup deletes from the remote tier: segments past retention
// (Retention), and leftovers of crashes (Sweeper): interrupted deletes,
// abandoned uploads and orphaned objects.
//
// # Invariants
//
//   - A segment is deleted in this order, each step durable before the
//     next: its record is marked DELETE_STARTED (readers stop serving it,
//     no commit can revive it), its objects are deleted, its record is
//     removed. A crash between any two steps leaves a DELETE_STARTED
//     record, which the next Sweep finishes; repeating a step is harmless
//     (object deletes are idempotent).
//   - Every metadata write carries the caller's leader epoch; a deposed
//     leader's sweep or retention fails with remote.ErrStaleEpoch and
//     deletes nothing more.
//   - The sweeper deletes an object only if no record in COPY_STARTED or
//     COPY_FINISHED names its segment id and the object is older than the
//     grace period, and abandons a COPY_STARTED record only once it is
//     older than the grace period: the grace must exceed the longest
//     upload, so an upload in flight is never swept.
//   - Retention deletes only a prefix of the finished segments (oldest
//     first), so the remote tier stays contiguous and the log start
//     offset only moves forward.
package cleanup
