package groups

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/topics"
)

// Log is one partition of __consumer_offsets as the coordinator uses it.
// Implementations must be safe for use by one goroutine at a time (the
// shard serializes its calls).
type Log interface {
	// Append writes a v2 record set to the log and returns how to wait
	// for it to commit: when the wait returns nil the records are as
	// durable as an acks=all produce, committed by the in-sync replicas;
	// it gives up when its ctx ends. Appends are ordered as they are
	// called; their waits may run concurrently, outside the shard's lock.
	// An error wrapping ErrNotCoordinator (from either) means this broker
	// does not lead the partition. A failed append or wait may still have
	// written (and may later commit) some records, as a timed-out produce
	// may; the coordinator then leaves memory unchanged and the client
	// retries.
	Append(records []byte) (wait func(context.Context) error, err error)
	// Read returns whole batches starting with the one containing offset,
	// at most about maxBytes (at least one batch).
	Read(offset int64, maxBytes int) ([]byte, error)
	// Start and End are the log start and end offsets.
	Start() int64
	End() int64
	// AppendMarker writes the COMMIT (commit) or ABORT marker of producer
	// pid's transaction at epoch, from the transaction coordinator of
	// coordinatorEpoch; the wait is Append's.
	AppendMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32) (wait func(context.Context) error, err error)
	// Roll makes the next append start a new segment.
	Roll() error
	// DeleteBefore drops the segments entirely below offset.
	DeleteBefore(offset int64) error
}

// Topics tells the coordinator which partitions exist, to validate commits
// and expire the offsets of deleted topics.
type Topics interface {
	// PartitionEnd reports whether the partition exists and, when this
	// broker knows the partition's log end authoritatively, that end with
	// known true. Only a standalone broker or the partition's current
	// leader knows it. A group's coordinator is placed by the group id,
	// independently of where the committed partitions live, so in a
	// cluster it usually holds no replica of them (an empty local log) or
	// follows one (a lagging log): judging a commit against such a log
	// would refuse offsets a consumer has legitimately read from the
	// leader. The coordinator therefore refuses a commit beyond the end
	// only when known is true, and otherwise stores any non-negative
	// offset, as Kafka stores any offset.
	PartitionEnd(topic string, partition int32) (end int64, known, exists bool)
}

// PartitionLog adapts a partition of the topic manager. With sync, every
// append is fsynced before it returns (log.flush.on.ack). Appends wait
// until the partition's in-sync replicas have the records.
func PartitionLog(p *topics.Partition, sync bool) Log { return partitionLog{p: p, sync: sync} }

type partitionLog struct {
	p    *topics.Partition
	sync bool
}

// Append writes the coordinator's record set, which may hold several
// batches (a snapshot of many keys), one batch at a time as the produce
// path takes them; only the last append waits for the fsync and for the
// in-sync replicas, which covers the earlier ones too. Like an acks=all
// produce it first requires min.insync.replicas in the ISR.
func (l partitionLog) Append(b []byte) (func(context.Context) error, error) {
	batches, err := batch.Split(b)
	if err != nil {
		return nil, err
	}
	if err := l.p.CanAcceptAll(); err != nil {
		return nil, notLeader(err)
	}
	last := int64(-1)
	for i, one := range batches {
		// Transactional offset commits were verified with the
		// transaction coordinator before they were built, and carry no
		// client sequence (see storage.AppendOptions.Coordinator).
		res, err := l.p.AppendWith(one, topics.AppendOptions{Sync: l.sync && i == len(batches)-1, Transactional: true, Coordinator: true})
		if err != nil {
			return nil, notLeader(err)
		}
		last = res.LastOffset
	}
	return func(ctx context.Context) error {
		if last < 0 {
			return nil
		}
		if err := l.p.AwaitCommitted(ctx, last); err != nil {
			return notLeader(fmt.Errorf("records up to offset %d not committed: %w", last, err))
		}
		return nil
	}, nil
}

// AppendMarker writes a transaction marker, fsynced with sync, and waits
// as Append does.
func (l partitionLog) AppendMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32) (func(context.Context) error, error) {
	if err := l.p.CanAcceptAll(); err != nil {
		return nil, notLeader(err)
	}
	off, err := l.p.AppendMarker(pid, epoch, commit, coordinatorEpoch, l.sync)
	if err != nil {
		return nil, notLeader(err)
	}
	return func(ctx context.Context) error {
		if err := l.p.AwaitCommitted(ctx, off); err != nil {
			return notLeader(fmt.Errorf("marker at offset %d not committed: %w", off, err))
		}
		return nil
	}, nil
}

// notLeader marks the errors that mean another broker leads (or is about
// to lead) the partition, so the coordinator answers NOT_COORDINATOR.
func notLeader(err error) error {
	if errors.Is(err, topics.ErrNotLeader) {
		return fmt.Errorf("%w: %w", ErrNotCoordinator, err)
	}
	return err
}

func (l partitionLog) Read(offset int64, maxBytes int) ([]byte, error) {
	return l.p.Log().Read(offset, maxBytes, math.MaxInt64)
}

func (l partitionLog) Start() int64                 { return l.p.Log().LogStartOffset() }
func (l partitionLog) End() int64                   { return l.p.Log().LogEndOffset() }
func (l partitionLog) Roll() error                  { return l.p.Log().Roll() }
func (l partitionLog) DeleteBefore(off int64) error { return l.p.Log().DeleteRecordsBefore(off) }

// ManagerTopics adapts the topic manager to Topics.
func ManagerTopics(m *topics.Manager) Topics { return managerTopics{m} }

type managerTopics struct{ m *topics.Manager }

// PartitionEnd gives the local log end offset where this broker is
// standalone or the partition's leader. On a leader that is the log end,
// not the high watermark: a newly elected leader's high watermark may lag
// its predecessor's until the followers fetch, while its log (an in-sync
// replica's) holds everything consumers could read from the old leader.
func (t managerTopics) PartitionEnd(topic string, partition int32) (int64, bool, bool) {
	p := t.m.Partition(topic, partition)
	if p == nil {
		return 0, false, false
	}
	switch role, _, _ := p.Role(); role {
	case topics.Standalone, topics.Leader:
		return p.Log().LogEndOffset(), true, true
	default:
		return 0, false, true
	}
}
