package topics

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/storage"
)

// Errors of the produce path beyond those of batch and storage.
var (
	// ErrMessageTooLarge: a batch exceeds max.message.bytes (MESSAGE_TOO_LARGE).
	ErrMessageTooLarge = errors.New("record batch larger than max.message.bytes")
	// ErrTransactional: transactional and control batches need the
	// transaction coordinator, which Kafki does not have yet (INVALID_RECORD).
	ErrTransactional = errors.New("transactional record batches are not supported yet")
)

// Partition is one partition of a topic on this broker.
type Partition struct {
	Topic string
	Index int32

	log      *storage.Log
	settings *atomic.Pointer[Settings] // shared with the topic
	mgr      *Manager

	remoteMu    sync.Mutex
	remoteCalls map[int64]*remoteCall // in-flight remote reads by offset; guarded by remoteMu
}

// Log exposes the partition's log for reads and offsets.
func (p *Partition) Log() *storage.Log { return p.log }

// Settings returns the topic's effective settings.
func (p *Partition) Settings() *Settings { return p.settings.Load() }

// HighWatermark is the offset below which records are committed and
// visible to consumers. On a single node every appended record is
// committed, so it is the log end offset.
func (p *Partition) HighWatermark() int64 { return p.log.LogEndOffset() }

// AppendResult describes the outcome of appending a produce record set.
type AppendResult struct {
	BaseOffset     int64 // offset of the first record of the set
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	Records        int64 // records appended (duplicates excluded)
}

// Append validates every batch of a produce record set, then appends them
// in order. Nothing is appended unless every batch is valid. With sync the
// log is fsynced before Append returns.
func (p *Partition) Append(records []byte, sync bool) (AppendResult, error) {
	res := AppendResult{BaseOffset: -1, LogAppendTime: -1}
	s := p.settings.Load()
	batches, err := batch.Split(records)
	if err != nil {
		return res, err
	}
	headers := make([]batch.Header, len(batches))
	for i, b := range batches {
		if len(b) > int(s.MaxMessageBytes) {
			return res, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(b), s.MaxMessageBytes)
		}
		h, err := batch.Validate(b, batch.ValidateOptions{})
		if err != nil {
			return res, err
		}
		if h.IsTransactional() || h.IsControl() {
			return res, ErrTransactional
		}
		headers[i] = h
	}
	opts := storage.AppendOptions{LogAppendTime: s.TimestampType == "LogAppendTime"}
	var bytes int
	for i, b := range batches {
		r, err := p.log.Append(b, opts)
		if err != nil {
			return res, err
		}
		if i == 0 {
			res.BaseOffset = r.BaseOffset
			res.LogAppendTime = r.LogAppendTime
		}
		res.LogStartOffset = r.LogStartOffset
		if !r.Duplicate {
			res.Records += int64(headers[i].RecordCount)
			bytes += len(b)
		}
	}
	// One fsync for the whole set, also when every batch was a duplicate:
	// the original may have been acknowledged with acks=1, unsynced.
	if sync {
		if err := p.log.Sync(); err != nil {
			return res, err
		}
	}
	if hook := p.mgr.appendHook; hook != nil && res.Records > 0 {
		hook(p.Topic, res.Records, bytes)
	}
	return res, nil
}
