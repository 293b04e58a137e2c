// Package storage is the durable log of one partition: Kafka v2 record
// batches, stored exactly as the broker validated them, in segments.
//
// # Files
//
// A log directory holds, per segment, files named by the segment's base
// offset (the first offset it holds):
//
//	00000000000000000000.log        batches, back to back
//	00000000000000000000.index      8-byte entries: relative offset, position
//	00000000000000000000.timeindex  12-byte entries: timestamp, relative offset
//	00000000000000000000.snapshot   idempotent producer state before this offset
//	00000000000000000000.txnindex   aborted transactions whose marker is here
//
// plus "recovery-point" (an offset below which everything is fsynced),
// "clean-shutdown" (present only between Close and the next Open),
// "log-start-offset" (the logical log start, see below) and, once a
// compacted log was cleaned, "cleaner-offset" (see Compaction). During a
// clean, "<base>.log.cleaned" (and .index.cleaned, .timeindex.cleaned)
// hold a segment's replacement and "<base>.swap" commits it.
//
// # Log start
//
// LogStartOffset is logical, as Kafka's logStartOffset: AdvanceLogStart
// (DeleteRecords, and followers following their leader) may put it inside
// the first segment, even inside a batch. Reads below it fail with
// ErrOffsetOutOfRange; a read at it returns the batch containing it, as
// in Kafka (clients skip the earlier records). It is checkpointed before
// the advance is visible, and a segment is deleted only once it lies
// entirely below it. Retention and DeleteRecordsBefore set it to the
// larger of the first segment's base and the logical start; recovery
// takes the larger of the first segment's base and the checkpoint (a
// corrupt checkpoint, or one beyond the log end, is ignored and logged);
// truncations below it lower it. Producer state follows the segments,
// not the logical start.
//
// # Invariants
//
//   - The first segment's base <= LogStartOffset <= LogEndOffset.
//   - Offsets increase strictly from batch to batch, and every segment's
//     base offset is the previous segment's end. They are contiguous from
//     LogStartOffset to LogEndOffset-1 except below the cleaner
//     checkpoint's gap bound, where compaction removed records (and
//     where a compacted follower copied its leader's gaps), and where
//     damage found below the recovery point was cut. Read at an offset in
//     a gap returns the next batch, as Kafka does.
//   - Every byte of a segment up to its recorded size is a whole batch that
//     passed validation; the log never exposes bytes of a failed write.
//   - The offset index maps a batch's base offset to its position, one
//     entry per about Config.IndexIntervalBytes. A time index entry (T, o)
//     says the largest timestamp of the segment's batches up to and
//     including the batch at o is T; T strictly increases.
//   - The active segment's index lives in memory; it is written, with the
//     segment's data fsynced and a producer snapshot at its end, when the
//     next sync after its roll seals it. Recovery always rebuilds the
//     index of the segment holding the recovery point and of later ones.
//   - An I/O error on write or fsync takes the log offline: Append then
//     always fails with ErrStorage, reads keep working, and nothing more
//     is written until the log is reopened (which recovers it).
//
// # Durability of an acknowledged write
//
// Append returns after one write(2): the batch is in the page cache and
// survives a crash of the broker process, but not of the machine, until
// it is fsynced. What forces the fsync:
//
//   - AppendOptions.Sync, or Log.Sync after the append: the batch and
//     everything before it are on disk when the call returns nil
//     (fsync-on-ack). Concurrent syncs share fsyncs.
//   - FlushPolicy.Bytes: the Append that brings the unflushed bytes to
//     the limit fsyncs before it returns; an acknowledged write may be
//     lost to a machine crash only if fewer than Bytes bytes were
//     appended after it.
//   - FlushPolicy.Interval: Maintain fsyncs when the last fsync is older
//     than Interval; a machine crash may lose about Interval plus the
//     Maintain period of acknowledged writes.
//   - With neither, data reaches disk when the kernel writes it back, at
//     a roll (the sealed segment is fsynced by the next Maintain or sync)
//     and at Close. Replication, not fsync, is then what protects
//     acknowledged writes, as in Kafka's default configuration.
//
// A failed fsync returns an error wrapping ErrStorage, so the write is
// not acknowledged, and takes the log offline.
//
// # Recovery
//
// Open trusts the segments below the recovery point (checking their index
// files and rebuilding damaged ones), validates every batch from the start
// of the segment holding the recovery point (framing, CRC32C, contiguous
// offsets), truncates at the first torn, corrupt, zero-filled or
// out-of-sequence batch and deletes later segments, logging what it cut.
// It then loads the newest usable producer snapshot and replays the batch
// headers after it. Open always validates from the recovery point, even
// after a clean shutdown, so garbage appended to a closed log is cut.
//
// # Idempotent producers
//
// For batches with a producer id, the log keeps per producer the epoch
// and the last five batches' sequence ranges and offsets. A retry of one
// of them is answered with the original offsets (AppendResult.Duplicate);
// a gap in sequence numbers fails with ErrOutOfOrderSequence; an older
// epoch with ErrInvalidProducerEpoch; a newer epoch must start at
// sequence 0. A producer the log does not know (new, expired after
// Options.ProducerExpiration, or lost with deleted segments) is accepted
// at any sequence, as Kafka has done since 2.5 (KIP-360).
//
// # Transactions
//
// Transactional batches (attribute bit) open a transaction of their
// producer in the partition; a control batch (a COMMIT or ABORT marker,
// written by the broker, batch.BuildMarker) closes it. Producer state
// keeps each open transaction's first offset (snapshot format KPS2; KPS1
// snapshots are still read); FirstUnstableOffset is the smallest, and
// the last stable offset is min(it, high watermark). A producer with an
// open transaction never expires. A marker of an older epoch fails with
// ErrInvalidProducerEpoch; a marker of a newer epoch (KIP-890 part 2)
// starts that epoch; a non-transactional batch of a producer inside a
// transaction fails with ErrInvalidTxnState.
//
// Each ABORT marker that closes a transaction adds an AbortedTxn to its
// segment's list (Kafka's .txnindex entry: producer id, first offset,
// marker offset, LSO after the abort), written as <base>.txnindex at
// seal; AbortedTxns answers the aborted transactions overlapping a fetch
// range. Recovery loads the files of trusted segments (missing = empty)
// and rebuilds the lists of validated segments holding markers, and of
// trusted segments with a damaged file, by replaying producer state
// from a snapshot at or before the first of them. TruncateTo drops
// entries of cut markers. Compaction refuses a log with transactional
// data (Clean does nothing for it).
//
// # Tiered storage
//
// With Config.RemoteStorage, retention uses local.retention.* and deletes
// a segment only when MarkUploaded covers all of it: a segment whose data
// the remote tier does not hold is never deleted locally, whatever its
// age or size (see tiered.go). Without it, MarkUploaded has no effect and
// retention is exactly retention.*. Options.OnSealed learns of each
// segment once its seal is durable; SealedSegments lists them again (after
// a restart, or a failed upload).
//
// # Compaction
//
// With Config.Compact (cleanup.policy=compact), Clean (clean.go; package
// cleaner calls it) rewrites closed segments keeping the last record of
// each key, as Kafka's LogCleaner does:
//
//   - Only segments that are closed, fsynced with their indexes (below
//     the in-memory recovery point) and whose records are all older than
//     MinCompactionLag are touched; the active segment never is.
//   - A pass maps key MD5 -> last offset over the dirty section (from the
//     first dirty offset, persisted in cleaner-offset), at most
//     CleanOptions.MaxKeys keys, stopping at a batch boundary; then it
//     rewrites every segment from the log start to the end of the mapped
//     part, in groups that fit one segment (so segments merge as they
//     shrink). A record is dropped when the map has a later offset for its
//     key, when it has no key, or when it is a tombstone whose batch's
//     delete horizon (KIP-534: stamped as now+DeleteRetention the first
//     time a clean keeps it) has passed.
//   - Kept batches keep base offset, last offset delta, leader epoch,
//     producer id, epoch and base sequence and codec (max timestamp is
//     recomputed from the kept records);
//     unchanged batches are copied byte for byte. The last batch of each
//     producer the log knows is kept even when emptied (header only), so
//     producer state rebuilt from the log keeps its sequence. Control
//     batches are kept.
//   - Swap, per group: the .cleaned files are written and fsynced; the
//     gap bound and the recovery point are made durable beyond the group;
//     "<base>.swap" (end offset, CRC) is written atomically: the commit
//     point. Then the group's other segments are deleted, the .cleaned
//     files renamed over base's, the directory fsynced, the marker
//     removed. Open first finishes any swap whose marker decodes (deletes
//     the other segments in (base, end), renames what .cleaned files
//     remain)
//     and deletes every other .cleaned file and undecodable marker, so a
//     crash anywhere leaves the old segments or the new ones, never both
//     and never neither.
//   - A pass works on views of the segments taken under the lock and
//     checks, under both locks at each swap, that the group is still what
//     it read (retention, a truncation or Close in between abandon it).
//     Reads and appends continue during a pass, except during a swap's
//     renames.
//   - Recovery accepts offset gaps below the gap bound; an unreadable
//     cleaner-offset makes it accept them everywhere (and the next clean
//     start from the log start) rather than cut cleaned data.
//
// # Follower replicas
//
// A follower appends the leader's batches unchanged with AppendReplica
// (offsets must continue the log: ErrOffsetMismatch otherwise, except that
// a compacted log accepts a batch that starts after a gap, raising the
// gap bound first; a trailing partial batch is dropped), which updates producer state and the
// leader-epoch history as Append does. TruncateTo cuts the log back at a
// batch boundary (KIP-101): later segments are deleted, the cut segment
// becomes active, and epochs, producer state, snapshots and the recovery
// point follow the new end. TruncateFullyAndStartAt restarts an empty
// log at any offset. Both are durable when they return.
//
// # Concurrency
//
// One RWMutex guards the log's state: Append holds it for one write(2),
// Read for one pread (rarely two). Fsyncs run outside it, serialized by a
// second mutex, so reads and appends continue during an fsync. The rare
// truncations hold both for their whole work, so a Read sees the log
// either before or after one.
package storage
