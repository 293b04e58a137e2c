package storage

import "errors"

// Sentinel errors. Errors returned by this package wrap them with detail;
// test with errors.Is.
var (
	// ErrOffsetOutOfRange: a read below LogStartOffset or beyond
	// LogEndOffset (Kafka's OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	// ErrOutOfOrderSequence: an idempotent producer's batch does not follow
	// its previous one (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("storage: out of order sequence number")
	// ErrInvalidProducerEpoch: a batch from a fenced (older) producer epoch
	// (INVALID_PRODUCER_EPOCH).
	ErrInvalidProducerEpoch = errors.New("storage: invalid producer epoch")
	// ErrDuplicateSequence is Kafka's DUPLICATE_SEQUENCE_NUMBER. Append does
	// not return it: a retry of one of the last five batches succeeds with
	// AppendResult.Duplicate, and an older retry is out of order, as in
	// Kafka 2.x and later. It exists so callers can map the code uniformly.
	ErrDuplicateSequence = errors.New("storage: duplicate sequence number")
	// ErrStorage: a disk I/O error or corrupt data on disk
	// (KAFKA_STORAGE_ERROR). After a failed write or fsync the log is
	// offline and every later Append returns it.
	ErrStorage = errors.New("storage: I/O error")
	// ErrClosed: the log was closed or deleted.
	ErrClosed = errors.New("storage: log closed")
	// ErrInvalidBatch: Append was given bytes that are not exactly one v2
	// batch. The broker validates batches before appending, so this is a
	// caller bug rather than a client error.
	ErrInvalidBatch = errors.New("storage: invalid record batch")
	// ErrOffsetMismatch: AppendReplica was given batches that do not
	// continue the log (the first base offset is not LogEndOffset, or a
	// batch does not follow the previous one). The follower's position
	// and the leader's answer disagree; the caller re-fetches or truncates.
	ErrOffsetMismatch = errors.New("storage: replica batch offset mismatch")
	// ErrInvalidTxnState: a non-transactional batch from a producer with
	// an open transaction in the partition (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("storage: invalid transaction state")
)
