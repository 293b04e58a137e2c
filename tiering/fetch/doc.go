// Package fetch serves reads from the remote tier: Reader.Read returns
// whole v2 batches from the remote segment holding an offset, and
// Reader.OffsetForTimestamp answers ListOffsets by timestamp, and
// Reader.TxnIndexes gives the remote segments' aborted-transactions
// indexes to a read_committed fetch.
//
// # How a read works
//
// The finished segment holding the offset is found in the metadata; its
// offset index object (fetched whole, cached) gives the position of the
// last indexed batch at or before the offset; the log object is read in
// fixed-size chunks with ranged GETs, each cached, from that position on,
// skipping batches that end before the offset and collecting whole
// batches up to maxBytes. A reader whose reads follow each other through
// an object gets the next chunks prefetched (read-ahead).
//
// # Invariants
//
//   - A reader never returns bytes from a segment whose metadata is not
//     COPY_FINISHED at the time of the read; bytes come only from that
//     segment's own objects (keys unique per upload attempt), so a
//     deleted or re-uploaded segment cannot mix into a read.
//   - Returned records are whole batches that parse and pass their CRC32C
//     (remote bytes are checked before they are served), in contiguous
//     offset order, the first one holding the requested offset; at
//     least one batch is returned whenever the segment has one, even if it
//     is larger than maxBytes (as Kafka does, so a consumer always makes
//     progress). The returned slice is the caller's.
//   - A segment deleted by retention while a read of it runs makes that
//     read ErrOffsetOutOfRange (its record left COPY_FINISHED before its
//     objects went), never a partial or mixed result.
//   - Bytes read from the store are untrusted: lengths and index entries
//     are bounds-checked against the segment's recorded size; damage is
//     ErrCorrupt, never a panic or an out-of-range read.
//   - The cache holds at most Options.CacheBytes of chunks and indexes
//     (an item larger than the budget is not cached).
//   - At most Options.MaxConcurrent object-store requests run at once;
//     callers wait for a slot with their context, read-ahead only takes a
//     free slot and never makes a caller wait. Remote reads therefore use
//     bounded resources and never block anything but their own caller.
package fetch
