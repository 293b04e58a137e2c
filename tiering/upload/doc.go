// Package upload seals a local segment into the remote tier: it uploads
// the segment's files to the object store and commits their metadata,
// fenced by the leader epoch.
//
// # Protocol (Uploader.Upload)
//
//  1. Scan the log: every batch must parse, offsets must be contiguous;
//     this yields the offset range, max timestamp and CRC32C of each file.
//  2. Create the metadata record in COPY_STARTED (fenced by the epoch),
//     naming object keys unique to this attempt.
//  3. Put every object (the store uses multipart for large ones), then
//     Stat each and check its size.
//  4. Commit: COPY_STARTED → COPY_FINISHED (fenced, conditional on the
//     state, and only if the segment adds offsets).
//
// # Invariants
//
//   - Metadata is committed (COPY_FINISHED) only after every object of
//     the segment is durably stored and verified; the caller may delete
//     the local copy only after Upload returned nil.
//   - A failed Upload leaves no COPY_FINISHED metadata. It tries to
//     delete what it wrote (mark DELETE_STARTED, objects, record); what a
//     crash or a deposed leader leaves behind is a COPY_STARTED record or
//     unreferenced objects, which cleanup.Sweeper removes after its grace
//     period.
//   - A file that changes while it is uploaded (a CRC different from the
//     first pass) fails the upload instead of storing mismatched data.
package upload
