package topics

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/storage"
)

// Errors of the produce path beyond those of batch and storage.
var (
	// ErrMessageTooLarge: a batch exceeds max.message.bytes (MESSAGE_TOO_LARGE).
	ErrMessageTooLarge = errors.New("record batch larger than max.message.bytes")
	// ErrTransactional: a client's control batch, or a transactional
	// batch the caller did not verify with the transaction coordinator
	// (INVALID_RECORD).
	ErrTransactional = errors.New("a control batch, or a transactional batch outside a verified transaction")
)

// Partition is one partition of a topic on this broker. Safe for
// concurrent use.
type Partition struct {
	// Set when the partition is opened, read-only after.
	Topic    string
	Index    int32
	log      *storage.Log              // safe for concurrent use (package storage's locks)
	settings *atomic.Pointer[Settings] // atomic; shared with the topic
	mgr      *Manager

	remoteMu    sync.Mutex
	remoteCalls map[int64]*remoteCall // in-flight remote reads by offset; guarded by remoteMu

	rep replica // role in the cluster, guarded by rep.mu; see replica.go
}

// Log exposes the partition's log for reads and offsets.
func (p *Partition) Log() *storage.Log { return p.log }

// Settings returns the topic's effective settings.
func (p *Partition) Settings() *Settings { return p.settings.Load() }

// AppendResult describes the outcome of appending a produce record set.
type AppendResult struct {
	BaseOffset     int64 // offset of the first record of the set
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	LastOffset     int64 // offset of the last record of the set
	Records        int64 // records appended (duplicates excluded)
}

// ErrBatchCount: a produce record set must hold exactly one batch (Kafka
// rejects others for produce v3+ with INVALID_RECORD).
var ErrBatchCount = errors.New("a produce request must carry exactly one record batch per partition")

// Append validates the single v2 batch of a produce record set and
// appends it. With sync the log is fsynced before Append returns, also for
// a duplicate: the original may have been acknowledged with acks=1,
// unsynced.
func (p *Partition) Append(records []byte, sync bool) (AppendResult, error) {
	return p.AppendWith(records, AppendOptions{Sync: sync})
}

// AppendOptions modify AppendWith.
type AppendOptions struct {
	// Sync fsyncs before returning.
	Sync bool
	// Transactional accepts a transactional batch: the caller verified
	// with the transaction coordinator that the producer's transaction
	// includes this partition (KIP-890 part 1). Control batches are
	// never accepted from clients (AppendMarker writes them).
	Transactional bool
	// Coordinator: the batch is the broker's own (the group
	// coordinator's transactional offsets); see
	// storage.AppendOptions.Coordinator.
	Coordinator bool
}

// AppendMarker appends a transaction marker (COMMIT or ABORT) for
// producer pid at epoch, as the leader does on WriteTxnMarkers, and
// returns its offset.
func (p *Partition) AppendMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32, sync bool) (int64, error) {
	t := batch.ControlAbort
	if commit {
		t = batch.ControlCommit
	}
	leaderEpoch, err := p.leaderEpochForAppend()
	if err != nil {
		return -1, err
	}
	b := batch.BuildMarker(pid, epoch, t, coordinatorEpoch, time.Now().UnixMilli())
	r, err := p.log.Append(b, storage.AppendOptions{LeaderEpoch: leaderEpoch, Sync: sync})
	if err != nil {
		return -1, fmt.Errorf("append marker to %s-%d: %w", p.Topic, p.Index, err)
	}
	p.appended()
	return r.BaseOffset, nil
}

// AppendWith is Append with options.
func (p *Partition) AppendWith(records []byte, opts AppendOptions) (AppendResult, error) {
	sync := opts.Sync
	res := AppendResult{BaseOffset: -1, LogAppendTime: -1}
	s := p.settings.Load()
	h, err := batch.ParseHeader(records)
	if err != nil {
		return res, err
	}
	if h.Size() != len(records) {
		// Kafka's LogValidator: exactly one batch per partition for
		// magic 2. Bytes after it that are not whole batches are
		// corruption; whole extra batches are an invalid request.
		if _, err := batch.Split(records); err != nil {
			return res, err
		}
		return res, fmt.Errorf("%w: %d bytes, the first batch is %d", ErrBatchCount, len(records), h.Size())
	}
	if len(records) > int(s.MaxMessageBytes) {
		return res, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(records), s.MaxMessageBytes)
	}
	if h, err = batch.Validate(records, batch.ValidateOptions{}); err != nil {
		return res, err
	}
	if h.IsControl() || h.IsTransactional() && !opts.Transactional {
		return res, ErrTransactional
	}
	if s.IsCompacted() {
		if err := checkKeyed(records, &h, p.Topic, p.Index); err != nil {
			return res, err
		}
	}
	epoch, err := p.leaderEpochForAppend()
	if err != nil {
		return res, err
	}
	r, err := p.log.Append(records, storage.AppendOptions{LogAppendTime: s.TimestampType == config.LogAppendTime, LeaderEpoch: epoch, Coordinator: opts.Coordinator})
	if err != nil {
		return res, err
	}
	res.LastOffset = r.LastOffset
	p.appended()
	res.BaseOffset, res.LogAppendTime, res.LogStartOffset = r.BaseOffset, r.LogAppendTime, r.LogStartOffset
	if !r.Duplicate {
		res.Records = int64(h.RecordCount)
	}
	// One fsync for the whole set, also when every batch was a duplicate:
	// the original may have been acknowledged with acks=1, unsynced.
	if sync {
		if err := p.log.Sync(); err != nil {
			return res, err
		}
	}
	if hook := p.mgr.opts.OnAppend; hook != nil && res.Records > 0 {
		hook(p.Topic, res.Records, len(records))
	}
	return res, nil
}
